//! Replies that write themselves, per number: keyword rules (exact or contains, any case,
//! tried in the owner's order; the first that matches answers) and an away message (always,
//! outside business hours in the owner's time zone, or while do-not-disturb is on).
//!
//! Guards: an opted-out peer is never answered; the away message goes to a peer at most once
//! per [`AWAY_EVERY_MS`]; and a conversation gets at most [`MAX_AUTOMATIC_PER_HOUR`] automatic
//! texts an hour (HELP answers included), so two auto-repliers can't text each other forever.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, TimeZone, Timelike};
use sqlx::{Any, Transaction};

use crate::error::{AppError, AppResult};
use crate::server::ids::{ConversationId, MessageId, NumberId, UserId};
use crate::server::{crypto, now_ms, AppState, Db};
use crate::types::ReplyRule;

pub const MAX_RULES: usize = 20;
pub const MAX_KEYWORD_CHARS: usize = 40;
/// Two SMS segments of GSM characters.
pub const MAX_REPLY_CHARS: usize = 320;
/// A peer gets the away message at most this often (per number).
pub const AWAY_EVERY_MS: i64 = 12 * 60 * 60 * 1000;
/// Automatic texts one conversation may get per hour.
pub const MAX_AUTOMATIC_PER_HOUR: i64 = 5;
const HOUR_MS: i64 = 60 * 60 * 1000;

/// When a number's away message answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwayMode {
    Off,
    Always,
    OutsideHours,
    DoNotDisturb,
}

impl AwayMode {
    pub fn parse(s: &str) -> Option<AwayMode> {
        Some(match s {
            "off" => AwayMode::Off,
            "always" => AwayMode::Always,
            "outside_hours" => AwayMode::OutsideHours,
            "do_not_disturb" => AwayMode::DoNotDisturb,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AwayMode::Off => "off",
            AwayMode::Always => "always",
            AwayMode::OutsideHours => "outside_hours",
            AwayMode::DoNotDisturb => "do_not_disturb",
        }
    }
}

/// A number's do-not-disturb, as its `do_not_disturb` column keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoNotDisturb {
    Off,
    /// Now, until turned off.
    On,
    /// Outside the number's business hours (its weekly schedule).
    OutsideHours,
}

impl DoNotDisturb {
    pub fn from_column(value: i64) -> DoNotDisturb {
        match value {
            1 => DoNotDisturb::On,
            2 => DoNotDisturb::OutsideHours,
            _ => DoNotDisturb::Off,
        }
    }

    pub fn to_column(self) -> i64 {
        match self {
            DoNotDisturb::Off => 0,
            DoNotDisturb::On => 1,
            DoNotDisturb::OutsideHours => 2,
        }
    }

    /// Whether the number is not to be disturbed at `at_ms`, given its business hours.
    pub fn quiet_at(self, hours: &Hours, at_ms: i64) -> bool {
        match self {
            DoNotDisturb::Off => false,
            DoNotDisturb::On => true,
            DoNotDisturb::OutsideHours => !hours.open_at(at_ms),
        }
    }
}

/// Business hours: the days open (0 = Monday … 6 = Sunday), from `opens` to `closes`
/// (minutes after midnight; closing before opening spans midnight), in `zone`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hours {
    pub days: [bool; 7],
    pub opens: u32,
    pub closes: u32,
    pub zone: chrono_tz::Tz,
}

impl Hours {
    /// From a number's columns: `business_days` (a comma list, 0 = Monday), opening and
    /// closing minutes, and its time zone (UTC if it doesn't parse).
    pub fn from_columns(days: &str, opens: i64, closes: i64, zone: &str) -> Hours {
        let mut open_days = [false; 7];
        for day in days
            .split(',')
            .filter_map(|d| d.trim().parse::<usize>().ok())
        {
            if day < 7 {
                open_days[day] = true;
            }
        }
        Hours {
            days: open_days,
            opens: opens.clamp(0, 1439) as u32,
            closes: closes.clamp(0, 1439) as u32,
            zone: zone.parse().unwrap_or(chrono_tz::UTC),
        }
    }

