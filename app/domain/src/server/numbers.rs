//! Phone numbers: searching the carrier's stock, buying within the owner's quota, naming,
//! releasing. A number belongs to one user; admins see all of them.

use super::carrier::{CarrierError, NumberQuery};
use super::events::EventBus;
use super::{crypto, now_ms, phone, AppState, Db};
use crate::error::{AppError, AppResult};
use crate::server::audit::{self, Action, Actor};
use crate::server::ids::{NumberId, UserId, E164};
use crate::types::{Capabilities, LiveEvent, NumberOffer, OwnedNumber};

/// What users see when the carrier fails: never its raw text.
pub fn carrier_failure(e: CarrierError) -> AppError {
    match e {
        CarrierError::Rejected { code, .. } => AppError::invalid(format!(
            "The carrier refused that (code {code}). Try another number."
        )),
        CarrierError::Config(detail) => {
            tracing::error!(%detail, "carrier configuration");
            AppError::invalid(
                "The carrier isn't set up correctly. Ask an admin to check Admin → Carrier.",
            )
        }
        other => {
            tracing::warn!(error = %other, "carrier unavailable");
            AppError::invalid("The carrier isn't answering right now. Try again in a minute.")
        }
    }
}

pub async fn search(
    state: &AppState,
    country: &str,
    area_code: &str,
    contains: &str,
    needs: Capabilities,
) -> AppResult<Vec<NumberOffer>> {
    let country = country.trim().to_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(AppError::invalid("Choose a country."));
    }
    let area_code = area_code.trim();
    if !area_code.is_empty()
        && (area_code.len() > 5 || !area_code.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(AppError::invalid("An area code is digits only, like 212."));
    }
    let contains = contains.trim();
    if !contains.is_empty()
        && (contains.len() > 10 || !contains.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(AppError::invalid(
            "\u{201c}Contains\u{201d} takes up to 10 digits.",
        ));
    }
    let query = NumberQuery {
        country: country.clone(),
        area_code: (!area_code.is_empty()).then(|| area_code.to_string()),
        contains: (!contains.is_empty()).then(|| contains.to_string()),
        needs,
        limit: 20,
    };
    let found = state
        .carrier()
        .search_numbers(&query)
        .await
        .map_err(carrier_failure)?;
    Ok(found
        .into_iter()
        .filter(|n| n.capabilities.covers(needs))
        .map(|n| NumberOffer {
            display: phone::display(&n.e164, &country),
            e164: n.e164,
            locality: n.locality,
            capabilities: n.capabilities,
        })
        .collect())
}

pub async fn buy(
    state: &AppState,
    by: &Actor,
    user_id: &UserId,
    e164: &str,
) -> AppResult<OwnedNumber> {
    let e164 = E164::parse(e164, "US")?;
    // The quota is checked and a place taken in one locked transaction, before the carrier
    // is asked: parallel purchases see each other's places.
    let now = now_ms();
    let reservation = crypto::new_id();
    let mut tx = state.db.begin().await?;
    super::throttle::lock_key(&mut tx, state.db.backend(), &format!("numbers:{user_id}")).await?;
    let (owned, pending, quota): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM phone_numbers WHERE user_id = $1),
                (SELECT COUNT(*) FROM number_reservations WHERE user_id = $1 AND at > $2),
                number_quota FROM users WHERE id = $1",
    )
    .bind(user_id)
    .bind(now - RESERVATION_MS)
    .fetch_one(&mut *tx)
    .await?;
    if owned + pending >= quota {
        return Err(AppError::invalid(format!(
            "You have {owned} of your {quota} numbers{}. Release one, or ask an admin to raise your limit.",
            if pending > 0 { " (and some being bought)" } else { "" }
        )));
    }
    sqlx::query("INSERT INTO number_reservations (id, user_id, at) VALUES ($1, $2, $3)")
        .bind(&reservation)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let bought = buy_reserved(state, by, user_id, &e164, &reservation).await;
    // (A purchase that went through gave its place up with the number; this is for one
    // that did not.)
    if let Err(e) = sqlx::query("DELETE FROM number_reservations WHERE id = $1")
        .bind(&reservation)
        .execute(state.db.pool())
        .await
    {
        tracing::warn!(error = %e, "could not drop a number reservation; it expires");
    }
    bought
}

