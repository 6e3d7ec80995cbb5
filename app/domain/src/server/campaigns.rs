//! Campaigns: one message to every contact (or those with a tag), rendered per contact
//! (`{first_name|there}`), from one of the user's numbers. Opted-out contacts are skipped.
//! A tick job queues a few texts a second (the number's carrier rate) through the ordinary
//! outbox, so another person's text never waits behind thousands of campaign texts; pause,
//! resume and cancel act on the next tick. The report counts what the texts became.

use sqlx::{Any, Transaction};

use crate::error::{AppError, AppResult};
use crate::server::carrier::config::CarrierKind;
use crate::server::events::EventBus;
use crate::server::ids::{NumberId, UserId, E164};
use crate::server::jobs::{self, Job};
use crate::server::{crypto, instance_settings, now_ms, phone, AppState, Db};
use crate::types::{CampaignPreview, CampaignReport, CampaignSample, LiveEvent};

/// Campaigns one person may have sending (or paused) at once.
pub const MAX_ACTIVE: i64 = 3;
pub const MAX_NAME_CHARS: usize = 80;
/// How long a tick waits before queuing the next texts.
const TICK_MS: i64 = 1_000;

/// A contact as a campaign sees it.
#[derive(Debug, Clone, Default)]
pub struct Recipient {
    pub name: String,
    pub company: String,
    pub email: String,
    pub fields: Vec<(String, String)>,
    pub peer: String,
}

/// `text` with its `{placeholders}` filled from `to`: `{first_name}`, `{last_name}`,
/// `{name}`, `{company}`, `{email}`, or a custom field by its name (any case); after a `|`,
/// what to write when the value is empty (`{first_name|there}`). `{{` and `}}` are braces.
pub fn render(text: &str, to: &Recipient) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let (brace, after) = (rest.as_bytes()[i], &rest[i + 1..]);
        if brace == b'}' {
            if let Some(after) = after.strip_prefix('}') {
                out.push('}');
                rest = after;
                continue;
            }
            return Err("A } has no { before it (write }} for a brace).".into());
        }
        if let Some(after) = after.strip_prefix('{') {
            out.push('{');
            rest = after;
            continue;
        }
        let Some(end) = after.find('}') else {
            return Err("A { is never closed (write {{ for a brace).".into());
        };
        let inside = &after[..end];
        let (field, fallback) = inside.split_once('|').unwrap_or((inside, ""));
        let value = value_of(field.trim(), to)
            .ok_or_else(|| format!("{{{}}} is not a contact field.", field.trim()))?;
        out.push_str(if value.trim().is_empty() {
            fallback
        } else {
            &value
        });
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn value_of(field: &str, to: &Recipient) -> Option<String> {
    let (first, last) = to.name.split_once(' ').unwrap_or((&to.name, ""));
    Some(match field.to_lowercase().as_str() {
        "first_name" => first.to_string(),
        "last_name" => last.trim().to_string(),
        "name" => to.name.clone(),
        "company" => to.company.clone(),
        "email" => to.email.clone(),
        // A custom field: what the contact has, or nothing.
        _ if field.is_empty() || field.chars().count() > 40 || field.contains('{') => return None,
        _ => to
            .fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(field))
            .map(|(_, value)| value.clone())
            .unwrap_or_default(),
    })
}

/// The contacts a campaign goes to: those with a number (their first), with `tag` if given.
async fn audience(db: &Db, user_id: &UserId, tag: &str) -> AppResult<Vec<Recipient>> {
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT c.name, c.company, c.email, c.fields, n.e164 FROM contacts c
         JOIN contact_numbers n ON n.contact_id = c.id
         WHERE c.user_id = $1 AND n.position = (SELECT MIN(position) FROM contact_numbers m WHERE m.contact_id = c.id)
           AND ($2 = '' OR EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag = $2))
         ORDER BY LOWER(c.name), c.id",
    )
    .bind(user_id)
    .bind(tag)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, company, email, fields, peer)| Recipient {
            name,
            company,
            email,
            fields: serde_json::from_str(&fields).unwrap_or_default(),
            peer,
        })
        .collect())
}