    /// Whether the business is open at `at_ms` (unix milliseconds).
    pub fn open_at(&self, at_ms: i64) -> bool {
        let Some(utc) = chrono::Utc.timestamp_millis_opt(at_ms).single() else {
            return false;
        };
        let local = utc.with_timezone(&self.zone);
        let day = local.weekday().num_days_from_monday() as usize;
        let minute = local.hour() * 60 + local.minute();
        if self.opens <= self.closes {
            self.days[day] && (self.opens..self.closes).contains(&minute)
        } else {
            // Overnight: open from `opens` on an open day until `closes` the next morning.
            let yesterday = (day + 6) % 7;
            (self.days[day] && minute >= self.opens)
                || (self.days[yesterday] && minute < self.closes)
        }
    }
}

/// "09:30" → 570.
pub fn parse_minute(text: &str) -> AppResult<u32> {
    let bad = || AppError::invalid(format!("\u{201c}{text}\u{201d} is not a time like 09:30."));
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

pub fn minute_text(minute: i64) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// How one number answers by itself.
#[derive(Debug, Clone)]
pub struct Replier {
    pub rules: Vec<ReplyRule>,
    pub away: AwayMode,
    pub away_text: String,
    pub hours: Hours,
    pub do_not_disturb: DoNotDisturb,
}

/// What answers a text, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Rule number `rule` (from 1, in order) matched.
    Rule {
        rule: usize,
        text: String,
    },
    Away {
        text: String,
    },
}

impl Answer {
    pub fn text(&self) -> &str {
        match self {
            Answer::Rule { text, .. } | Answer::Away { text } => text,
        }
    }
}

/// Whether `body` matches `rule` (any case; exact ignores surrounding spaces and
/// punctuation, as the STOP keywords do).
pub fn matches(rule: &ReplyRule, body: &str) -> bool {
    let keyword = rule.keyword.trim().to_lowercase();
    if keyword.is_empty() {
        return false;
    }
    let body = body.to_lowercase();
    match rule.matching.as_str() {
        "exact" => {
            body.trim()
                .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
                == keyword
        }
        _ => body.contains(&keyword),
    }
}

impl Replier {
    /// What would answer `body` at `at_ms`: the first rule that matches, else the away
    /// message if the number is away. (The guards against loops and opt-outs come after.)
    pub fn answer(&self, body: &str, at_ms: i64) -> Option<Answer> {
        if let Some((i, rule)) = self
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| matches(r, body))
        {
            return Some(Answer::Rule {
                rule: i + 1,
                text: rule.reply.clone(),
            });
        }
        let away = match self.away {
            AwayMode::Off => false,
            AwayMode::Always => true,
            AwayMode::OutsideHours => !self.hours.open_at(at_ms),
            AwayMode::DoNotDisturb => self.do_not_disturb.quiet_at(&self.hours, at_ms),
        };
        (away && !self.away_text.trim().is_empty()).then(|| Answer::Away {
            text: self.away_text.clone(),
        })
    }

    /// Nothing to do for this number: no rules and no away message.
    pub fn is_idle(&self) -> bool {
        self.rules.is_empty() && self.away == AwayMode::Off
    }
}

/// A number's replier settings as [`REPLIER_COLUMNS`] reads them (its id first).
pub type ReplierRow = (String, String, String, String, i64, i64, String, i64);

/// Builds a replier (without its rules) from its row.
pub fn replier_from(row: ReplierRow) -> (NumberId, Replier) {
    let (number_id, away, away_text, days, opens, closes, zone, dnd) = row;
    (
        NumberId::new(number_id),
        Replier {
            rules: Vec::new(),
            away: AwayMode::parse(&away).unwrap_or(AwayMode::Off),
            away_text,
            hours: Hours::from_columns(&days, opens, closes, &zone),
            do_not_disturb: DoNotDisturb::from_column(dnd),
        },
    )
}