/// How long a place taken for a purchase counts (a crash mid-purchase frees it after this).
const RESERVATION_MS: i64 = 5 * 60 * 1000;

async fn buy_reserved(
    state: &AppState,
    by: &Actor,
    user_id: &UserId,
    e164: &E164,
    reservation: &str,
) -> AppResult<OwnedNumber> {
    let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM phone_numbers WHERE e164 = $1")
        .bind(e164)
        .fetch_optional(state.db.pool())
        .await?;
    if taken.is_some() {
        return Err(AppError::invalid(
            "That number was just taken. Pick another.",
        ));
    }
    let carrier = state.carrier();
    let webhook_url = state.webhook_url(carrier.kind());
    let bought = carrier
        .buy_number(e164.as_str(), &webhook_url)
        .await
        .map_err(carrier_failure)?;
    let id = NumberId::new(crypto::new_id());
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO phone_numbers (id, user_id, e164, carrier, carrier_ref, capabilities, created_at,
             calls_routed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(e164)
    .bind(carrier.kind().as_str())
    .bind(&bought.carrier_ref)
    .bind(bought.capabilities.to_list())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // The place taken for this purchase goes with the number's arrival, in one commit: a
    // parallel purchase must never count both (it was refused with a place to spare).
    sqlx::query("DELETE FROM number_reservations WHERE id = $1")
        .bind(reservation)
        .execute(&mut *tx)
        .await?;
    let published = vec![EventBus::record(&mut tx, user_id, &LiveEvent::Numbers).await?];
    let detail = format!("{e164} from {}", carrier.kind().as_str());
    audit::record(&mut *tx, by, Action::NumberBought, Some(user_id), &detail).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    owned_one(&state.db, user_id, &id).await
}

type NumberRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    i64,
    i64,
    String,
    i64,
    Option<String>,
    Option<i64>,
);

/// The columns of a [`NumberRow`] after `owner_email`: how its calls ring and its greeting.
const ROUTING_COLUMNS: &str = "ring_seconds, do_not_disturb, greeting_text, \
     CASE WHEN greeting_media_id IS NULL THEN 0 ELSE 1 END, forward_to, forward_after_secs";

fn owned_number(row: NumberRow) -> OwnedNumber {
    let (
        id,
        e164,
        name,
        capabilities,
        carrier,
        created_at,
        last_inbound_at,
        owner_email,
        ring_seconds,
        do_not_disturb,
        greeting_text,
        greeting_recorded,
        forward_to,
        forward_after_secs,
    ) = row;
    let region = phone::region_of(&e164).unwrap_or_else(|| "US".into());
    OwnedNumber {
        id,
        display: phone::display(&e164, &region),
        e164,
        name,
        capabilities: Capabilities::from_list(&capabilities),
        carrier,
        created_at,
        last_inbound_at,
        owner_email,
        ring_seconds,
        do_not_disturb: do_not_disturb == 1,
        dnd_outside_hours: do_not_disturb == 2,
        greeting_text,
        greeting_recorded: greeting_recorded == 1,
        forward_to: forward_to.unwrap_or_default(),
        forward_after_secs: forward_after_secs.unwrap_or(0),
    }
}

/// What became of pointing one number's calls at this instance ([`route_calls`]).
pub enum Routed {
    /// Pointed, or nothing to do (released meanwhile), or given up for this start.
    Done,
    /// The carrier could not be reached: try again later.
    Retry(String),
}