/// The number's E.164 and its carrier, if it is the user's.
async fn owned_number(
    db: &Db,
    user_id: &UserId,
    number_id: &NumberId,
) -> AppResult<(String, String)> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT e164, carrier FROM phone_numbers WHERE id = $1 AND user_id = $2")
            .bind(number_id)
            .bind(user_id)
            .fetch_optional(db.pool())
            .await?;
    row.ok_or_else(|| AppError::not_found("That number"))
}

/// What one text segment costs at the instance's carrier, as an admin entered it (Admin →
/// Text price): carriers bill per segment at the rate of each instance's own contract, and
/// their APIs don't say it before a text is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentPrice {
    /// Millionths of the currency's unit.
    pub micros: i64,
    /// ISO 4217, as `USD`.
    pub currency: String,
}

const SEGMENT_PRICE_KEY: &str = "segment_price";
/// The most a segment may be said to cost: a typo's guard, well above any carrier's rate.
const MAX_SEGMENT_MICROS: i64 = 1_000_000;

impl SegmentPrice {
    /// Reads `0.0079 USD` (or `0.0079`, in US dollars). Six decimals at most.
    pub fn parse(text: &str) -> AppResult<SegmentPrice> {
        let bad = || {
            AppError::invalid(
                "Write the price of one segment as a number and a currency, like 0.0079 USD.",
            )
        };
        let mut words = text.split_whitespace();
        let amount = words.next().ok_or_else(bad)?;
        let currency = words.next().unwrap_or("USD").to_uppercase();
        if words.next().is_some()
            || currency.len() != 3
            || !currency.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(bad());
        }
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        if whole.is_empty() && fraction.is_empty()
            || whole.len() > 2
            || fraction.len() > 6
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let digits = |s: &str| s.parse::<i64>().unwrap_or(0);
        let micros = digits(whole) * 1_000_000 + digits(&format!("{fraction:0<6}"));
        if micros > MAX_SEGMENT_MICROS {
            return Err(AppError::invalid(
                "A segment costs at most 1 (in its currency): is there a typo?",
            ));
        }
        Ok(SegmentPrice { micros, currency })
    }

    /// `micros` as a decimal with at least `min_decimals` and at most six, trailing zeros cut.
    fn decimal(micros: i64, min_decimals: usize) -> String {
        let text = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
        let cut = text.trim_end_matches('0');
        let decimals = cut.len() - cut.find('.').unwrap_or(cut.len()) - 1;
        if decimals >= min_decimals {
            cut.to_string()
        } else {
            format!("{cut}{}", "0".repeat(min_decimals - decimals))
        }
    }

    /// As an admin writes it: `0.0079 USD`.
    pub fn to_text(&self) -> String {
        format!("{} {}", Self::decimal(self.micros, 2), self.currency)
    }

    /// What `segments` cost, rounded up to the cent: `0.41 USD`.
    pub fn of(&self, segments: i64) -> String {
        let micros = self.micros.saturating_mul(segments);
        let cents = micros.saturating_add(9_999) / 10_000;
        format!("{} {}", Self::decimal(cents * 10_000, 2), self.currency)
    }
}

/// The price admins entered, if any.
pub async fn segment_price(db: &Db) -> AppResult<Option<SegmentPrice>> {
    let saved = instance_settings::get(db, SEGMENT_PRICE_KEY).await?;
    Ok(saved.and_then(|text| SegmentPrice::parse(&text).ok()))
}

/// Sets the price of a segment (`0.0079 USD`), or forgets it (an empty text).
pub async fn set_segment_price(db: &Db, text: &str) -> AppResult<()> {
    if text.trim().is_empty() {
        return instance_settings::clear(db, SEGMENT_PRICE_KEY).await;
    }
    let price = SegmentPrice::parse(text)?;
    instance_settings::put(db, SEGMENT_PRICE_KEY, &price.to_text()).await
}

async fn opted_out_peers(
    db: &Db,
    number_id: &NumberId,
) -> AppResult<std::collections::HashSet<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT peer FROM opt_outs WHERE number_id = $1")
        .bind(number_id)
        .fetch_all(db.pool())
        .await?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

