//! The one event bus everything live comes from.
//!
//! A change records its event in the same transaction (per-user sequence, so the SSE stream
//! can replay what a reconnecting tab missed) and announces it after commit: in-process on
//! SQLite (one instance), through PostgreSQL `NOTIFY` on PostgreSQL, so every instance sharing
//! the database hears it and forwards it to its own open tabs.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use sqlx::{Any, Transaction};
use tokio::sync::broadcast;

use super::accounts::sessions::Authenticated;
use super::ids::{SessionId, UserId};
use super::{now_ms, AppState, Backend, Db};
use crate::error::{AppError, AppResult};
use crate::types::LiveEvent;

const CHANNEL: &str = "switchboard_events";
/// A note on [`CHANNEL`] saying a user's sessions ended (others are `user_id:seq`).
const ENDED_PREFIX: &str = "ended:";
/// Events older than this are purged; a tab away longer reloads instead of replaying.
pub const KEEP_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone)]
pub struct Published {
    pub user_id: UserId,
    pub seq: i64,
    pub event: LiveEvent,
}

/// Open live streams per user on one instance; more are refused (each holds a connection
/// and a task, and a tab needs one).
pub const MAX_STREAMS_PER_USER: usize = 12;
/// How often an open stream checks that its session still lasts, in case the word that it
/// ended came from another instance and was missed.
const SESSION_CHECK: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Published>,
    /// User ids whose sessions just ended (sign-out, revoked, disabled, password changed):
    /// their open streams check their own session at once and close if it is gone.
    sessions_ended: broadcast::Sender<UserId>,
    /// Open streams per user on this instance.
    streams: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<UserId, usize>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            local: broadcast::channel(1024).0,
            sessions_ended: broadcast::channel(256).0,
            streams: Default::default(),
        }
    }
}