/// At start: numbers bought before this instance had its calls application at their
/// carrier (Telnyx's Call Control application, Twilio's TwiML application) are pointed at
/// it, as a purchase now does, so their calls reach us whole (a Telnyx number had no
/// connection: its calls never came; a Twilio number kept a VoiceUrl of its own: a held
/// caller hanging up was never heard). One job each, queued once: `calls_routed` goes
/// 0 → 2 (queued) in the job's own commit, so instances starting together or a restart
/// queue no second one; 1 once pointed, back to 0 if the carrier refused (the next start
/// tries again). Answers how many were queued.
pub async fn route_calls_of_earlier_numbers(state: &AppState) -> AppResult<usize> {
    let waiting: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM phone_numbers WHERE calls_routed = 0")
            .fetch_all(state.db.pool())
            .await?;
    let mut queued = 0;
    for (number_id,) in waiting {
        let mut tx = state.db.begin().await?;
        let ours = sqlx::query(
            "UPDATE phone_numbers SET calls_routed = 2 WHERE id = $1 AND calls_routed = 0",
        )
        .bind(&number_id)
        .execute(&mut *tx)
        .await?;
        if ours.rows_affected() == 1 {
            let job = super::jobs::Job::RouteCalls { number_id };
            super::jobs::enqueue(&mut tx, &job, now_ms()).await?;
            queued += 1;
        }
        tx.commit().await?;
    }
    if queued > 0 {
        tracing::info!(
            queued,
            "pointing the calls of numbers bought earlier at this instance"
        );
        state.jobs_waker.notify_one();
    }
    Ok(queued)
}

/// Points one number's calls at this instance's calls application ([`Job::RouteCalls`]);
/// `may_retry`: a failure to reach the carrier is tried again later.
///
/// [`Job::RouteCalls`]: super::jobs::Job::RouteCalls
pub async fn route_calls(state: &AppState, number_id: &str, may_retry: bool) -> AppResult<Routed> {
    let number: Option<(String, String, String)> = sqlx::query_as(
        "SELECT carrier, carrier_ref, e164 FROM phone_numbers WHERE id = $1 AND calls_routed = 2",
    )
    .bind(number_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((carrier, carrier_ref, e164)) = number else {
        return Ok(Routed::Done);
    };
    let pointed = match super::carrier::config::CarrierKind::parse(&carrier) {
        Some(kind) => {
            state
                .carrier_of(kind)
                .route_calls(&carrier_ref, &state.webhook_url(kind))
                .await
        }
        None => Err(CarrierError::Config(format!("unknown carrier {carrier}"))),
    };
    let flag = match pointed {
        Ok(()) => 1,
        Err(e) if e.is_retryable() && may_retry => return Ok(Routed::Retry(e.to_string())),
        Err(e) => {
            tracing::warn!(error = %e, number = %e164, "this number's calls may not reach this instance; tried again at the next start");
            0
        }
    };
    sqlx::query("UPDATE phone_numbers SET calls_routed = $1 WHERE id = $2 AND calls_routed = 2")
        .bind(flag)
        .bind(number_id)
        .execute(state.db.pool())
        .await?;
    Ok(Routed::Done)
}

async fn owned_one(db: &Db, user_id: &UserId, id: &NumberId) -> AppResult<OwnedNumber> {
    let row: Option<NumberRow> = sqlx::query_as(&format!(
        "SELECT id, e164, name, capabilities, carrier, created_at, last_inbound_at, NULL,
                {ROUTING_COLUMNS}
         FROM phone_numbers WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    row.map(owned_number)
        .ok_or_else(|| AppError::not_found("That number"))
}

pub async fn list_own(db: &Db, user_id: &UserId) -> AppResult<Vec<OwnedNumber>> {
    let rows: Vec<NumberRow> = sqlx::query_as(&format!(
        "SELECT id, e164, name, capabilities, carrier, created_at, last_inbound_at, NULL,
                {ROUTING_COLUMNS}
         FROM phone_numbers WHERE user_id = $1 ORDER BY created_at"
    ))
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(owned_number).collect())
}

/// Admins: every number and its owner.
pub async fn list_all(db: &Db) -> AppResult<Vec<OwnedNumber>> {
    // (The routing columns are the number's alone: no users column shares their names.)
    let rows: Vec<NumberRow> = sqlx::query_as(&format!(
        "SELECT n.id, n.e164, n.name, n.capabilities, n.carrier, n.created_at, n.last_inbound_at, u.email,
                {ROUTING_COLUMNS}
         FROM phone_numbers n JOIN users u ON u.id = n.user_id ORDER BY u.email, n.created_at"
    ))
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(owned_number).collect())
}

pub async fn rename(
    state: &AppState,
    user_id: &UserId,
    id: &NumberId,
    name: &str,
) -> AppResult<()> {
    let name = name.trim();
    if name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "Use a name of at most 40 ordinary characters.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let done = sqlx::query("UPDATE phone_numbers SET name = $1 WHERE id = $2 AND user_id = $3")
        .bind(name)
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    commit_own_number_change(state, tx, user_id, done.rows_affected()).await
}

/// Ends a change to one of the user's numbers (`rows`: what its UPDATE touched, only their
/// own): "not found" when none, else committed with the numbers event for their tabs.
async fn commit_own_number_change(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    user_id: &UserId,
    rows: u64,
) -> AppResult<()> {
    if rows == 0 {
        return Err(AppError::not_found("That number"));
    }
    let published = vec![EventBus::record(&mut tx, user_id, &LiveEvent::Numbers).await?];
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(())
}

/// How calls to a number ring, as the Calls page sets it ([`set_call_routing`]).
pub struct CallRouting<'a> {
    /// Before a call counts as missed: one of [`crate::types::RING_CHOICES`].
    pub ring_seconds: i64,
    /// Straight to voicemail (now, or outside business hours).
    pub do_not_disturb: crate::server::messaging::auto_reply::DoNotDisturb,
    /// The phone calls from the phone network are forwarded to ('' for none).
    pub forward_to: &'a str,
    /// How long the user's browsers ring before that phone does: one of
    /// [`crate::types::FORWARD_AFTER_CHOICES`] (0: at once, browsers don't ring;
    /// [`crate::types::FORWARD_WITH_BROWSERS`]: together with them).
    pub forward_after_secs: i64,
}

