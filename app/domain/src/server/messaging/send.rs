//! Sending: a text queued with its outbox job, then handed to the carrier exactly once.

use sqlx::{Any, Transaction};

use crate::error::{AppError, AppResult};
use crate::server::carrier::OutboundMessage;
use crate::server::events::EventBus;
use crate::server::ids::{ConversationId, JobId, MediaId, MessageId, NumberId, UserId, E164};
use crate::server::jobs::{self, Job};
use crate::server::{crypto, now_ms, phone, AppState};
use crate::types::{LiveEvent, MessageStatus};

use super::{advance, preview_with_media, MAX_BODY_CHARS};
use crate::server::carrier::config::CarrierKind;
use crate::server::carrier::CarrierError;
use crate::server::jobs::{backoff_ms, complete, retry_at, Claimed, MAX_ATTEMPTS};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often a send waiting for its delivery report looks again.
const REPORT_POLL_MS: i64 = 2_000;

/// Finds or creates the conversation between an owned number and `peer`; returns its id.
pub(crate) async fn conversation_for(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    number_id: &NumberId,
    peer: &E164,
) -> AppResult<ConversationId> {
    sqlx::query(
        "INSERT INTO conversations (id, user_id, number_id, peer, last_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (number_id, peer) DO NOTHING",
    )
    .bind(crypto::new_id())
    .bind(user_id)
    .bind(number_id)
    .bind(peer)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    let (id,): (ConversationId,) =
        sqlx::query_as("SELECT id FROM conversations WHERE number_id = $1 AND peer = $2")
            .bind(number_id)
            .bind(peer)
            .fetch_one(&mut **tx)
            .await?;
    Ok(id)
}

/// Queues a text (an MMS when `media_ids` names uploaded pictures) from one of the user's
/// numbers. Returns the conversation id.
pub async fn send(
    state: &AppState,
    user_id: &UserId,
    number_id: &NumberId,
    to: &str,
    body: &str,
    media_ids: &[MediaId],
) -> AppResult<ConversationId> {
    if body.trim().is_empty() && media_ids.is_empty() {
        return Err(AppError::invalid("Write a message first."));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::invalid(format!(
            "Messages can be at most {MAX_BODY_CHARS} characters."
        )));
    }
    let number: Option<(E164,)> =
        sqlx::query_as("SELECT e164 FROM phone_numbers WHERE id = $1 AND user_id = $2")
            .bind(number_id)
            .bind(user_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((from,)) = number else {
        return Err(AppError::not_found("That number"));
    };
    let region = phone::region_of(from.as_str()).unwrap_or_else(|| "US".into());
    let peer = E164::parse(to, &region)?;
    if peer == from {
        return Err(AppError::invalid("A number can't text itself."));
    }
    if super::opt_out::opted_out(&state.db, number_id, peer.as_str()).await? {
        return Err(super::opt_out::refusal(
            &phone::display(peer.as_str(), &region),
            &phone::display(from.as_str(), &region),
        ));
    }
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let conversation_id = conversation_for(&mut tx, user_id, number_id, &peer).await?;
    let message_id = queue_outbound(
        &mut tx,
        user_id,
        &conversation_id,
        body,
        media_ids.len(),
        now,
    )
    .await?;
    crate::server::media::attach(&mut tx, state, user_id, &message_id, media_ids).await?;
    let published = vec![
        EventBus::record(
            &mut tx,
            user_id,
            &LiveEvent::Message {
                conversation_id: conversation_id.to_string(),
                message_id: message_id.into_string(),
            },
        )
        .await?,
        EventBus::record(&mut tx, user_id, &LiveEvent::Conversations).await?,
    ];
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(conversation_id)
}