/// One open stream of a user, counted until dropped.
struct StreamSlot {
    streams: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<UserId, usize>>>,
    user_id: UserId,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = streams.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                streams.remove(&self.user_id);
            }
        }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.local.subscribe()
    }

    /// A slot for one more open stream of `user_id`, or None at the cap.
    fn open_stream(&self, user_id: &UserId) -> Option<StreamSlot> {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let n = streams.entry(user_id.clone()).or_insert(0);
        if *n >= MAX_STREAMS_PER_USER {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            streams: self.streams.clone(),
            user_id: user_id.clone(),
        })
    }

    /// Says that some of `user_id`'s sessions ended, on every instance: their live streams
    /// close now rather than at their next check.
    pub async fn sessions_ended(&self, db: &Db, user_id: &UserId) {
        match db.backend() {
            Backend::Sqlite => {
                let _ = self.sessions_ended.send(user_id.clone());
            }
            Backend::Postgres => {
                let note = format!("{ENDED_PREFIX}{user_id}");
                if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(note)
                    .execute(db.pool())
                    .await
                {
                    tracing::error!(error = %e, "NOTIFY failed; closing local streams only");
                    let _ = self.sessions_ended.send(user_id.clone());
                }
            }
        }
    }

    /// Records `event` for `user_id` inside `tx`; announce the result after commit.
    pub async fn record(
        tx: &mut Transaction<'_, Any>,
        user_id: &UserId,
        event: &LiveEvent,
    ) -> AppResult<Published> {
        let mut recorded = EventBus::record_all(tx, user_id, std::slice::from_ref(event)).await?;
        Ok(recorded.remove(0))
    }

    /// Records several events for one user in two statements (one sequence bump, one
    /// multi-row insert): ingestion records a whole group's events for a user at once, and
    /// statements are what its throughput is made of.
    pub async fn record_all(
        tx: &mut Transaction<'_, Any>,
        user_id: &UserId,
        events: &[LiveEvent],
    ) -> AppResult<Vec<Published>> {
        let n = events.len() as i64;
        let (last,): (i64,) = sqlx::query_as(
            "UPDATE users SET event_seq = event_seq + $1 WHERE id = $2 RETURNING event_seq",
        )
        .bind(n)
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
        let sql = format!(
            "INSERT INTO events (user_id, seq, kind, payload, created_at) VALUES {}",
            super::db::value_rows(events.len(), 5)
        );
        let mut insert = sqlx::query(&sql);
        let now = now_ms();
        let mut published = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            let seq = last - n + 1 + i as i64;
            insert = insert
                .bind(user_id)
                .bind(seq)
                .bind(event_kind(event))
                .bind(serde_json::to_string(event).map_err(AppError::internal)?)
                .bind(now);
            published.push(Published {
                user_id: user_id.clone(),
                seq,
                event: event.clone(),
            });
        }
        insert.execute(&mut **tx).await?;
        Ok(published)
    }

    /// Tells every open tab (on every instance) about committed events.
    pub async fn announce(&self, db: &Db, events: Vec<Published>) {
        for published in events {
            match db.backend() {
                Backend::Sqlite => {
                    let _ = self.local.send(published);
                }
                Backend::Postgres => {
                    let note = format!("{}:{}", published.user_id, published.seq);
                    if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(note)
                        .execute(db.pool())
                        .await
                    {
                        tracing::error!(error = %e, "NOTIFY failed; delivering locally only");
                        let _ = self.local.send(published);
                    }
                }
            }
        }
    }

    /// PostgreSQL only: forwards every instance's events to this instance's tabs.
    pub fn listen_to_postgres(&self, db: Db) {
        let local = self.local.clone();
        let sessions_ended = self.sessions_ended.clone();
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(db.url()).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(CHANNEL).await {
                            tracing::error!(error = %e, "LISTEN failed");
                        } else {
                            while let Ok(note) = listener.recv().await {
                                if let Some(user_id) = note.payload().strip_prefix(ENDED_PREFIX) {
                                    let _ = sessions_ended.send(UserId::new(user_id));
                                    continue;
                                }
                                let Some((user_id, seq)) = note.payload().rsplit_once(':') else {
                                    continue;
                                };
                                let Ok(seq) = seq.parse::<i64>() else {
                                    continue;
                                };
                                let user_id = UserId::new(user_id);
                                if let Ok(Some(p)) = load_one(&db, &user_id, seq).await {
                                    let _ = local.send(p);
                                }
                            }
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot connect the event listener"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

fn event_kind(event: &LiveEvent) -> &'static str {
    match event {
        LiveEvent::Message { .. } => "message",
        LiveEvent::Conversations => "conversations",
        LiveEvent::Numbers => "numbers",
        LiveEvent::Calls => "calls",
        LiveEvent::Resync => "resync",
    }
}

fn decode(user_id: &UserId, seq: i64, payload: &str) -> Option<Published> {
    let event = serde_json::from_str(payload).ok()?;
    Some(Published {
        user_id: user_id.clone(),
        seq,
        event,
    })
}

async fn load_one(db: &Db, user_id: &UserId, seq: i64) -> AppResult<Option<Published>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT payload FROM events WHERE user_id = $1 AND seq = $2")
            .bind(user_id)
            .bind(seq)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.and_then(|(payload,)| decode(user_id, seq, &payload)))
}

/// Events of `user_id` after `after_seq`, oldest first.
pub async fn backlog(db: &Db, user_id: &UserId, after_seq: i64) -> AppResult<Vec<Published>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT seq, payload FROM events WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000",
    )
    .bind(user_id)
    .bind(after_seq)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(seq, payload)| decode(user_id, seq, &payload))
        .collect())
}

/// Most events replayed to a reconnecting tab; beyond that it refetches everything.
const MAX_REPLAY: usize = 1000;