/// Sets how calls to the user's number `id` ring.
pub async fn set_call_routing(
    state: &AppState,
    user_id: &UserId,
    id: &NumberId,
    routing: CallRouting<'_>,
) -> AppResult<()> {
    let CallRouting {
        ring_seconds,
        do_not_disturb,
        forward_to,
        forward_after_secs,
    } = routing;
    if !crate::types::RING_CHOICES.contains(&ring_seconds) {
        return Err(AppError::invalid(
            "Pick how long calls ring from the list (10 seconds to 2 minutes).",
        ));
    }
    if !crate::types::FORWARD_AFTER_CHOICES.contains(&forward_after_secs) {
        return Err(AppError::invalid(
            "Pick when calls go to your forwarding phone from the list (with your browsers, at once, or after them).",
        ));
    }
    let forward_to = forwarding_phone(state, user_id, id, forward_to).await?;
    // Only with a phone to go to.
    let forward_after = Some(forward_after_secs).filter(|s| *s != 0 && forward_to.is_some());
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE phone_numbers SET ring_seconds = $1, do_not_disturb = $2, forward_to = $3,
             forward_after_secs = $6
         WHERE id = $4 AND user_id = $5",
    )
    .bind(ring_seconds)
    .bind(do_not_disturb.to_column())
    .bind(forward_to)
    .bind(id)
    .bind(user_id)
    .bind(forward_after)
    .execute(&mut *tx)
    .await?;
    commit_own_number_change(state, tx, user_id, done.rows_affected()).await
}

