//! Ingesting what carriers report: inbound texts and delivery statuses, each stored once,
//! in groups (one transaction for whatever arrived meanwhile).

use sqlx::{Any, Transaction};

use crate::error::{AppError, AppResult};
use crate::server::carrier::{CarrierEvent, DeliveryStatus};
use crate::server::events::{EventBus, Published};
use crate::server::{carrier, crypto, now_ms, phone, AppState};
use crate::types::{LiveEvent, MessageStatus};

use super::auto_reply;
use super::opt_out::{self, Keyword};
use super::{advance, preview_with_media};
use crate::server::carrier::config::CarrierKind;
use crate::server::ids::{ConversationId, MessageId, NumberId, UserId};

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
    carrier: CarrierKind,
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
pub async fn ingest(
    state: &AppState,
    carrier: CarrierKind,
    event: &CarrierEvent,
) -> AppResult<Ingested> {
    let (reply, outcome) = tokio::sync::oneshot::channel();
    let pending = PendingIngest {
        carrier,
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
    state: crate::server::WeakAppState,
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
                let outcome = ingest_together(state, &[(pending.carrier.as_str(), &pending.event)])
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

/// Stores `events` in one transaction, then tells open tabs and the job worker. (The
/// ingestor's step; public so tests can store a group of their choosing.)
pub async fn ingest_together(
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
                let found: Option<(MessageId,)> =
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
        crate::server::db::value_rows(events.len(), 3)
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
    number_id: NumberId,
    peer: String,
    user_id: UserId,
    texts: i64,
    last_line: String,
    id: ConversationId,
}

impl Landing {
    fn guarded(&self) -> auto_reply::Guarded<'_> {
        auto_reply::Guarded {
            conversation_id: &self.id,
            number_id: &self.number_id,
            peer: &self.peer,
        }
    }
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
    // (With how each number answers by itself: its away message and whether it has
    // keyword rules, so a group with no rules to read costs no statement more.)
    let sql = format!(
        "UPDATE phone_numbers SET last_inbound_at = $1 WHERE e164 IN ({})
         RETURNING e164, user_id,
             (SELECT COUNT(*) FROM push_subscriptions s WHERE s.user_id = phone_numbers.user_id),
             forward_email, {}",
        crate::server::db::placeholders(2, numbers.len()),
        auto_reply::REPLIER_COLUMNS
    );
    let mut lookup = sqlx::query_as(&sql).bind(now);
    for number in &numbers {
        lookup = lookup.bind(*number);
    }
    type OwnerRow = (
        String,
        UserId,
        i64,
        String,
        String,
        String,
        String,
        String,
        i64,
        i64,
        String,
        i64,
        i64,
    );
    let rows: Vec<OwnerRow> = lookup.fetch_all(&mut **tx).await?;
    // By number: (its id, its owner, how many devices they have for alerts, where its
    // texts are forwarded by email); and how each answers by itself.
    let mut owners: HashMap<String, (NumberId, UserId, i64, String)> = HashMap::new();
    let mut repliers = HashMap::new();
    let mut with_rules = Vec::new();
    for row in rows {
        let (
            e164,
            user_id,
            devices,
            forward,
            id,
            away,
            text,
            days,
            opens,
            closes,
            zone,
            dnd,
            rules,
        ) = row;
        let (number_id, replier) =
            auto_reply::replier_from((id, away, text, days, opens, closes, zone, dnd));
        if rules > 0 {
            with_rules.push(number_id.clone());
        }
        repliers.insert(number_id.clone(), replier);
        owners.insert(e164, (number_id, user_id, devices, forward));
    }

    // Conversations: one row each, however many of the group's texts land in it (a
    // statement may not upsert the same row twice on PostgreSQL).
    let mut landings: Vec<Landing> = Vec::new();
    let mut landing_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut stored = Vec::new(); // (text, landing)
    for text in texts {
        let Some((number_id, user_id, _, _)) = owners.get(text.to) else {
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
                    id: ConversationId::new(crypto::new_id()),
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
        crate::server::db::value_rows(landings.len(), 7)
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
    let ids: Vec<(ConversationId, String, String)> = upsert.fetch_all(&mut **tx).await?;
    for (id, number_id, peer) in ids {
        // An existing conversation keeps its id: learn it.
        if let Some(&landing) = landing_of.get(&(number_id.as_str(), peer.as_str())) {
            landings[landing].id = id;
        }
    }

    // The messages, in arrival order.
    let message_ids: Vec<MessageId> = stored
        .iter()
        .map(|_| MessageId::new(crypto::new_id()))
        .collect();
    let sql = format!(
        "INSERT INTO messages (id, conversation_id, user_id, direction, body, status, segments, carrier_message_id, created_at, updated_at)
         VALUES {}",
        crate::server::db::value_rows(stored.len(), 10)
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

    // Alerts name the sender as the owner's contacts do.
    let alerted: Vec<&str> = stored
        .iter()
        .filter(|(text, _)| owners[text.to].2 > 0)
        .map(|(text, _)| text.from)
        .collect();
    let names = contact_names(tx, &alerted).await?;
    // How the numbers texted answer by themselves (keyword rules, away messages).
    auto_reply::add_rules(tx, &mut repliers, &with_rules).await?;
    let guarded: Vec<auto_reply::Guarded> = landings
        .iter()
        .filter(|l| repliers.contains_key(&l.number_id))
        .map(Landing::guarded)
        .collect();
    let mut guard = auto_reply::Guard::load(tx, &guarded, now).await?;

    // Pictures to fetch, alerts to send and keywords to act on, per text; then each
    // owner's live events.
    let mut live: Vec<(&UserId, Vec<LiveEvent>)> = Vec::new();
    for ((text, landing), message_id) in stored.iter().zip(message_ids) {
        let landing = &landings[*landing];
        crate::server::media::record_inbound(tx, &landing.user_id, &message_id, text.media).await?;
        group.queued_jobs |= !text.media.is_empty();
        if !owners[text.to].3.is_empty() {
            let forward = crate::server::jobs::Job::ForwardEmail {
                message_id: message_id.clone(),
            };
            crate::server::jobs::enqueue(tx, &forward, now).await?;
            group.queued_jobs = true;
        }
        if owners[text.to].2 > 0 {
            group.queued_jobs = true;
            // Alerts for the owner's devices go out through the job queue, after commit.
            let region = phone::region_of(text.to).unwrap_or_else(|| "US".into());
            let sender = names
                .get(&(landing.user_id.to_string(), text.from.to_string()))
                .cloned()
                .unwrap_or_else(|| phone::display(text.from, &region));
            crate::server::push::notify_inbound(
                tx,
                &landing.user_id,
                &landing.id,
                crate::server::push::InboundAlert {
                    sender: &sender,
                    preview: &preview_with_media(text.body, text.media.len()),
                },
            )
            .await?;
        }
        let reply = match opt_out::keyword(text.body) {
            None => match repliers.get(&landing.number_id) {
                Some(replier) => {
                    answer_automatically(tx, replier, &mut guard, landing, text.body, now).await?
                }
                None => None,
            },
            Some(Keyword::Stop) => {
                opt_out::opt_out(tx, &landing.number_id, text.from, "keyword").await?;
                guard.set_opted_out(&landing.number_id, text.from, true);
                None
            }
            Some(Keyword::Start) => {
                opt_out::opt_in(tx, &landing.number_id, text.from).await?;
                guard.set_opted_out(&landing.number_id, text.from, false);
                None
            }
            Some(Keyword::Help) => {
                let reply = answer_help(tx, landing, now).await?;
                if reply.is_some() {
                    guard.sent(&landing.id, false);
                }
                reply
            }
        };
        if let Some(reply) = reply {
            group.queued_jobs = true;
            let event = LiveEvent::Message {
                conversation_id: landing.id.to_string(),
                message_id: reply.into_string(),
            };
            match live.iter_mut().find(|(user, _)| **user == landing.user_id) {
                Some((_, events)) => events.push(event),
                None => live.push((&landing.user_id, vec![event])),
            }
        }
        let event = LiveEvent::Message {
            conversation_id: landing.id.to_string(),
            message_id: message_id.into_string(),
        };
        match live.iter_mut().find(|(user, _)| **user == landing.user_id) {
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

/// The contact names of `peers` by (owner, number), for whoever has them as contacts.
async fn contact_names(
    tx: &mut Transaction<'_, Any>,
    peers: &[&str],
) -> AppResult<std::collections::HashMap<(String, String), String>> {
    if peers.is_empty() {
        return Ok(Default::default());
    }
    let mut peers = peers.to_vec();
    peers.sort_unstable();
    peers.dedup();
    let sql = format!(
        "SELECT n.user_id, n.e164, c.name FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id
         WHERE n.e164 IN ({})",
        crate::server::db::placeholders(1, peers.len())
    );
    let mut query = sqlx::query_as(&sql);
    for peer in &peers {
        query = query.bind(*peer);
    }
    let rows: Vec<(String, String, String)> = query.fetch_all(&mut **tx).await?;
    Ok(rows
        .into_iter()
        .map(|(user, e164, name)| ((user, e164), name))
        .collect())
}

/// Answers a HELP text with the number's help text, unless this peer was answered the same
/// within [`opt_out::HELP_REPLY_EVERY_MS`] (someone repeating HELP, or another auto-replier
/// answering ours, gets no loop). Answers the reply's id.
async fn answer_help(
    tx: &mut Transaction<'_, Any>,
    landing: &Landing,
    now: i64,
) -> AppResult<Option<MessageId>> {
    let (name, help_text): (String, String) =
        sqlx::query_as("SELECT name, help_text FROM phone_numbers WHERE id = $1")
            .bind(&landing.number_id)
            .fetch_one(&mut **tx)
            .await?;
    let body = if help_text.trim().is_empty() {
        opt_out::default_help(&name)
    } else {
        help_text
    };
    let (recent,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM messages WHERE conversation_id = $1 AND direction = 'out'
         AND body = $2 AND created_at > $3",
    )
    .bind(&landing.id)
    .bind(&body)
    .bind(now - opt_out::HELP_REPLY_EVERY_MS)
    .fetch_one(&mut **tx)
    .await?;
    if recent > 0 {
        return Ok(None);
    }
    let reply = super::queue_outbound(tx, &landing.user_id, &landing.id, &body, 0, now).await?;
    auto_reply::mark_automatic(tx, &reply).await?;
    Ok(Some(reply))
}

/// Answers a text with the number's first matching keyword rule, else its away message,
/// unless the peer opted out or the loop guard says enough (see [`auto_reply`]). Answers
/// the reply's id.
async fn answer_automatically(
    tx: &mut Transaction<'_, Any>,
    replier: &auto_reply::Replier,
    guard: &mut auto_reply::Guard,
    landing: &Landing,
    body: &str,
    now: i64,
) -> AppResult<Option<MessageId>> {
    let Some(answer) = replier.answer(body, now) else {
        return Ok(None);
    };
    if !guard.allows(&landing.guarded(), &answer) {
        return Ok(None);
    }
    let reply =
        super::queue_outbound(tx, &landing.user_id, &landing.id, answer.text(), 0, now).await?;
    auto_reply::mark_automatic(tx, &reply).await?;
    guard.sent(
        &landing.id,
        matches!(answer, auto_reply::Answer::Away { .. }),
    );
    Ok(Some(reply))
}