/// What a tab that saw events up to `after` missed: the events, or, when some of them are
/// gone (purged after [`KEEP_MS`], or more than [`MAX_REPLAY`]), one `resync` event that
/// makes the tab refetch everything instead of silently missing what it can't be told.
async fn replay(db: &Db, user_id: &UserId, after: i64) -> AppResult<Vec<Published>> {
    let events = backlog(db, user_id, after).await?;
    let current = current_seq(db, user_id).await?;
    let complete = match events.first() {
        Some(first) => first.seq == after + 1 && events.len() < MAX_REPLAY,
        None => current <= after,
    };
    if complete {
        return Ok(events);
    }
    Ok(vec![Published {
        user_id: user_id.clone(),
        seq: current,
        event: LiveEvent::Resync,
    }])
}

/// The user's current position: a new tab starts from here.
async fn current_seq(db: &Db, user_id: &UserId) -> AppResult<i64> {
    let (seq,): (i64,) = sqlx::query_as("SELECT event_seq FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(db.pool())
        .await?;
    Ok(seq)
}

pub async fn purge_old(db: &Db) -> AppResult<u64> {
    let done = sqlx::query("DELETE FROM events WHERE created_at < $1")
        .bind(now_ms() - KEEP_MS)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

fn to_sse(p: &Published) -> Event {
    Event::default()
        .id(p.seq.to_string())
        .event("live")
        .data(serde_json::to_string(&p.event).unwrap_or_default())
}

/// The number in the query parameter `name`, if any.
fn query_number(req: &Request, name: &str) -> Option<i64> {
    req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<i64>().ok())
    })
}

/// How far back a first connection looks: a page takes no longer than this to start.
const FIRST_LOOK_BACK_MS: i64 = 60_000;
/// The stream request's own trip, added to the page's age. Events from before the page
/// was asked for are in it already; replaying them only makes the fresh page refetch.
const TRIP_MS: i64 = 500;

/// Where a tab's first stream starts (the user's current position) and the events it may
/// have missed: those recorded since its page was asked for, `age_ms` ago (plus the
/// stream request's trip; an event replayed twice only refetches twice). Without an age, none.
async fn first_connection(
    db: &Db,
    user_id: &UserId,
    age_ms: Option<i64>,
) -> AppResult<(i64, Vec<Published>)> {
    let current = current_seq(db, user_id).await?;
    let Some(age) = age_ms else {
        return Ok((current, Vec::new()));
    };
    let since = now_ms() - age.clamp(0, FIRST_LOOK_BACK_MS) - TRIP_MS;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT seq, payload FROM events WHERE user_id = $1 AND created_at >= $2 AND seq <= $3
         ORDER BY seq LIMIT $4",
    )
    .bind(user_id)
    .bind(since)
    .bind(current)
    .bind(MAX_REPLAY as i64)
    .fetch_all(db.pool())
    .await?;
    if rows.len() >= MAX_REPLAY {
        let resync = Published {
            user_id: user_id.clone(),
            seq: current,
            event: LiveEvent::Resync,
        };
        return Ok((current, vec![resync]));
    }
    let events = rows
        .into_iter()
        .filter_map(|(seq, payload)| decode(user_id, seq, &payload))
        .collect();
    Ok((current, events))
}