/// Adds an outgoing text (with `pictures` attached by the caller) to a conversation and
/// queues its outbox job, inside the caller's transaction. The one way a text leaves:
/// what people send and what answers for them (HELP replies).
pub(crate) async fn queue_outbound(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    conversation_id: &ConversationId,
    body: &str,
    pictures: usize,
    now: i64,
) -> AppResult<MessageId> {
    let message_id = MessageId::new(crypto::new_id());
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, user_id, direction, body, status, segments, created_at, updated_at)
         VALUES ($1, $2, $3, 'out', $4, 'queued', $5, $6, $6)",
    )
    .bind(&message_id)
    .bind(conversation_id)
    .bind(user_id)
    .bind(body)
    .bind(crate::sms::count(body).segments as i64)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE conversations SET last_at = $1, last_preview = $2 WHERE id = $3")
        .bind(now)
        .bind(preview_with_media(body, pictures))
        .bind(conversation_id)
        .execute(&mut **tx)
        .await?;
    jobs::enqueue(
        tx,
        &Job::SendMessage {
            message_id: message_id.clone(),
        },
        now,
    )
    .await?;
    Ok(message_id)
}

/// A queued message, ready for the carrier.
pub struct Outbound {
    pub message: OutboundMessage,
    /// Set once a send was attempted whose outcome we never learnt (see [`mark_submitted`]).
    pub submitted_at: Option<i64>,
    /// The carrier of the sending number.
    pub carrier: CarrierKind,
    /// The peer opted out after this was queued (a text queued before their STOP arrived).
    pub opted_out: bool,
}

