//! Conversations and messages: sending (message + outbox job in one transaction), ingesting
//! what carriers report (inbound texts, delivery statuses) idempotently, and reading.

use sqlx::{Any, Transaction};

use super::carrier::{CarrierEvent, DeliveryStatus, OutboundMessage};
use super::events::{EventBus, Published};
use super::jobs::{self, Job};
use super::{carrier, crypto, now_ms, phone, AppState, Db};
use crate::error::{AppError, AppResult};
use crate::types::{ConversationSummary, LiveEvent, MessageStatus, MessageView, SearchHit, Thread};

/// Carriers concatenate at most this many characters (Twilio and Telnyx both stop at 1600).
pub const MAX_BODY_CHARS: usize = 1600;

/// The conversation list's line for a message; a picture without words says so.
fn preview_with_media(body: &str, pictures: usize) -> String {
    match (body.trim().is_empty(), pictures) {
        (true, 1) => "Picture".into(),
        (true, n) if n > 1 => format!("{n} pictures"),
        _ => preview(body),
    }
}

fn preview(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 80 {
        format!("{}…", flat.chars().take(79).collect::<String>())
    } else {
        flat
    }
}

/// Finds or creates the conversation between an owned number and `peer`; returns its id.
async fn conversation_for(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    number_id: &str,
    peer: &str,
) -> AppResult<String> {
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
    let (id,): (String,) =
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
    user_id: &str,
    number_id: &str,
    to: &str,
    body: &str,
    media_ids: &[String],
) -> AppResult<String> {
    if body.trim().is_empty() && media_ids.is_empty() {
        return Err(AppError::invalid("Write a message first."));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::invalid(format!(
            "Messages can be at most {MAX_BODY_CHARS} characters."
        )));
    }
    let number: Option<(String,)> =
        sqlx::query_as("SELECT e164 FROM phone_numbers WHERE id = $1 AND user_id = $2")
            .bind(number_id)
            .bind(user_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((from,)) = number else {
        return Err(AppError::not_found("That number"));
    };
    let region = phone::region_of(&from).unwrap_or_else(|| "US".into());
    let peer = phone::parse(to, &region)?;
    if peer == from {
        return Err(AppError::invalid("A number can't text itself."));
    }
    let segments = crate::sms::count(body).segments as i64;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let conversation_id = conversation_for(&mut tx, user_id, number_id, &peer).await?;
    let message_id = crypto::new_id();
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, user_id, direction, body, status, segments, created_at, updated_at)
         VALUES ($1, $2, $3, 'out', $4, 'queued', $5, $6, $6)",
    )
    .bind(&message_id)
    .bind(&conversation_id)
    .bind(user_id)
    .bind(body)
    .bind(segments)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    super::media::attach(&mut tx, state, user_id, &message_id, media_ids).await?;
    sqlx::query("UPDATE conversations SET last_at = $1, last_preview = $2 WHERE id = $3")
        .bind(now)
        .bind(preview_with_media(body, media_ids.len()))
        .bind(&conversation_id)
        .execute(&mut *tx)
        .await?;
    jobs::enqueue(
        &mut tx,
        &Job::SendMessage {
            message_id: message_id.clone(),
        },
        now,
    )
    .await?;
    let published = vec![
        EventBus::record(
            &mut tx,
            user_id,
            &LiveEvent::Message {
                conversation_id: conversation_id.clone(),
                message_id,
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

/// A queued message, ready for the carrier.
pub struct Outbound {
    pub message: OutboundMessage,
    /// Set once a send was attempted whose outcome we never learnt (see [`mark_submitted`]).
    pub submitted_at: Option<i64>,
    /// The carrier of the sending number.
    pub carrier: super::carrier::config::CarrierKind,
}

/// What to hand the carrier for a queued message (None once it left the queue).
pub async fn outbound_for(state: &AppState, message_id: &str) -> AppResult<Option<Outbound>> {
    let row: Option<(String, String, String, Option<i64>, String)> = sqlx::query_as(
        "SELECT n.e164, c.peer, m.body, m.submitted_at, n.carrier FROM messages m
         JOIN conversations c ON c.id = m.conversation_id
         JOIN phone_numbers n ON n.id = c.number_id
         WHERE m.id = $1 AND m.status = 'queued'",
    )
    .bind(message_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((from, to, body, submitted_at, carrier)) = row else {
        return Ok(None);
    };
    let carrier = super::carrier::config::CarrierKind::parse(&carrier).unwrap_or_default();
    Ok(Some(Outbound {
        message: OutboundMessage {
            id: message_id.to_string(),
            from,
            to,
            body,
            media_urls: super::media::public_urls_for(state, message_id).await?,
            status_callback: status_callback(state, carrier, message_id),
        },
        submitted_at,
        carrier,
    }))
}

/// The webhook a message's delivery reports go to, naming the message.
pub fn status_callback(
    state: &AppState,
    carrier: super::carrier::config::CarrierKind,
    message_id: &str,
) -> String {
    let name = match carrier {
        super::carrier::config::CarrierKind::Sandbox => "sandbox",
        super::carrier::config::CarrierKind::Telnyx => "telnyx",
        super::carrier::config::CarrierKind::Twilio => "twilio",
    };
    format!(
        "{}/webhooks/{name}?message={message_id}",
        state.settings.base_url()
    )
}

/// Records, before the carrier is called, that this message is being handed over: if we
/// never learn the answer (a crash, a timeout), the next try knows it may have arrived and
/// waits for its delivery report instead of sending it again.
pub async fn mark_submitted(state: &AppState, message_id: &str) -> AppResult<()> {
    sqlx::query("UPDATE messages SET submitted_at = $1 WHERE id = $2 AND status = 'queued'")
        .bind(now_ms())
        .bind(message_id)
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// The carrier said no (it did not take the message): a later try may send it.
pub async fn clear_submitted(state: &AppState, message_id: &str) -> AppResult<()> {
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
    message_id: &str,
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

/// Moves a message to `status` if that is forward; records the live event. Returns the
/// published event when something changed.
async fn advance(
    tx: &mut Transaction<'_, Any>,
    message_id: &str,
    status: MessageStatus,
    error_code: Option<&str>,
    carrier_message_id: Option<&str>,
) -> AppResult<Option<Published>> {
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT user_id, conversation_id, status FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((user_id, conversation_id, current)) = row else {
        return Ok(None);
    };
    let current = MessageStatus::parse(&current).unwrap_or(MessageStatus::Queued);
    if status.rank() <= current.rank() {
        return Ok(None);
    }
    // The status condition makes "forward only" hold even against a concurrent update
    // (PostgreSQL's READ COMMITTED would otherwise let a stale read overwrite a newer status).
    let behind: Vec<&str> = MessageStatus::ALL
        .iter()
        .filter(|s| s.rank() < status.rank())
        .map(|s| s.as_str())
        .collect();
    let placeholders = super::db::placeholders(6, behind.len());
    let sql = format!(
        "UPDATE messages SET status = $1, error_code = COALESCE($2, error_code),
         carrier_message_id = COALESCE($3, carrier_message_id), updated_at = $4
         WHERE id = $5 AND status IN ({placeholders})"
    );
    let mut update = sqlx::query(&sql)
        .bind(status.as_str())
        .bind(error_code)
        .bind(carrier_message_id)
        .bind(now_ms())
        .bind(message_id);
    for s in &behind {
        update = update.bind(*s);
    }
    if update.execute(&mut **tx).await?.rows_affected() == 0 {
        return Ok(None);
    }
    let event = LiveEvent::Message {
        conversation_id,
        message_id: message_id.to_string(),
    };
    Ok(Some(EventBus::record(tx, &user_id, &event).await?))
}

/// The carrier took the message: note its id and finish the job, atomically.
pub async fn mark_handed_over(
    state: &AppState,
    job_id: &str,
    message_id: &str,
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
    job_id: &str,
    message_id: &str,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    Stored,
    /// Seen before (carriers deliver at least once): nothing changed.
    Duplicate,
    /// Addressed to a number nobody here owns: acknowledged and dropped.
    NoOwner,
    /// A status for a message we don't know (yet): the carrier should retry later.
    UnknownMessage,
}

/// An event waiting for the ingestor, and where its outcome goes.
pub struct PendingIngest {
    carrier: String,
    event: CarrierEvent,
    reply: tokio::sync::oneshot::Sender<AppResult<Ingested>>,
}

/// Most events one transaction takes.
const MAX_GROUP: usize = 64;

/// The one ingestion path for what carriers report, webhook or sandbox alike.
///
/// Events are stored by one ingestor task in groups: whatever arrived while the previous
/// group was being written shares the next transaction (carriers post concurrently), so the
/// commit and the pages it writes are paid once per group rather than once per event. An
/// idle instance still stores a lone event at once.
pub async fn ingest(state: &AppState, carrier: &str, event: &CarrierEvent) -> AppResult<Ingested> {
    let (reply, outcome) = tokio::sync::oneshot::channel();
    let pending = PendingIngest {
        carrier: carrier.to_string(),
        event: event.clone(),
        reply,
    };
    // The ingestor runs for as long as the app (and so this queue's sender) lives.
    state
        .ingest_queue
        .send(pending)
        .map_err(|_| AppError::internal("the ingestor stopped"))?;
    outcome
        .await
        .map_err(|_| AppError::internal("the ingestor stopped"))?
}

/// Runs the ingestor: takes the queue's events a group at a time until the app ends.
pub async fn run_ingestor(
    state: super::WeakAppState,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<PendingIngest>,
) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let Some(state) = state.upgrade() else { return };
        ingest_group(&state, group).await;
    }
}

async fn ingest_group(state: &AppState, group: Vec<PendingIngest>) {
    let events: Vec<(&str, &CarrierEvent)> = group
        .iter()
        .map(|pending| (pending.carrier.as_str(), &pending.event))
        .collect();
    match ingest_together(state, &events).await {
        Ok(outcomes) => {
            for (pending, outcome) in group.into_iter().zip(outcomes) {
                let _ = pending.reply.send(Ok(outcome));
            }
        }
        // One event failed and took the group's transaction with it: store each alone, so
        // only the failing one reports its error (and its carrier retries it).
        Err(_) if group.len() > 1 => {
            for pending in group {
                let outcome = ingest_together(state, &[(&pending.carrier, &pending.event)])
                    .await
                    .map(|mut outcomes| outcomes.remove(0));
                let _ = pending.reply.send(outcome);
            }
        }
        Err(e) => {
            for pending in group {
                let _ = pending.reply.send(Err(e.clone()));
            }
        }
    }
}

/// Stores `events` in one transaction, then tells open tabs and the job worker.
async fn ingest_together(
    state: &AppState,
    events: &[(&str, &CarrierEvent)],
) -> AppResult<Vec<Ingested>> {
    let mut tx = state.db.begin().await?;
    let stored = ingest_in(&mut tx, events).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, stored.published).await;
    if stored.queued_jobs {
        // Only then: the worker's look for work takes the (on SQLite, single) writer.
        state.jobs_waker.notify_one();
    }
    Ok(stored.outcomes)
}

/// Events inside the caller's transaction, each recorded once by its carrier's event id,
/// then stored (inbound texts, all of them together) or applied (statuses, forward only).
async fn ingest_in(
    tx: &mut Transaction<'_, Any>,
    events: &[(&str, &CarrierEvent)],
) -> AppResult<Stored> {
    let fresh = first_sightings(tx, events).await?;
    let mut stored = Stored {
        outcomes: vec![Ingested::Duplicate; events.len()],
        published: Vec::new(),
        queued_jobs: false,
    };
    let mut texts = Vec::new();
    for (index, &(carrier, event)) in events.iter().enumerate() {
        if !fresh[index] {
            continue;
        }
        match event {
            CarrierEvent::Inbound {
                carrier_message_id,
                from,
                to,
                body,
                media,
                ..
            } => texts.push(InboundText {
                index,
                carrier_message_id,
                from,
                to,
                body,
                media,
            }),
            CarrierEvent::Status {
                event_id,
                carrier_message_id,
                status,
                error_code,
            } => {
                let found: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM messages WHERE carrier_message_id = $1")
                        .bind(carrier_message_id)
                        .fetch_optional(&mut **tx)
                        .await?;
                let Some((message_id,)) = found else {
                    // Forget the event again, so the carrier's redelivery is processed.
                    sqlx::query("DELETE FROM webhook_events WHERE carrier = $1 AND event_id = $2")
                        .bind(carrier)
                        .bind(event_id)
                        .execute(&mut **tx)
                        .await?;
                    stored.outcomes[index] = Ingested::UnknownMessage;
                    continue;
                };
                let status = match status {
                    DeliveryStatus::Sent => MessageStatus::Sent,
                    DeliveryStatus::Delivered => MessageStatus::Delivered,
                    DeliveryStatus::Failed => MessageStatus::Failed,
                };
                stored
                    .published
                    .extend(advance(tx, &message_id, status, error_code.as_deref(), None).await?);
                stored.outcomes[index] = Ingested::Stored;
            }
        }
    }
    if !texts.is_empty() {
        store_inbound(tx, &texts, &mut stored).await?;
    }
    Ok(stored)
}

/// Records the events' ids in one statement; says for each event whether this is the first
/// time it is seen (a redelivery, or a second copy in the same group, is not).
async fn first_sightings(
    tx: &mut Transaction<'_, Any>,
    events: &[(&str, &CarrierEvent)],
) -> AppResult<Vec<bool>> {
    let event_id = |event: &CarrierEvent| match event {
        CarrierEvent::Inbound { event_id, .. } | CarrierEvent::Status { event_id, .. } => {
            event_id.clone()
        }
    };
    let sql = format!(
        "INSERT INTO webhook_events (carrier, event_id, received_at) VALUES {}
         ON CONFLICT (carrier, event_id) DO NOTHING RETURNING carrier, event_id",
        super::db::value_rows(events.len(), 3)
    );
    let mut insert = sqlx::query_as(&sql);
    let now = now_ms();
    for &(carrier, event) in events {
        insert = insert.bind(carrier).bind(event_id(event)).bind(now);
    }
    let mut inserted: std::collections::HashSet<(String, String)> =
        insert.fetch_all(&mut **tx).await?.into_iter().collect();
    Ok(events
        .iter()
        .map(|&(carrier, event)| inserted.remove(&(carrier.to_string(), event_id(event))))
        .collect())
}

/// What storing a group of events did.
struct Stored {
    /// Each event's outcome, in the group's order.
    outcomes: Vec<Ingested>,
    /// Live events to announce after commit.
    published: Vec<Published>,
    /// Picture fetches or push alerts were queued for the job worker.
    queued_jobs: bool,
}

/// A fresh inbound text of the group being stored.
struct InboundText<'a> {
    /// Its place in the group (where its outcome goes).
    index: usize,
    carrier_message_id: &'a str,
    from: &'a str,
    to: &'a str,
    body: &'a str,
    media: &'a [carrier::MediaRef],
}

/// A conversation the group's texts land in.
struct Landing {
    number_id: String,
    peer: String,
    user_id: String,
    texts: i64,
    last_line: String,
    id: String,
}

/// Stores inbound texts in a fixed number of statements however many there are (ingest
/// throughput is counted in statements, each a round trip to the database's writer): the
/// numbers' "last inbound" set, returning who owns them (and whether they have devices to
/// alert); the conversations created or bumped; the messages; each owner's live events.
/// Pictures and push alerts add their own rows.
async fn store_inbound(
    tx: &mut Transaction<'_, Any>,
    texts: &[InboundText<'_>],
    group: &mut Stored,
) -> AppResult<()> {
    use std::collections::HashMap;

    // The numbers texted: their "last inbound" is now, and who owns them, by number.
    let now = now_ms();
    let mut numbers: Vec<&str> = texts.iter().map(|text| text.to).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let sql = format!(
        "UPDATE phone_numbers SET last_inbound_at = $1 WHERE e164 IN ({})
         RETURNING e164, id, user_id,
             (SELECT COUNT(*) FROM push_subscriptions s WHERE s.user_id = phone_numbers.user_id)",
        super::db::placeholders(2, numbers.len())
    );
    let mut lookup = sqlx::query_as(&sql).bind(now);
    for number in &numbers {
        lookup = lookup.bind(*number);
    }
    let owners: HashMap<String, (String, String, i64)> = lookup
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(
            |(e164, number_id, user_id, devices): (String, String, String, i64)| {
                (e164, (number_id, user_id, devices))
            },
        )
        .collect();

    // Conversations: one row each, however many of the group's texts land in it (a
    // statement may not upsert the same row twice on PostgreSQL).
    let mut landings: Vec<Landing> = Vec::new();
    let mut landing_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut stored = Vec::new(); // (text, landing)
    for text in texts {
        let Some((number_id, user_id, _)) = owners.get(text.to) else {
            tracing::warn!(to = %text.to, "inbound text for a number nobody owns here; dropped");
            group.outcomes[text.index] = Ingested::NoOwner;
            continue;
        };
        let line = preview_with_media(text.body, text.media.len());
        let landing = *landing_of
            .entry((number_id.as_str(), text.from))
            .or_insert_with(|| {
                landings.push(Landing {
                    number_id: number_id.clone(),
                    peer: text.from.to_string(),
                    user_id: user_id.clone(),
                    texts: 0,
                    last_line: String::new(),
                    id: crypto::new_id(),
                });
                landings.len() - 1
            });
        landings[landing].texts += 1;
        landings[landing].last_line = line;
        stored.push((text, landing));
    }
    if stored.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO conversations (id, user_id, number_id, peer, last_at, last_preview, unread)
         VALUES {}
         ON CONFLICT (number_id, peer) DO UPDATE SET last_at = excluded.last_at,
             last_preview = excluded.last_preview, unread = conversations.unread + excluded.unread
         RETURNING id, number_id, peer",
        super::db::value_rows(landings.len(), 7)
    );
    let mut upsert = sqlx::query_as(&sql);
    for landing in &landings {
        upsert = upsert
            .bind(&landing.id)
            .bind(&landing.user_id)
            .bind(&landing.number_id)
            .bind(&landing.peer)
            .bind(now)
            .bind(&landing.last_line)
            .bind(landing.texts);
    }
    let ids: Vec<(String, String, String)> = upsert.fetch_all(&mut **tx).await?;
    for (id, number_id, peer) in ids {
        // An existing conversation keeps its id: learn it.
        if let Some(&landing) = landing_of.get(&(number_id.as_str(), peer.as_str())) {
            landings[landing].id = id;
        }
    }

    // The messages, in arrival order.
    let message_ids: Vec<String> = stored.iter().map(|_| crypto::new_id()).collect();
    let sql = format!(
        "INSERT INTO messages (id, conversation_id, user_id, direction, body, status, segments, carrier_message_id, created_at, updated_at)
         VALUES {}",
        super::db::value_rows(stored.len(), 10)
    );
    let mut insert = sqlx::query(&sql);
    for ((text, landing), message_id) in stored.iter().zip(&message_ids) {
        let landing = &landings[*landing];
        insert = insert
            .bind(message_id)
            .bind(&landing.id)
            .bind(&landing.user_id)
            .bind("in")
            .bind(text.body)
            .bind(MessageStatus::Received.as_str())
            .bind(crate::sms::count(text.body).segments.max(1) as i64)
            .bind(text.carrier_message_id)
            .bind(now)
            .bind(now);
    }
    insert.execute(&mut **tx).await?;

    // Pictures to fetch and alerts to send, per text; then each owner's live events.
    let mut live: Vec<(&str, Vec<LiveEvent>)> = Vec::new();
    for ((text, landing), message_id) in stored.iter().zip(message_ids) {
        let landing = &landings[*landing];
        super::media::record_inbound(tx, &landing.user_id, &message_id, text.media).await?;
        group.queued_jobs |= !text.media.is_empty();
        if owners[text.to].2 > 0 {
            group.queued_jobs = true;
            // Alerts for the owner's devices go out through the job queue, after commit.
            let region = phone::region_of(text.to).unwrap_or_else(|| "US".into());
            super::push::notify_inbound(
                tx,
                &landing.user_id,
                &landing.id,
                &phone::display(text.from, &region),
                &preview_with_media(text.body, text.media.len()),
            )
            .await?;
        }
        let event = LiveEvent::Message {
            conversation_id: landing.id.clone(),
            message_id,
        };
        match live.iter_mut().find(|(user, _)| *user == landing.user_id) {
            Some((_, events)) => events.push(event),
            None => live.push((&landing.user_id, vec![event])),
        }
        group.outcomes[text.index] = Ingested::Stored;
    }
    for (user_id, mut events) in live {
        events.push(LiveEvent::Conversations);
        group
            .published
            .extend(EventBus::record_all(tx, user_id, &events).await?);
    }
    Ok(())
}

type ConversationRow = (String, String, String, String, String, i64, String, i64);

const CONVERSATION_COLUMNS: &str =
    "c.id, c.number_id, n.e164, n.name, c.peer, c.last_at, c.last_preview, c.unread";

fn summary(row: ConversationRow) -> ConversationSummary {
    let (id, number_id, number_e164, number_name, peer, last_at, preview, unread) = row;
    let region = phone::region_of(&number_e164).unwrap_or_else(|| "US".into());
    ConversationSummary {
        id,
        number_id,
        number_display: phone::display(&number_e164, &region),
        number_name,
        peer_display: phone::display(&peer, &region),
        peer,
        last_at,
        preview,
        unread,
    }
}

/// The user's conversations, most recent first.
pub async fn list(db: &Db, user_id: &str) -> AppResult<Vec<ConversationSummary>> {
    let rows: Vec<ConversationRow> = sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c JOIN phone_numbers n ON n.id = c.number_id
         WHERE c.user_id = $1 ORDER BY c.last_at DESC LIMIT 200"
    ))
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(summary).collect())
}