fn check_body(body: &str) -> AppResult<()> {
    if body.trim().is_empty() {
        return Err(AppError::invalid("Write the campaign's message."));
    }
    if body.chars().count() > crate::server::messaging::MAX_BODY_CHARS {
        return Err(AppError::invalid(
            "A message can be at most 1600 characters.",
        ));
    }
    render(body, &Recipient::default())
        .map(|_| ())
        .map_err(AppError::invalid)
}

/// What a campaign would send: how many, skipped, segments, cost, and a few texts.
pub async fn preview(
    db: &Db,
    user_id: &UserId,
    number_id: &NumberId,
    body: &str,
    tag: &str,
) -> AppResult<CampaignPreview> {
    check_body(body)?;
    let (_, carrier) = owned_number(db, user_id, number_id).await?;
    let tag = tag.trim().to_lowercase();
    let people = audience(db, user_id, &tag).await?;
    let opted_out = opted_out_peers(db, number_id).await?;
    let mut preview = CampaignPreview::default();
    for person in &people {
        if opted_out.contains(&person.peer) {
            preview.opted_out += 1;
            continue;
        }
        let text = render(body, person).map_err(AppError::invalid)?;
        let segments = crate::sms::count(&text).segments as i64;
        preview.recipients += 1;
        preview.total_segments += segments;
        preview.most_segments = preview.most_segments.max(segments);
        if preview.samples.len() < 5 {
            preview.samples.push(CampaignSample {
                name: person.name.clone(),
                text,
            });
        }
    }
    preview.cost = if CarrierKind::parse(&carrier) == Some(CarrierKind::Sandbox) {
        "nothing (sandbox texts are free)".into()
    } else {
        match segment_price(db).await? {
            Some(price) => format!(
                "about {} ({} segments at {})",
                price.of(preview.total_segments),
                preview.total_segments,
                price.to_text()
            ),
            None => String::new(),
        }
    };
    Ok(preview)
}