/// What to hand the carrier for a queued message (None once it left the queue).
pub async fn outbound_for(state: &AppState, message_id: &MessageId) -> AppResult<Option<Outbound>> {
    let row: Option<(String, String, String, Option<i64>, String, i64)> = sqlx::query_as(
        "SELECT n.e164, c.peer, m.body, m.submitted_at, n.carrier,
             (SELECT COUNT(*) FROM opt_outs o WHERE o.number_id = n.id AND o.peer = c.peer)
         FROM messages m
         JOIN conversations c ON c.id = m.conversation_id
         JOIN phone_numbers n ON n.id = c.number_id
         WHERE m.id = $1 AND m.status = 'queued'",
    )
    .bind(message_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((from, to, body, submitted_at, carrier, opted_out)) = row else {
        return Ok(None);
    };
    let carrier = super::carrier::config::CarrierKind::parse(&carrier).unwrap_or_default();
    Ok(Some(Outbound {
        message: OutboundMessage {
            id: message_id.to_string(),
            from,
            to,
            body,
            media_urls: crate::server::media::public_urls_for(state, message_id).await?,
            status_callback: status_callback(state, carrier, message_id),
        },
        submitted_at,
        carrier,
        opted_out: opted_out > 0,
    }))
}

/// The webhook a message's delivery reports go to, naming the message.
pub fn status_callback(state: &AppState, carrier: CarrierKind, message_id: &MessageId) -> String {
    format!("{}?message={message_id}", state.webhook_url(carrier))
}

/// Records, before the carrier is called, that this message is being handed over: if we
/// never learn the answer (a crash, a timeout), the next try knows it may have arrived and
/// waits for its delivery report instead of sending it again.
pub async fn mark_submitted(state: &AppState, message_id: &MessageId) -> AppResult<()> {
    sqlx::query("UPDATE messages SET submitted_at = $1 WHERE id = $2 AND status = 'queued'")
        .bind(now_ms())
        .bind(message_id)
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// The carrier said no (it did not take the message): a later try may send it.
pub async fn clear_submitted(state: &AppState, message_id: &MessageId) -> AppResult<()> {
    sqlx::query("UPDATE messages SET submitted_at = NULL WHERE id = $1")
        .bind(message_id)
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// A delivery report named our message (its callback URL carries our id): note the
/// carrier's id for it, so the report and every later one find it even if the send's own
/// bookkeeping never happened. Returns false when no such message exists (deleted).
pub async fn adopt_carrier_id(
    state: &AppState,
    message_id: &MessageId,
    carrier_message_id: &str,
) -> AppResult<bool> {
    let (found,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE id = $1")
        .bind(message_id)
        .fetch_one(state.db.pool())
        .await?;
    if found == 0 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE messages SET carrier_message_id = $1 WHERE id = $2 AND carrier_message_id IS NULL
         AND NOT EXISTS (SELECT 1 FROM messages other WHERE other.carrier_message_id = $1)",
    )
    .bind(carrier_message_id)
    .bind(message_id)
    .execute(state.db.pool())
    .await?;
    Ok(true)
}

/// The carrier took the message: note its id and finish the job, atomically.
pub async fn mark_handed_over(
    state: &AppState,
    job_id: &JobId,
    message_id: &MessageId,
    carrier_message_id: &str,
) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let published = advance(
        &mut tx,
        message_id,
        MessageStatus::Sending,
        None,
        Some(carrier_message_id),
    )
    .await?;
    sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    state
        .bus
        .announce(&state.db, published.into_iter().collect())
        .await;
    Ok(())
}

pub async fn mark_send_failed(
    state: &AppState,
    job_id: &JobId,
    message_id: &MessageId,
    code: &str,
) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let published = advance(&mut tx, message_id, MessageStatus::Failed, Some(code), None).await?;
    sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    state
        .bus
        .announce(&state.db, published.into_iter().collect())
        .await;
    Ok(())
}

/// Each sending number's pace: when it may next send, and the slots given to texts that
/// came too early. A text that must wait gets the number's next free slot, and the slot
/// after it goes to the next such text, so a backlog of N texts on one number is put back
/// once each. (Putting each back to "the next free moment" had the lane claim and put back
/// the whole backlog every interval: 10,000 away messages on one sandbox number kept
/// SQLite's one writer busy and cut everyone's inbound ingest by a third.)
#[derive(Debug, Default)]
pub struct Pacing {
    next_free: HashMap<String, Instant>,
    slots: HashMap<JobId, Instant>,
}

impl Pacing {
    /// Slots held longer than this past their time were for texts that went away (deleted,
    /// sent by another instance): forgotten when the map is large.
    const STALE: Duration = Duration::from_secs(60);

    /// Whether the text of job `job` may go from `from` now (`None`), or how long it must
    /// wait for its slot.
    pub fn take(&mut self, from: &str, job: &JobId, interval: Duration) -> Option<Duration> {
        let now = Instant::now();
        // A job's slot comes back within the same millisecond (run_at is in ms).
        let due = now + Duration::from_millis(2);
        if let Some(slot) = self.slots.remove(job) {
            if slot <= due {
                return None;
            }
            self.slots.insert(job.clone(), slot);
            return Some(slot - now);
        }
        let next = self.next_free.entry(from.to_string()).or_insert(now);
        if *next <= due {
            *next = now + interval;
            return None;
        }
        let slot = *next;
        *next += interval;
        if self.slots.len() >= 100_000 {
            self.slots.retain(|_, at| *at + Self::STALE > now);
        }
        self.slots.insert(job.clone(), slot);
        Some(slot - now)
    }
}

/// The outbox job of one text: hands it to the carrier at the number's pace, exactly once.
/// A try before this one may have reached the carrier (the process died after the carrier
/// took it, or its answer never came); such a text waits for its delivery report.
pub async fn run_send_job(
    state: &AppState,
    claimed: &Claimed,
    message_id: &MessageId,
    pacing: &mut Pacing,
) -> AppResult<()> {
    let Some(outbound) = outbound_for(state, message_id).await? else {
        // Deleted, or already handed to the carrier: nothing to send.
        return complete(&state.db, &claimed.id).await;
    };
    if outbound.opted_out && outbound.submitted_at.is_none() {
        return mark_send_failed(state, &claimed.id, message_id, "opted-out").await;
    }
    // A try before this one may have reached the carrier (the process died after the
    // carrier took it, or its answer never came): its delivery report, which names
    // our message, will say. Sending again could deliver the text twice. (The
    // sandbox derives its ids from ours, so a repeat there is recognised.)
    if let Some(submitted_at) = outbound.submitted_at {
        if outbound.carrier != CarrierKind::Sandbox {
            if now_ms() - submitted_at < state.settings.report_wait_ms {
                return retry_at(
                    &state.db,
                    &claimed.id,
                    now_ms() + REPORT_POLL_MS,
                    None,
                    false,
                )
                .await;
            }
            // No report: the carrier never took it (it reports within seconds, and
            // retries reports that fail). Send again, under the same idempotency key
            // where the carrier has them; after the last try, say we can't tell.
            if claimed.attempts >= MAX_ATTEMPTS {
                tracing::warn!(message = %message_id, "no delivery report after repeated unanswered sends: may have been sent");
                return mark_send_failed(state, &claimed.id, message_id, "maybe-sent").await;
            }
            tracing::info!(message = %message_id, "no delivery report for an unanswered send; sending again");
        }
    }
    let carrier = state.carrier_of(outbound.carrier);
    let outbound = outbound.message;
    // Respect the carrier's per-number rate: wait without spending an attempt.
    let interval = Duration::from_secs_f64(1.0 / carrier.sends_per_second().max(0.01));
    if let Some(wait) = pacing.take(&outbound.from, &claimed.id, interval) {
        let wait = wait.as_millis() as i64;
        return retry_at(&state.db, &claimed.id, now_ms() + wait, None, false).await;
    }
    mark_submitted(state, message_id).await?;
    match carrier.send_message(&outbound).await {
        Ok(accepted) => {
            mark_handed_over(state, &claimed.id, message_id, &accepted.carrier_message_id).await
        }
        Err(e @ CarrierError::Uncertain(_)) => {
            // Maybe taken: wait for the report (the branch above) rather than resend.
            tracing::warn!(message = %message_id, error = %e, "send unanswered; waiting for the carrier's report");
            retry_at(
                &state.db,
                &claimed.id,
                now_ms() + REPORT_POLL_MS,
                Some(&e.to_string()),
                true,
            )
            .await
        }
        Err(e) if e.is_retryable() && claimed.attempts < MAX_ATTEMPTS => {
            // Refused before it was taken: a later try may send it.
            clear_submitted(state, message_id).await?;
            let wait = match &e {
                CarrierError::RateLimited {
                    retry_after_ms: Some(ms),
                } => *ms,
                _ => backoff_ms(claimed.attempts),
            };
            tracing::warn!(message = %message_id, error = %e, attempt = claimed.attempts, "send failed; will retry");
            retry_at(
                &state.db,
                &claimed.id,
                now_ms() + wait,
                Some(&e.to_string()),
                true,
            )
            .await
        }
        Err(e) => {
            tracing::warn!(message = %message_id, error = %e, "send failed for good");
            let code = match &e {
                CarrierError::Rejected { code, .. } => code.clone(),
                _ => "unreachable".to_string(),
            };
            mark_send_failed(state, &claimed.id, message_id, &code).await
        }
    }
}

#[cfg(test)]
mod pacing_tests {
    use super::*;

    #[test]
    fn a_backlog_gets_one_slot_each_and_other_numbers_go_on() {
        let mut pacing = Pacing::default();
        let every = Duration::from_millis(100);
        let job = |id: &str| JobId::new(id);
        assert_eq!(pacing.take("+12125550100", &job("a"), every), None);
        let waits: Vec<Duration> = ["b", "c", "d"]
            .iter()
            .map(|id| pacing.take("+12125550100", &job(id), every).unwrap())
            .collect();
        // One interval apart: b after a, c after b, d after c.
        for (k, wait) in waits.iter().enumerate() {
            let slot = every * (k as u32 + 1);
            assert!(
                *wait <= slot && *wait + Duration::from_millis(20) > slot,
                "{k}: {wait:?}"
            );
        }
        assert_eq!(
            pacing.take("+12125550199", &job("e"), every),
            None,
            "another number"
        );
        // b back early keeps its slot (it is not pushed behind d) …
        let again = pacing.take("+12125550100", &job("b"), every).unwrap();
        assert!(again <= waits[0]);
        assert_eq!(pacing.slots.len(), 3);
        // … and goes when its slot comes.
        std::thread::sleep(again);
        assert_eq!(pacing.take("+12125550100", &job("b"), every), None);
        assert_eq!(pacing.slots.len(), 2);
    }

    #[test]
    fn slots_of_texts_that_went_away_are_forgotten_when_there_are_many() {
        let mut pacing = Pacing::default();
        let every = Duration::from_millis(100);
        let long_ago = Instant::now() - Duration::from_secs(120);
        // 100,000 slots whose texts never came back (deleted, or sent by another instance).
        for i in 0..100_000 {
            pacing
                .slots
                .insert(JobId::new(format!("gone-{i}")), long_ago);
        }
        pacing
            .next_free
            .insert("+12125550100".into(), Instant::now() + every);
        assert!(pacing
            .take("+12125550100", &JobId::new("new"), every)
            .is_some());
        assert_eq!(pacing.slots.len(), 1, "only the new text's slot is kept");
    }
}