pub async fn unread_total(db: &Db, user_id: &str) -> AppResult<i64> {
    // SUM is NUMERIC on PostgreSQL: cast back to BIGINT so both engines return an integer.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(unread), 0) AS BIGINT) FROM conversations WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(db.pool())
    .await?;
    Ok(n)
}

/// One conversation with its latest messages (oldest first). Another user's is "not found".
pub async fn thread(db: &Db, user_id: &str, conversation_id: &str) -> AppResult<Thread> {
    let row: Option<ConversationRow> = sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c JOIN phone_numbers n ON n.id = c.number_id
         WHERE c.id = $1 AND c.user_id = $2"
    ))
    .bind(conversation_id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Err(AppError::not_found("That conversation"));
    };
    let rows: Vec<(String, String, String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, direction, body, status, error_code, created_at FROM messages
         WHERE conversation_id = $1 AND user_id = $2 ORDER BY created_at DESC, id DESC LIMIT 200",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut media = super::media::views_for(db, user_id, &ids).await?;
    let mut messages: Vec<MessageView> = rows
        .into_iter()
        .map(|(id, direction, body, status, error_code, created_at)| {
            let status = MessageStatus::parse(&status).unwrap_or(MessageStatus::Queued);
            MessageView {
                outgoing: direction == "out",
                body,
                failure: (status == MessageStatus::Failed)
                    .then(|| carrier::errors::explain(error_code.as_deref().unwrap_or("unknown"))),
                status,
                created_at,
                media: media.remove(&id).unwrap_or_default(),
                id,
            }
        })
        .collect();
    messages.reverse();
    Ok(Thread {
        conversation: summary(row),
        messages,
    })
}