/// Starts a campaign: every recipient's text is rendered and recorded now (opted-out ones
/// as skipped), then the tick job sends them. Answers its id.
pub async fn start(
    state: &AppState,
    user_id: &UserId,
    number_id: &NumberId,
    name: &str,
    body: &str,
    tag: &str,
) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::invalid(format!(
            "Name the campaign (at most {MAX_NAME_CHARS} characters)."
        )));
    }
    check_body(body)?;
    owned_number(&state.db, user_id, number_id).await?;
    let tag = tag.trim().to_lowercase();
    let people = audience(&state.db, user_id, &tag).await?;
    if people.is_empty() {
        return Err(AppError::invalid(if tag.is_empty() {
            "None of your contacts has a number yet.".to_string()
        } else {
            format!("No contact with a number has the tag \u{201c}{tag}\u{201d}.")
        }));
    }
    let opted_out = opted_out_peers(&state.db, number_id).await?;
    let mut rendered = Vec::with_capacity(people.len());
    for person in &people {
        rendered.push(render(body, person).map_err(AppError::invalid)?);
    }
    let now = now_ms();
    let id = crypto::new_id();
    let mut tx = state.db.begin().await?;
    crate::server::throttle::lock_key(&mut tx, state.db.backend(), &format!("campaigns:{user_id}"))
        .await?;
    let (active,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM campaigns WHERE user_id = $1 AND state IN ('sending', 'paused')",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    if active >= MAX_ACTIVE {
        return Err(AppError::invalid(format!(
            "You have {MAX_ACTIVE} campaigns under way: let one finish, or cancel it, first."
        )));
    }
    sqlx::query(
        "INSERT INTO campaigns (id, user_id, number_id, name, body, tag, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'sending', $7)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(number_id)
    .bind(name)
    .bind(body)
    .bind(&tag)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let recipients: Vec<(usize, &Recipient, &String)> = people
        .iter()
        .zip(&rendered)
        .enumerate()
        .map(|(i, (p, t))| (i, p, t))
        .collect();
    for chunk in recipients.chunks(400) {
        let sql = format!(
            "INSERT INTO campaign_recipients (campaign_id, peer, name, body, skipped, position) VALUES {}",
            crate::server::db::value_rows_sharing(chunk.len(), &[Some(1), None, None, None, None, None])
        );
        let mut insert = sqlx::query(&sql).bind(&id);
        for (position, person, text) in chunk {
            let skipped = opted_out.contains(&person.peer).then_some("opted out");
            insert = insert
                .bind(&person.peer)
                .bind(&person.name)
                .bind(*text)
                .bind(skipped)
                .bind(*position as i64);
        }
        insert.execute(&mut *tx).await?;
    }
    jobs::enqueue(
        &mut tx,
        &Job::CampaignTick {
            campaign_id: id.clone(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    state.jobs_waker.notify_one();
    Ok(id)
}

/// One tick: queues the next texts (as many as the number's carrier sends a second), and
/// comes back a second later until every recipient has had theirs.
pub async fn tick(state: &AppState, campaign_id: &str) -> AppResult<()> {
    let row: Option<(UserId, NumberId, String)> =
        sqlx::query_as("SELECT user_id, number_id, state FROM campaigns WHERE id = $1")
            .bind(campaign_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((user_id, number_id, campaign_state)) = row else {
        return Ok(());
    };
    if campaign_state != "sending" {
        return Ok(()); // Paused or over: resuming queues a new tick.
    }
    let per_tick = (state.carrier().sends_per_second().ceil() as i64).clamp(1, 50);
    let next: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT peer, body FROM campaign_recipients
         WHERE campaign_id = $1 AND message_id IS NULL AND skipped IS NULL
         ORDER BY position LIMIT {per_tick}"
    ))
    .bind(campaign_id)
    .fetch_all(state.db.pool())
    .await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    for (peer, body) in &next {
        let opted_out: (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM opt_outs WHERE number_id = $1 AND peer = $2")
                .bind(&number_id)
                .bind(peer)
                .fetch_one(&mut *tx)
                .await?;
        if opted_out.0 > 0 {
            mark(&mut tx, campaign_id, peer, None, Some("opted out")).await?;
            continue;
        }
        let peer_e164 = E164::from_stored(peer.clone());
        let conversation =
            crate::server::messaging::conversation_for(&mut tx, &user_id, &number_id, &peer_e164)
                .await?;
        let message = crate::server::messaging::queue_outbound(
            &mut tx,
            &user_id,
            &conversation,
            body,
            0,
            now,
        )
        .await?;
        mark(&mut tx, campaign_id, peer, Some(message.as_str()), None).await?;
    }
    if next.is_empty() {
        sqlx::query("UPDATE campaigns SET state = 'done', finished_at = $1 WHERE id = $2 AND state = 'sending'")
            .bind(now)
            .bind(campaign_id)
            .execute(&mut *tx)
            .await?;
    } else {
        jobs::enqueue(
            &mut tx,
            &Job::CampaignTick {
                campaign_id: campaign_id.to_string(),
            },
            now + TICK_MS,
        )
        .await?;
    }
    let published = vec![EventBus::record(&mut tx, &user_id, &LiveEvent::Conversations).await?];
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(())
}

async fn mark(
    tx: &mut Transaction<'_, Any>,
    campaign_id: &str,
    peer: &str,
    message_id: Option<&str>,
    skipped: Option<&str>,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE campaign_recipients SET message_id = $1, skipped = $2 WHERE campaign_id = $3 AND peer = $4",
    )
    .bind(message_id)
    .bind(skipped)
    .bind(campaign_id)
    .bind(peer)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Pauses (`pause`), resumes (`resume`) or cancels (`cancel`) one of the user's campaigns.
pub async fn control(state: &AppState, user_id: &UserId, id: &str, action: &str) -> AppResult<()> {
    let (from, to) = match action {
        "pause" => ("sending", "paused"),
        "resume" => ("paused", "sending"),
        "cancel" => ("", "cancelled"),
        _ => return Err(AppError::invalid("Pause, resume or cancel.")),
    };
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE campaigns SET state = $1, finished_at = CASE WHEN $1 = 'cancelled' THEN $2 ELSE finished_at END
         WHERE id = $3 AND user_id = $4 AND (state = $5 OR ($5 = '' AND state IN ('sending', 'paused')))",
    )
    .bind(to)
    .bind(now_ms())
    .bind(id)
    .bind(user_id)
    .bind(from)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        let (exists,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM campaigns WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        return Err(if exists == 0 {
            AppError::not_found("That campaign")
        } else {
            AppError::invalid("That campaign can't do that now.")
        });
    }
    if to == "sending" {
        jobs::enqueue(
            &mut tx,
            &Job::CampaignTick {
                campaign_id: id.to_string(),
            },
            now_ms(),
        )
        .await?;
    }
    tx.commit().await?;
    state.jobs_waker.notify_one();
    Ok(())
}

/// The user's campaigns, newest first, each with its counts.
pub async fn reports(db: &Db, user_id: &UserId) -> AppResult<Vec<CampaignReport>> {
    type Row = (
        String,
        String,
        String,
        String,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.id, c.name, c.state, n.e164,
             COUNT(r.peer),
             SUM(CASE WHEN r.skipped IS NOT NULL THEN 1 ELSE 0 END),
             SUM(CASE WHEN r.message_id IS NULL AND r.skipped IS NULL THEN 1 ELSE 0 END),
             SUM(CASE WHEN m.status IN ('queued', 'sending') THEN 1 ELSE 0 END),
             SUM(CASE WHEN m.status = 'sent' THEN 1 ELSE 0 END),
             SUM(CASE WHEN m.status = 'delivered' THEN 1 ELSE 0 END),
             SUM(CASE WHEN m.status = 'failed' THEN 1 ELSE 0 END),
             c.created_at
         FROM campaigns c JOIN phone_numbers n ON n.id = c.number_id
         LEFT JOIN campaign_recipients r ON r.campaign_id = c.id
         LEFT JOIN messages m ON m.id = r.message_id
         WHERE c.user_id = $1
         GROUP BY c.id, c.name, c.state, n.e164, c.created_at
         ORDER BY c.created_at DESC LIMIT 20",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    let mut reports = Vec::with_capacity(rows.len());
    for (
        id,
        name,
        state,
        number,
        recipients,
        skipped,
        waiting,
        queued,
        sent,
        delivered,
        failed,
        created_at,
    ) in rows
    {
        // Replies and opt-outs since it began, from its recipients.
        let (replies, opt_outs): (i64, i64) = sqlx::query_as(
            "SELECT
                 (SELECT COUNT(DISTINCT cv.peer) FROM campaign_recipients r
                  JOIN campaigns c ON c.id = r.campaign_id
                  JOIN conversations cv ON cv.number_id = c.number_id AND cv.peer = r.peer
                  JOIN messages m ON m.conversation_id = cv.id AND m.direction = 'in' AND m.created_at > c.created_at
                  WHERE r.campaign_id = $1),
                 (SELECT COUNT(*) FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id
                  JOIN opt_outs o ON o.number_id = c.number_id AND o.peer = r.peer AND o.created_at > c.created_at
                  WHERE r.campaign_id = $1)",
        )
        .bind(&id)
        .fetch_one(db.pool())
        .await?;
        let region = phone::region_of(&number).unwrap_or_else(|| "US".into());
        reports.push(CampaignReport {
            id,
            name,
            state,
            number_display: phone::display(&number, &region),
            recipients,
            skipped,
            waiting: waiting + queued,
            sent,
            delivered,
            failed,
            replies,
            opt_outs,
            created_at,
        });
    }
    Ok(reports)
}

/// One campaign's recipients as CSV: name, number, what became of their text and why.
pub async fn report_csv(db: &Db, user_id: &UserId, id: &str) -> AppResult<String> {
    let (found,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM campaigns WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .fetch_one(db.pool())
            .await?;
    if found == 0 {
        return Err(AppError::not_found("That campaign"));
    }
    let rows: Vec<(
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    )> = sqlx::query_as(
        "SELECT r.name, r.peer, r.skipped, m.status, m.error_code FROM campaign_recipients r
         LEFT JOIN messages m ON m.id = r.message_id WHERE r.campaign_id = $1 ORDER BY r.position",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let mut out = String::from("Name,Number,Outcome,Reason\r\n");
    for (name, peer, skipped, status, error) in rows {
        let (outcome, reason) = match (skipped, status) {
            (Some(why), _) => ("skipped".to_string(), why),
            (None, Some(status)) => {
                let reason = error
                    .map(|code| crate::server::carrier::errors::explain(&code))
                    .unwrap_or_default();
                (status, reason)
            }
            (None, None) => ("waiting".to_string(), String::new()),
        };
        let quote = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
        out.push_str(&format!(
            "{},{},{},{}\r\n",
            quote(&name),
            peer,
            outcome,
            quote(&reason)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grace() -> Recipient {
        Recipient {
            name: "Grace Brewster Hopper".into(),
            company: "US Navy".into(),
            email: String::new(),
            fields: vec![("Rank".into(), "Admiral".into())],
            peer: "+12025550199".into(),
        }
    }

    #[test]
    fn segment_prices_read_as_admins_write_them() {
        let price = SegmentPrice::parse("0.0079 usd").unwrap();
        assert_eq!(price.micros, 7_900);
        assert_eq!(price.to_text(), "0.0079 USD");
        assert_eq!(SegmentPrice::parse(".5").unwrap().to_text(), "0.50 USD");
        assert_eq!(SegmentPrice::parse("1 EUR").unwrap().to_text(), "1.00 EUR");
        // 82 segments at 0.0079 are 0.6478: rounded up to the cent.
        assert_eq!(price.of(82), "0.65 USD");
        assert_eq!(price.of(0), "0.00 USD");
        assert_eq!(SegmentPrice::parse("0.000001").unwrap().of(3), "0.01 USD");
        for bad in [
            "",
            "abc",
            "0.0000001",
            "1.5",
            "-1",
            "1,5",
            "0.01 US",
            "0.01 USD x",
            "1e3",
            ".",
            "0.01 U$D",
        ] {
            assert!(SegmentPrice::parse(bad).is_err(), "{bad:?} was taken");
        }
        // Huge counts don't overflow.
        assert!(price.of(i64::MAX).ends_with(" USD"));
    }

    #[test]
    fn placeholders_fill_from_the_contact() {
        let to = grace();
        assert_eq!(render("Hi {first_name}!", &to).unwrap(), "Hi Grace!");
        assert_eq!(
            render("{last_name} of {company}", &to).unwrap(),
            "Brewster Hopper of US Navy"
        );
        assert_eq!(
            render("Dear {RANK} {name}", &to).unwrap(),
            "Dear Admiral Grace Brewster Hopper"
        );
        assert_eq!(
            render("Mail: {email|none given}", &to).unwrap(),
            "Mail: none given"
        );
        assert_eq!(render("{{literal}} }}", &to).unwrap(), "{literal} }");
        assert_eq!(
            render("{Birthday|soon}", &to).unwrap(),
            "soon",
            "a field they lack"
        );
        assert!(render("Hi {first_name", &to).is_err());
        assert!(render("Hi }", &to).is_err());
    }
}

/// The template renderer on arbitrary text: it answers, never panics.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 500, ..Default::default() })]
        #[test]
        fn rendering_never_panics(text in "[a-z{}|_ éA-Z😀]{0,80}", name in "[A-Za-z ]{0,20}") {
            let to = Recipient { name, ..Recipient::default() };
            let _ = render(&text, &to);
        }
    }

    #[test]
    #[ignore = "a long fuzz run: scripts/bench runs it"]
    fn fuzz_for_minutes() {
        crate::server::fuzzing::for_minutes(
            "template renderer",
            (any::<String>(), "[A-Za-z ]{0,20}"),
            |(text, name)| {
                let to = Recipient {
                    name,
                    ..Recipient::default()
                };
                let _ = render(&text, &to);
            },
        );
    }
}