/// The columns of `phone_numbers` a [`ReplierRow`] reads, and (last) how many keyword
/// rules the number has: ingest reads them with the numbers' owners, in the same statement.
pub const REPLIER_COLUMNS: &str = "id, away_mode, away_text, business_days, opens_minute, \
     closes_minute, time_zone, do_not_disturb, \
     (SELECT COUNT(*) FROM reply_rules r WHERE r.number_id = phone_numbers.id)";

/// The repliers of `numbers` that have anything to do, in two statements however many.
pub async fn load(
    tx: &mut Transaction<'_, Any>,
    numbers: &[&NumberId],
) -> AppResult<HashMap<NumberId, Replier>> {
    if numbers.is_empty() {
        return Ok(HashMap::new());
    }
    let list = crate::server::db::placeholders(1, numbers.len());
    let sql = format!("SELECT {REPLIER_COLUMNS} FROM phone_numbers WHERE id IN ({list})");
    let mut query = sqlx::query_as(&sql);
    for n in numbers {
        query = query.bind(*n);
    }
    type Row = (String, String, String, String, i64, i64, String, i64, i64);
    let rows: Vec<Row> = query.fetch_all(&mut **tx).await?;
    let mut repliers = HashMap::new();
    let mut with_rules = Vec::new();
    for (id, away, text, days, opens, closes, zone, dnd, rules) in rows {
        let (number_id, replier) = replier_from((id, away, text, days, opens, closes, zone, dnd));
        if rules > 0 {
            with_rules.push(number_id.clone());
        }
        repliers.insert(number_id, replier);
    }
    add_rules(tx, &mut repliers, &with_rules).await?;
    Ok(repliers)
}

/// Reads the keyword rules of `numbers` into their repliers (in the owner's order), then
/// drops the repliers that have nothing to do. One statement, none when no number has rules.
pub async fn add_rules(
    tx: &mut Transaction<'_, Any>,
    repliers: &mut HashMap<NumberId, Replier>,
    numbers: &[NumberId],
) -> AppResult<()> {
    if !numbers.is_empty() {
        let sql = format!(
            "SELECT number_id, matching, keyword, reply FROM reply_rules WHERE number_id IN ({})
             ORDER BY number_id, position",
            crate::server::db::placeholders(1, numbers.len())
        );
        let mut query = sqlx::query_as(&sql);
        for n in numbers {
            query = query.bind(n);
        }
        let rules: Vec<(NumberId, String, String, String)> = query.fetch_all(&mut **tx).await?;
        for (number_id, matching, keyword, reply) in rules {
            if let Some(replier) = repliers.get_mut(&number_id) {
                replier.rules.push(ReplyRule {
                    matching,
                    keyword,
                    reply,
                });
            }
        }
    }
    repliers.retain(|_, r| !r.is_idle());
    Ok(())
}

/// The guards' view of the conversations a group of inbound texts may answer, read in one
/// statement for the whole group (per-text queries made ingest with an away message run at
/// 41 % of plain ingest), then kept up to date in memory as the group answers, opts out or
/// opts in, so two texts from one peer in one group are guarded like two in a row.
#[derive(Debug, Default)]
pub struct Guard {
    /// (number, peer) pairs that opted out.
    opted_out: HashSet<(NumberId, String)>,
    /// Per conversation: automatic texts in the last hour, and whether the away message
    /// went out within [`AWAY_EVERY_MS`].
    recent: HashMap<ConversationId, (i64, bool)>,
}

/// A conversation the guard is asked about: its id, its number and its peer.
pub struct Guarded<'a> {
    pub conversation_id: &'a ConversationId,
    pub number_id: &'a NumberId,
    pub peer: &'a str,
}