/// The phone calls to the user's number `id` are forwarded to, from what they typed ('' for
/// none): a phone number in the number's own country (each forwarded call is one the
/// instance pays for), not a premium-rate line, and not one owned here (its calls would
/// come back to us, round and round).
async fn forwarding_phone(
    state: &AppState,
    user_id: &UserId,
    id: &NumberId,
    typed: &str,
) -> AppResult<Option<E164>> {
    if typed.trim().is_empty() {
        return Ok(None);
    }
    let own: Option<(String,)> =
        sqlx::query_as("SELECT e164 FROM phone_numbers WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((own,)) = own else {
        return Err(AppError::not_found("That number"));
    };
    let region = phone::region_of(&own).unwrap_or_else(|| "US".into());
    let to = E164::parse(typed, &region)?;
    phone::check_payable(&own, to.as_str())?;
    let (here,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM phone_numbers WHERE e164 = $1")
        .bind(&to)
        .fetch_one(state.db.pool())
        .await?;
    if here > 0 {
        return Err(AppError::invalid(
            "That number is on this Switchboard: forward to a phone outside it.",
        ));
    }
    Ok(Some(to))
}

/// How each of the user's texting numbers answers by itself (the HELP text, for now).
pub async fn texting(db: &Db, user_id: &UserId) -> AppResult<Vec<crate::types::NumberTexting>> {
    use super::messaging::auto_reply::minute_text;
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
        i64,
        String,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, e164, name, help_text, away_mode, away_text, business_days, opens_minute,
                closes_minute, time_zone, forward_email
         FROM phone_numbers WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    let rules: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT r.number_id, r.matching, r.keyword, r.reply FROM reply_rules r
         JOIN phone_numbers n ON n.id = r.number_id WHERE n.user_id = $1
         ORDER BY r.number_id, r.position",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                number_id,
                e164,
                name,
                help_text,
                away_mode,
                away_text,
                days,
                opens,
                closes,
                zone,
                forward_email,
            )| {
                let region = phone::region_of(&e164).unwrap_or_else(|| "US".into());
                crate::types::NumberTexting {
                    rules: rules
                        .iter()
                        .filter(|r| r.0 == number_id)
                        .map(|(_, matching, keyword, reply)| crate::types::ReplyRule {
                            matching: matching.clone(),
                            keyword: keyword.clone(),
                            reply: reply.clone(),
                        })
                        .collect(),
                    number_id,
                    display: phone::display(&e164, &region),
                    default_help_text: super::messaging::opt_out::default_help(&name),
                    name,
                    help_text,
                    away_mode,
                    away_text,
                    business_days: days.split(',').filter_map(|d| d.parse().ok()).collect(),
                    opens: minute_text(opens),
                    closes: minute_text(closes),
                    time_zone: zone,
                    forward_email,
                }
            },
        )
        .collect())
}

/// Sets what a HELP text to the user's number is answered with ('' for the default, which
/// names the number and says how to stop).
pub async fn set_help_text(
    state: &AppState,
    user_id: &UserId,
    id: &NumberId,
    help_text: &str,
) -> AppResult<()> {
    let help_text = help_text.trim();
    let max = super::messaging::opt_out::MAX_HELP_CHARS;
    if help_text.chars().count() > max {
        return Err(AppError::invalid(format!(
            "A help text can be at most {max} characters."
        )));
    }
    let mut tx = state.db.begin().await?;
    let done =
        sqlx::query("UPDATE phone_numbers SET help_text = $1 WHERE id = $2 AND user_id = $3")
            .bind(help_text)
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    commit_own_number_change(state, tx, user_id, done.rows_affected()).await
}

/// Gives the number back to the carrier; its conversations go with it.
pub async fn release(
    state: &AppState,
    by: &Actor,
    user_id: &UserId,
    id: &NumberId,
) -> AppResult<()> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT carrier, carrier_ref, e164 FROM phone_numbers WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((bought_from, carrier_ref, e164)) = row else {
        return Err(AppError::not_found("That number"));
    };
    let carrier = state.carrier();
    if carrier.kind().as_str() != bought_from {
        // Releasing it through another carrier would free nothing and lose track of it.
        return Err(AppError::invalid(format!(
            "This number comes from {bought_from}, and {} is in use now. An admin can switch Admin → Carrier back to release it.",
            carrier.kind().as_str()
        )));
    }
    carrier
        .release_number(&carrier_ref)
        .await
        .map_err(carrier_failure)?;
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE number_id = $1)")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM conversations WHERE number_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM phone_numbers WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let published = vec![
        EventBus::record(&mut tx, user_id, &LiveEvent::Numbers).await?,
        EventBus::record(&mut tx, user_id, &LiveEvent::Conversations).await?,
    ];
    let detail = format!("{e164} at {bought_from}");
    audit::record(&mut *tx, by, Action::NumberReleased, Some(user_id), &detail).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(())
}

/// Admins set how many numbers a user may own.
pub async fn set_quota(db: &Db, user_id: &UserId, quota: i64) -> AppResult<()> {
    if !(0..=1000).contains(&quota) {
        return Err(AppError::invalid("A number limit is between 0 and 1000."));
    }
    let done = sqlx::query("UPDATE users SET number_quota = $1 WHERE id = $2")
        .bind(quota)
        .bind(user_id)
        .execute(db.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That user"));
    }
    Ok(())
}