pub async fn mark_read(state: &AppState, user_id: &str, conversation_id: &str) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE conversations SET unread = 0 WHERE id = $1 AND user_id = $2 AND unread > 0",
    )
    .bind(conversation_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let published = if done.rows_affected() > 0 {
        vec![EventBus::record(&mut tx, user_id, &LiveEvent::Conversations).await?]
    } else {
        Vec::new()
    };
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(())
}

pub async fn delete(state: &AppState, user_id: &str, conversation_id: &str) -> AppResult<()> {
    let pictures: Vec<(String,)> = sqlx::query_as(
        "SELECT m.id FROM media m JOIN messages g ON g.id = m.message_id
         WHERE g.conversation_id = $1 AND m.user_id = $2",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_all(state.db.pool())
    .await?;
    let mut tx = state.db.begin().await?;
    // Queued sends of this conversation are cancelled with it (their job finds no message).
    sqlx::query("DELETE FROM messages WHERE conversation_id = $1 AND user_id = $2")
        .bind(conversation_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM conversations WHERE id = $1 AND user_id = $2")
        .bind(conversation_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That conversation"));
    }
    let published = vec![EventBus::record(&mut tx, user_id, &LiveEvent::Conversations).await?];
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    // The rows went with their messages; the bytes go now.
    for (id,) in pictures {
        if let Err(e) = state.media.delete(&id).await {
            tracing::warn!(media = %id, error = %e, "could not delete a picture's file");
        }
    }
    Ok(())
}

/// Messages of the user containing `query` (case-insensitive), newest first.
pub async fn search(db: &Db, user_id: &str, query: &str) -> AppResult<Vec<SearchHit>> {
    let query = query.trim();
    if query.is_empty() {
        return Ok(Vec::new());
    }
    if query.chars().count() > 100 {
        return Err(AppError::invalid("Search for at most 100 characters."));
    }
    let escaped = query
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT m.conversation_id, n.e164, c.peer, m.body, m.created_at FROM messages m
         JOIN conversations c ON c.id = m.conversation_id JOIN phone_numbers n ON n.id = c.number_id
         WHERE m.user_id = $1 AND LOWER(m.body) LIKE $2 ESCAPE '\\'
         ORDER BY m.created_at DESC LIMIT 50",
    )
    .bind(user_id)
    .bind(format!("%{escaped}%"))
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(conversation_id, number, peer, body, created_at)| {
            let region = phone::region_of(&number).unwrap_or_else(|| "US".into());
            SearchHit {
                conversation_id,
                peer_display: phone::display(&peer, &region),
                body,
                created_at,
            }
        })
        .collect())
}