impl Guard {
    /// Reads what the guards need for `conversations` (those of numbers with a replier).
    pub async fn load(
        tx: &mut Transaction<'_, Any>,
        conversations: &[Guarded<'_>],
        now: i64,
    ) -> AppResult<Guard> {
        let mut guard = Guard::default();
        if conversations.is_empty() {
            return Ok(guard);
        }
        // One statement: opt-outs of the pairs' numbers and peers (a superset of the pairs),
        // and per conversation the automatic texts of the last AWAY_EVERY_MS — those of the
        // last hour counted, and whether one was the number's (current) away message.
        let mut numbers: Vec<&NumberId> = conversations.iter().map(|c| c.number_id).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let mut peers: Vec<&str> = conversations.iter().map(|c| c.peer).collect();
        peers.sort_unstable();
        peers.dedup();
        let mut ids: Vec<&ConversationId> =
            conversations.iter().map(|c| c.conversation_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let (first_number, first_peer, first_id) =
            (3, 3 + numbers.len(), 3 + numbers.len() + peers.len());
        let sql = format!(
            "SELECT 'opted_out', number_id, peer, CAST(0 AS BIGINT), CAST(0 AS BIGINT) FROM opt_outs
             WHERE number_id IN ({}) AND peer IN ({})
             UNION ALL
             SELECT 'automatic', m.conversation_id, '',
                    CAST(SUM(CASE WHEN m.created_at > $1 THEN 1 ELSE 0 END) AS BIGINT),
                    CAST(SUM(CASE WHEN m.body = p.away_text THEN 1 ELSE 0 END) AS BIGINT)
             FROM messages m
             JOIN conversations c ON c.id = m.conversation_id
             JOIN phone_numbers p ON p.id = c.number_id
             WHERE m.conversation_id IN ({}) AND m.direction = 'out' AND m.automatic = 1
               AND m.created_at > $2
             GROUP BY m.conversation_id",
            crate::server::db::placeholders(first_number, numbers.len()),
            crate::server::db::placeholders(first_peer, peers.len()),
            crate::server::db::placeholders(first_id, ids.len()),
        );
        let mut query = sqlx::query_as(&sql)
            .bind(now - HOUR_MS)
            .bind(now - AWAY_EVERY_MS);
        for number in &numbers {
            query = query.bind(*number);
        }
        for peer in &peers {
            query = query.bind(*peer);
        }
        for id in &ids {
            query = query.bind(*id);
        }
        let rows: Vec<(String, String, String, i64, i64)> = query.fetch_all(&mut **tx).await?;
        for (kind, key, peer, last_hour, away) in rows {
            if kind == "opted_out" {
                guard.opted_out.insert((NumberId::new(key), peer));
            } else {
                guard
                    .recent
                    .insert(ConversationId::new(key), (last_hour, away > 0));
            }
        }
        Ok(guard)
    }

    /// Whether `answer` may go to this conversation now: never to an opted-out peer, at most
    /// [`MAX_AUTOMATIC_PER_HOUR`] automatic texts an hour, the away message once per
    /// [`AWAY_EVERY_MS`].
    pub fn allows(&self, to: &Guarded<'_>, answer: &Answer) -> bool {
        if self
            .opted_out
            .contains(&(to.number_id.clone(), to.peer.to_string()))
        {
            return false;
        }
        let (last_hour, away_lately) = self
            .recent
            .get(to.conversation_id)
            .copied()
            .unwrap_or_default();
        last_hour < MAX_AUTOMATIC_PER_HOUR
            && !(away_lately && matches!(answer, Answer::Away { .. }))
    }

    /// Counts an automatic text queued to this conversation (`away`: it was the away message).
    pub fn sent(&mut self, conversation_id: &ConversationId, away: bool) {
        let entry = self.recent.entry(conversation_id.clone()).or_default();
        entry.0 += 1;
        entry.1 |= away;
    }

    /// A peer texted STOP (or START) in this group.
    pub fn set_opted_out(&mut self, number_id: &NumberId, peer: &str, opted_out: bool) {
        let pair = (number_id.clone(), peer.to_string());
        if opted_out {
            self.opted_out.insert(pair);
        } else {
            self.opted_out.remove(&pair);
        }
    }
}

/// Marks a queued text as sent by Switchboard itself.
pub async fn mark_automatic(
    tx: &mut Transaction<'_, Any>,
    message_id: &MessageId,
) -> AppResult<()> {
    sqlx::query("UPDATE messages SET automatic = 1 WHERE id = $1")
        .bind(message_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn check_rules(rules: &[ReplyRule]) -> AppResult<()> {
    if rules.len() > MAX_RULES {
        return Err(AppError::invalid(format!(
            "A number can have at most {MAX_RULES} keyword rules."
        )));
    }
    for (i, rule) in rules.iter().enumerate() {
        let n = i + 1;
        if rule.matching != "exact" && rule.matching != "contains" {
            return Err(AppError::invalid(format!(
                "Rule {n}: choose \u{201c}is\u{201d} or \u{201c}contains\u{201d}."
            )));
        }
        let keyword = rule.keyword.trim();
        if keyword.is_empty() || rule.reply.trim().is_empty() {
            return Err(AppError::invalid(format!(
                "Rule {n}: give it a keyword and a reply."
            )));
        }
        if keyword.chars().count() > MAX_KEYWORD_CHARS {
            return Err(AppError::invalid(format!(
                "Rule {n}: a keyword can be at most {MAX_KEYWORD_CHARS} characters."
            )));
        }
        if rule.reply.trim().chars().count() > MAX_REPLY_CHARS {
            return Err(AppError::invalid(format!(
                "Rule {n}: a reply can be at most {MAX_REPLY_CHARS} characters."
            )));
        }
        if super::opt_out::keyword(keyword).is_some() {
            return Err(AppError::invalid(format!(
                "Rule {n}: STOP, START and HELP are answered by the carrier rules already."
            )));
        }
    }
    Ok(())
}

/// Replaces the user's number's keyword rules with `rules`, in that order.
pub async fn set_rules(
    state: &AppState,
    user_id: &UserId,
    number_id: &NumberId,
    rules: Vec<ReplyRule>,
) -> AppResult<()> {
    check_rules(&rules)?;
    let mut tx = state.db.begin().await?;
    let (owned,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM phone_numbers WHERE id = $1 AND user_id = $2")
            .bind(number_id)
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
    if owned == 0 {
        return Err(AppError::not_found("That number"));
    }
    sqlx::query("DELETE FROM reply_rules WHERE number_id = $1")
        .bind(number_id)
        .execute(&mut *tx)
        .await?;
    let now = now_ms();
    for (position, rule) in rules.iter().enumerate() {
        sqlx::query(
            "INSERT INTO reply_rules (id, number_id, position, matching, keyword, reply, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(crypto::new_id())
        .bind(number_id)
        .bind(position as i64)
        .bind(&rule.matching)
        .bind(rule.keyword.trim())
        .bind(rule.reply.trim())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// An away message as typed: when it answers, its words, and business hours.
pub struct AwayInput<'a> {
    pub mode: &'a str,
    pub text: &'a str,
    /// 0 = Monday … 6 = Sunday.
    pub days: &'a [i64],
    pub opens: &'a str,
    pub closes: &'a str,
    pub time_zone: &'a str,
}

pub async fn set_away(
    state: &AppState,
    user_id: &UserId,
    number_id: &NumberId,
    away: AwayInput<'_>,
) -> AppResult<()> {
    let mode = AwayMode::parse(away.mode)
        .ok_or_else(|| AppError::invalid("Choose when the away message answers."))?;
    let text = away.text.trim();
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(AppError::invalid(format!(
            "An away message can be at most {MAX_REPLY_CHARS} characters."
        )));
    }
    if mode != AwayMode::Off && text.is_empty() {
        return Err(AppError::invalid("Write the away message."));
    }
    if away.days.iter().any(|d| !(0..7).contains(d)) || away.days.len() > 7 {
        return Err(AppError::invalid("Choose the days from Monday to Sunday."));
    }
    let (opens, closes) = (parse_minute(away.opens)?, parse_minute(away.closes)?);
    if opens == closes {
        return Err(AppError::invalid(
            "Opening and closing can't be the same time.",
        ));
    }
    let zone = away.time_zone.trim();
    if zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(AppError::invalid(format!(
            "\u{201c}{zone}\u{201d} is not a time zone (like America/New_York)."
        )));
    }
    let mut days: Vec<i64> = away.days.to_vec();
    days.sort_unstable();
    days.dedup();
    let days: Vec<String> = days.iter().map(i64::to_string).collect();
    let done = sqlx::query(
        "UPDATE phone_numbers SET away_mode = $1, away_text = $2, business_days = $3,
         opens_minute = $4, closes_minute = $5, time_zone = $6 WHERE id = $7 AND user_id = $8",
    )
    .bind(mode.as_str())
    .bind(text)
    .bind(days.join(","))
    .bind(i64::from(opens))
    .bind(i64::from(closes))
    .bind(zone)
    .bind(number_id)
    .bind(user_id)
    .execute(state.db.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That number"));
    }
    Ok(())
}

/// What would answer `body` on the user's number now, in plain words (the "try it" box).
pub async fn try_text(
    db: &Db,
    user_id: &UserId,
    number_id: &NumberId,
    body: &str,
) -> AppResult<String> {
    if body.chars().count() > super::MAX_BODY_CHARS {
        return Err(AppError::invalid("That is longer than a text can be."));
    }
    let mut conn = db.pool().begin().await?;
    let (owned,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM phone_numbers WHERE id = $1 AND user_id = $2")
            .bind(number_id)
            .bind(user_id)
            .fetch_one(&mut *conn)
            .await?;
    if owned == 0 {
        return Err(AppError::not_found("That number"));
    }
    if let Some(word) = super::opt_out::keyword(body) {
        return Ok(match word {
            super::opt_out::Keyword::Stop => {
                "STOP: the sender is opted out of this number's texts.".into()
            }
            super::opt_out::Keyword::Start => "START: the sender is opted back in.".into(),
            super::opt_out::Keyword::Help => "HELP: answered with the help text.".into(),
        });
    }
    let repliers = load(&mut conn, &[number_id]).await?;
    conn.rollback().await?;
    Ok(
        match repliers
            .get(number_id)
            .and_then(|r| r.answer(body, now_ms()))
        {
            Some(Answer::Rule { rule, text }) => format!("Rule {rule} answers: {text}"),
            Some(Answer::Away { text }) => format!("The away message answers: {text}"),
            None => "Nothing answers this text.".into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(matching: &str, keyword: &str, reply: &str) -> ReplyRule {
        ReplyRule {
            matching: matching.into(),
            keyword: keyword.into(),
            reply: reply.into(),
        }
    }

    fn replier(rules: Vec<ReplyRule>, away: AwayMode) -> Replier {
        Replier {
            rules,
            away,
            away_text: "We're closed; back at 9.".into(),
            hours: Hours {
                days: [true, true, true, true, true, false, false],
                opens: 9 * 60,
                closes: 17 * 60,
                zone: chrono_tz::America::New_York,
            },
            do_not_disturb: DoNotDisturb::Off,
        }
    }

    /// 2026-12-07 is a Monday.
    fn at(day: u32, hour: u32, minute: u32) -> i64 {
        chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 12, day, hour, minute, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn rules_match_in_order_and_in_any_case() {
        let r = replier(
            vec![
                rule("exact", "hours", "9 to 5"),
                rule("contains", "price", "See our prices at example.com"),
                rule("contains", "hours", "never reached for exact texts"),
            ],
            AwayMode::Off,
        );
        assert_eq!(
            r.answer("Hours?", 0),
            Some(Answer::Rule {
                rule: 1,
                text: "9 to 5".into()
            })
        );
        assert_eq!(
            r.answer("what PRICES do you have", 0).unwrap().text(),
            "See our prices at example.com"
        );
        assert_eq!(
            r.answer("your hours please", 0).unwrap().text(),
            "never reached for exact texts"
        );
        assert_eq!(r.answer("hello", 0), None);
    }

    #[test]
    fn away_outside_business_hours_in_the_owners_zone() {
        let r = replier(
            vec![rule("exact", "hours", "9 to 5")],
            AwayMode::OutsideHours,
        );
        assert_eq!(r.answer("hi", at(7, 10, 0)), None, "Monday 10:00 is open");
        assert!(matches!(
            r.answer("hi", at(7, 8, 59)),
            Some(Answer::Away { .. })
        ));
        assert!(matches!(
            r.answer("hi", at(7, 17, 0)),
            Some(Answer::Away { .. })
        ));
        assert!(
            matches!(r.answer("hi", at(12, 12, 0)), Some(Answer::Away { .. })),
            "Saturday"
        );
        // A rule answers before the away message.
        assert_eq!(r.answer("hours", at(12, 12, 0)).unwrap().text(), "9 to 5");
    }

    #[test]
    fn overnight_hours_span_midnight() {
        let mut r = replier(vec![], AwayMode::OutsideHours);
        r.hours.opens = 22 * 60;
        r.hours.closes = 6 * 60;
        assert_eq!(r.answer("hi", at(7, 23, 0)), None, "Monday night");
        assert_eq!(
            r.answer("hi", at(8, 5, 0)),
            None,
            "early Tuesday, from Monday night"
        );
        assert!(r.answer("hi", at(8, 12, 0)).is_some(), "Tuesday noon");
        assert!(
            r.answer("hi", at(13, 1, 0)).is_some(),
            "early Sunday: Saturday was closed"
        );
    }

    #[test]
    fn away_always_and_with_do_not_disturb() {
        assert!(replier(vec![], AwayMode::Always)
            .answer("hi", at(7, 10, 0))
            .is_some());
        let mut r = replier(vec![], AwayMode::DoNotDisturb);
        assert!(r.answer("hi", 0).is_none());
        r.do_not_disturb = DoNotDisturb::On;
        assert!(r.answer("hi", 0).is_some());
        r.away_text = " ".into();
        assert!(
            r.answer("hi", 0).is_none(),
            "an empty message sends nothing"
        );
    }

    #[test]
    fn do_not_disturb_outside_hours_follows_the_weekly_schedule() {
        let hours = replier(vec![], AwayMode::Off).hours;
        let scheduled = DoNotDisturb::OutsideHours;
        assert!(
            !scheduled.quiet_at(&hours, at(7, 10, 0)),
            "Monday 10:00 in New York: open"
        );
        assert!(
            scheduled.quiet_at(&hours, at(7, 18, 0)),
            "Monday 18:00: closed"
        );
        assert!(
            scheduled.quiet_at(&hours, at(12, 10, 0)),
            "Saturday: closed"
        );
        assert!(DoNotDisturb::On.quiet_at(&hours, at(7, 10, 0)));
        assert!(!DoNotDisturb::Off.quiet_at(&hours, at(12, 10, 0)));
        for mode in [
            DoNotDisturb::Off,
            DoNotDisturb::On,
            DoNotDisturb::OutsideHours,
        ] {
            assert_eq!(DoNotDisturb::from_column(mode.to_column()), mode);
        }
        let mut r = replier(vec![], AwayMode::DoNotDisturb);
        r.do_not_disturb = scheduled;
        assert!(
            r.answer("hi", at(12, 10, 0)).is_some(),
            "the away message while it is on"
        );
        assert!(r.answer("hi", at(7, 10, 0)).is_none());
    }

    #[test]
    fn rules_are_checked() {
        assert!(check_rules(&[rule("exact", "hours", "9 to 5")]).is_ok());
        for bad in [
            rule("regex", "a", "b"),
            rule("exact", " ", "b"),
            rule("exact", "a", ""),
            rule("exact", &"k".repeat(41), "b"),
            rule("exact", "a", &"r".repeat(321)),
            rule("exact", "STOP", "bye"),
        ] {
            assert!(check_rules(std::slice::from_ref(&bad)).is_err(), "{bad:?}");
        }
        assert!(check_rules(&vec![rule("exact", "a", "b"); 21]).is_err());
        assert_eq!(parse_minute("09:30").unwrap(), 570);
        assert!(parse_minute("24:00").is_err() && parse_minute("9").is_err());
    }
}