/// `GET /events`: the signed-in user's live stream. Resumes after `Last-Event-ID` (the browser
/// sends it when it reconnects), so a dropped connection loses nothing.
pub async fn stream_handler(State(state): State<AppState>, req: Request) -> Response {
    let Some(auth) = req.extensions().get::<Authenticated>().cloned() else {
        return (http::StatusCode::UNAUTHORIZED, "Please sign in.").into_response();
    };
    let user_id = auth.user_id();
    // Online from now (calls::presence); the session check below keeps it so.
    let _ = crate::server::calls::presence::seen(&state.db, &user_id).await;
    let Some(slot) = state.bus.open_stream(&user_id) else {
        return (
            http::StatusCode::TOO_MANY_REQUESTS,
            "Too many open tabs for this account. Close some and reload.",
        )
            .into_response();
    };
    // The browser's own reconnect sends Last-Event-ID; the app's reconnect after a refused
    // connection names it in the URL.
    let after_param = query_number(&req, "after");
    let last_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .or(after_param);
    // Subscribe before reading the backlog, so nothing falls between the two.
    let receiver = state.bus.subscribe();
    let (start, backlog) = match last_id {
        Some(after) => match replay(&state.db, &user_id, after).await {
            Ok(events) => (after, events),
            Err(_) => {
                return (http::StatusCode::SERVICE_UNAVAILABLE, "Try again shortly.")
                    .into_response()
            }
        },
        // A tab's first connection: what happened since its page was asked for (it says how
        // long ago, by its own clock) would otherwise fall between the page and the stream.
        None => match first_connection(&state.db, &user_id, query_number(&req, "age")).await {
            Ok(found) => found,
            Err(_) => {
                return (http::StatusCode::SERVICE_UNAVAILABLE, "Try again shortly.")
                    .into_response()
            }
        },
    };
    let last_sent = backlog.last().map(|p| p.seq).unwrap_or(start).max(start);
    let replay = stream::iter(backlog.into_iter().map(|p| Ok::<_, Infallible>(to_sse(&p))));
    let watch = SessionWatch {
        db: state.db.clone(),
        session_id: auth.session_id.clone(),
        ended: state.bus.sessions_ended.subscribe(),
        tick: tokio::time::interval_at(tokio::time::Instant::now() + SESSION_CHECK, SESSION_CHECK),
        _slot: slot,
    };
    let live = live_stream(state.db.clone(), user_id, last_sent, receiver, watch);
    Sse::new(replay.chain(live))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// What ends a stream with its session: the word that the user's sessions ended, or a
/// periodic look at its own session. Holds the stream's slot in the per-user count.
struct SessionWatch {
    db: Db,
    session_id: SessionId,
    ended: broadcast::Receiver<UserId>,
    tick: tokio::time::Interval,
    _slot: StreamSlot,
}

impl SessionWatch {
    async fn still_signed_in(&self) -> bool {
        let found: Result<Option<(String,)>, _> =
            sqlx::query_as("SELECT id FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(&self.session_id)
                .bind(now_ms())
                .fetch_optional(self.db.pool())
                .await;
        // A database hiccup is not a sign-out; the next check decides.
        !matches!(found, Ok(None))
    }

    /// Returns when the session has ended.
    async fn ended(&mut self, user_id: &UserId) {
        loop {
            tokio::select! {
                note = self.ended.recv() => match note {
                    Ok(who) if who != *user_id => continue,
                    Err(broadcast::error::RecvError::Closed) => {
                        std::future::pending::<()>().await
                    }
                    _ => {}
                },
                _ = self.tick.tick() => {}
            }
            if !self.still_signed_in().await {
                return;
            }
            // Still here: online a while longer (calls::presence).
            let _ = crate::server::calls::presence::seen(&self.db, user_id).await;
        }
    }
}

fn live_stream(
    db: Db,
    user_id: UserId,
    last_sent: i64,
    receiver: broadcast::Receiver<Published>,
    watch: SessionWatch,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(
        (receiver, last_sent, Vec::<Published>::new(), watch),
        move |(mut rx, mut last, mut pending, mut watch)| {
            let db = db.clone();
            let user_id = user_id.clone();
            async move {
                loop {
                    if let Some(p) = pending.pop() {
                        last = p.seq;
                        return Some((Ok(to_sse(&p)), (rx, last, pending, watch)));
                    }
                    let received = tokio::select! {
                        received = rx.recv() => received,
                        // Signed out: the stream ends (the browser's reconnect then gets 401).
                        _ = watch.ended(&user_id) => return None,
                    };
                    match received {
                        Ok(p) if p.user_id == user_id && p.seq > last => {
                            last = p.seq;
                            return Some((Ok(to_sse(&p)), (rx, last, pending, watch)));
                        }
                        Ok(_) => continue,
                        // This tab fell behind the in-memory channel: catch up from storage.
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let mut missed = backlog(&db, &user_id, last).await.unwrap_or_default();
                            missed.reverse();
                            pending = missed;
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        },
    )
}
