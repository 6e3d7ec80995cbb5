//! The durable job queue: one table, claimed with a lease (and `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so several instances share it). A job survives a crash: until it completes,
//! its row stays, and another claim picks it up once the lease runs out.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};

use super::carrier::config::CarrierKind;
use super::carrier::{CallAction, CallEvent, CarrierError};
use super::ids::{JobId, MediaId, MessageId, PushSubscriptionId};
use super::{crypto, messaging, now_ms, AppState, Backend, Db};
use crate::error::{AppError, AppResult};
use crate::types::MediaState;

/// How long a claimed job is ours before another worker may take it over.
const LEASE_MS: i64 = 30_000;
/// Sends are tried this many times before the message is marked failed.
pub const MAX_ATTEMPTS: i64 = 6;
/// Claims of one job, whatever their outcome, after which it is given up: the cap on the
/// paths that don't count as tries (internal errors, waits for a delivery report).
pub const MAX_CLAIMS: i64 = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    SendMessage {
        message_id: MessageId,
    },
    /// Keep our copy of an inbound MMS picture (the carrier's URL expires).
    FetchMedia {
        media_id: MediaId,
    },
    /// A call still ringing now was not answered. Not `last`: a carrier call a tab is
    /// picking up rings on (the carrier's call to that browser decides); `last`, the
    /// backstop for that, ends it whatever.
    RingTimeout {
        session_id: String,
        #[serde(default)]
        last: bool,
        /// The timer of a call's forwarding phone, set when its ringing browsers' time ran
        /// out (calls/carrier.rs `forward_later`); theirs, run again, does nothing.
        #[serde(default)]
        forwarded: bool,
    },
    /// A command to a call a carrier holds (calls/carrier.rs). Its `command_id` makes a
    /// repeat harmless, so one whose answer was lost is sent again.
    CallCommand {
        carrier: String,
        call_id: String,
        action: CallAction,
        command_id: String,
        state: String,
    },
    /// What the sandbox carrier reports about a call it holds (carrier/sandbox.rs): acted on
    /// as a carrier's webhook is, once.
    SandboxCallEvent {
        event: CallEvent,
    },
    /// The sandbox's call `call_id` to the Simulator's outside phone has rung its time: if
    /// nobody answered, the sandbox reports it ended unanswered.
    SandboxRingEnded {
        call_id: String,
    },
    /// Keep our copy of a voicemail a carrier recorded (its link expires in minutes).
    FetchVoicemail {
        carrier: String,
        session_id: String,
        url: String,
    },
    /// Points the calls of a number bought before this instance's calls application at it
    /// (`numbers::route_calls_of_earlier_numbers`).
    RouteCalls {
        number_id: String,
    },
    /// A campaign's next texts (it queues the one after itself).
    CampaignTick {
        campaign_id: String,
    },
    /// An inbound text forwarded to its number's email address.
    ForwardEmail {
        message_id: MessageId,
    },
    /// One notification to one device.
    Push {
        subscription_id: PushSubscriptionId,
        payload: String,
        urgent: bool,
    },
}

impl Job {
    fn kind(&self) -> &'static str {
        match self {
            Job::SendMessage { .. } => "send_message",
            Job::FetchMedia { .. } => "fetch_media",
            Job::Push { .. } => "push",
            Job::RingTimeout { .. } => "ring_timeout",
            Job::CallCommand { .. } => "call_command",
            Job::SandboxCallEvent { .. } => "sandbox_call_event",
            Job::SandboxRingEnded { .. } => "sandbox_ring_ended",
            Job::FetchVoicemail { .. } => "fetch_voicemail",
            Job::ForwardEmail { .. } => "forward_email",
            Job::CampaignTick { .. } => "campaign_tick",
            Job::RouteCalls { .. } => "route_calls",
        }
    }
}

pub async fn enqueue(tx: &mut Transaction<'_, Any>, job: &Job, run_at: i64) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, run_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(crypto::new_id())
    .bind(job.kind())
    .bind(serde_json::to_string(job).map_err(AppError::internal)?)
    .bind(run_at)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct Claimed {
    pub id: JobId,
    pub job: Job,
    pub attempts: i64,
}

/// The kinds of job that share one worker. Each lane runs on its own, so a slow push
/// service or picture host never holds a text back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Texts to the carrier, one at a time, paced per number.
    Sends,
    /// Inbound pictures from carriers' media hosts, voicemails a carrier recorded, and
    /// earlier numbers' calls pointed at this instance: slow round trips nothing waits on.
    Pictures,
    /// Notifications to push services, several at once.
    Pushes,
    /// Call timers (a call nobody answered ends) and commands to carrier calls: quick, and
    /// never behind a slow send or download.
    Calls,
    /// Texts forwarded by email: a slow mail server holds back nothing else.
    Mail,
    /// Campaign ticks: each queues a second's worth of a campaign's texts.
    Campaigns,
}

impl Lane {
    pub const ALL: [Lane; 6] = [
        Lane::Sends,
        Lane::Pictures,
        Lane::Pushes,
        Lane::Calls,
        Lane::Mail,
        Lane::Campaigns,
    ];

    fn kinds(self) -> &'static [&'static str] {
        match self {
            Lane::Sends => &["send_message"],
            Lane::Pictures => &["fetch_media", "fetch_voicemail", "route_calls"],
            Lane::Pushes => &["push"],
            Lane::Calls => &[
                "ring_timeout",
                "call_command",
                "sandbox_call_event",
                "sandbox_ring_ended",
            ],
            Lane::Mail => &["forward_email"],
            Lane::Campaigns => &["campaign_tick"],
        }
    }

    /// `kind IN (…)` for this lane's kinds, their placeholders numbered from `first`.
    fn kind_filter(self, first: usize) -> String {
        format!(
            "kind IN ({})",
            super::db::placeholders(first, self.kinds().len())
        )
    }

    /// Jobs of this lane running at once on one instance.
    fn concurrency(self) -> usize {
        match self {
            Lane::Sends => 1,
            Lane::Pictures => 2,
            Lane::Pushes => 8,
            Lane::Calls => 2,
            Lane::Mail => 2,
            Lane::Campaigns => 1,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Wakes the lanes when work is queued (each lane keeps its wake-up until it looks).
#[derive(Default)]
pub struct Waker {
    lanes: [tokio::sync::Notify; Lane::ALL.len()],
}

impl Waker {
    pub fn notify_one(&self) {
        for lane in &self.lanes {
            lane.notify_one();
        }
    }

    async fn notified(&self, lane: Lane) {
        self.lanes[lane.index()].notified().await
    }
}

/// How long until `lane`'s next job not leased to anyone is due (500 ms if none): a lane
/// with only paced sends waiting wakes when the next may go, not at its next idle look (a
/// campaign's texts went two a second on a carrier that takes ten).
async fn next_due_in_ms(db: &Db, lane: Lane) -> i64 {
    let now = now_ms();
    let sql = format!(
        "SELECT MIN(run_at) FROM jobs WHERE {} AND (locked_until IS NULL OR locked_until < $1)",
        lane.kind_filter(2)
    );
    let mut query = sqlx::query_as(&sql).bind(now);
    for kind in lane.kinds() {
        query = query.bind(*kind);
    }
    let next: Result<(Option<i64>,), _> = query.fetch_one(db.pool()).await;
    match next {
        Ok((Some(run_at),)) => run_at - now,
        _ => 500,
    }
}

/// A job whose service failed for now (`why`): tried again after the backoff for its
/// attempts so far.
async fn retry_later(state: &AppState, claimed: &Claimed, what: &str, why: &str) -> AppResult<()> {
    tracing::warn!(%why, attempt = claimed.attempts, "{what} failed; will retry");
    retry_at(
        &state.db,
        &claimed.id,
        now_ms() + backoff_ms(claimed.attempts),
        Some(why),
        true,
    )
    .await
}

/// Takes the next due job of `lane`, if any, leasing it to this worker.
pub async fn claim(db: &Db, lane: Lane) -> AppResult<Option<Claimed>> {
    let now = now_ms();
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        // SQLite has one writer at a time; the conditional UPDATE below settles races.
        Backend::Sqlite => "",
    };
    let pick = format!(
        "SELECT id FROM jobs WHERE {} AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1)
         ORDER BY run_at LIMIT 1{lock}",
        lane.kind_filter(2)
    );
    let mut tx = db.begin().await?;
    let mut query = sqlx::query_as::<_, (JobId,)>(&pick).bind(now);
    for kind in lane.kinds() {
        query = query.bind(*kind);
    }
    let Some((id,)) = query.fetch_optional(&mut *tx).await? else {
        return Ok(None);
    };
    let row: Option<(String, i64)> = sqlx::query_as(
        "UPDATE jobs SET locked_until = $1, attempts = attempts + 1
         WHERE id = $2 AND (locked_until IS NULL OR locked_until < $3)
         RETURNING payload, attempts",
    )
    .bind(now + LEASE_MS)
    .bind(&id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some((payload, attempts)) = row else {
        return Ok(None);
    };
    match serde_json::from_str(&payload) {
        Ok(job) => Ok(Some(Claimed { id, job, attempts })),
        Err(e) => {
            tracing::error!(job = %id, error = %e, "unreadable job dropped");
            complete(db, &id).await?;
            Ok(None)
        }
    }
}

pub async fn complete(db: &Db, id: &JobId) -> AppResult<()> {
    sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Puts a job back for later. `count_attempt: false` undoes the claim's attempt (for waits
/// that aren't failures, like pacing a number's send rate).
pub async fn retry_at(
    db: &Db,
    id: &JobId,
    run_at: i64,
    error: Option<&str>,
    count_attempt: bool,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE jobs SET run_at = $1, locked_until = NULL, last_error = $2,
         attempts = attempts - $3 WHERE id = $4",
    )
    .bind(run_at)
    .bind(error)
    .bind(if count_attempt { 0i64 } else { 1i64 })
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Exponential backoff: 1 s, 2 s, 4 s … capped at a minute.
pub fn backoff_ms(attempts: i64) -> i64 {
    (1000i64 << (attempts.clamp(1, 7) - 1)).min(60_000)
}

/// Runs each lane's jobs until [`AppState::stop_background_work`] asks them to stop; then
/// no new job is claimed, and the returned handles finish once the jobs in hand are done.
pub fn spawn_workers(state: AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles: Vec<_> = Lane::ALL
        .into_iter()
        .map(|lane| tokio::spawn(run_lane(state.clone(), lane)))
        .collect();
    handles.push(tokio::spawn(housekeeping(state)));
    handles
}

/// Hourly: purges old live events, expired sessions (and their push devices), audit entries
/// past a year, carrier event ids past 30 days, unsent uploads, accounts past their
/// deletion grace period, and texts and calls past their retention period.
async fn housekeeping(state: AppState) {
    let mut stopping = state.stopping();
    loop {
        if let Err(e) = super::events::purge_old(&state.db).await {
            tracing::warn!(error = ?e, "event purge failed");
        }
        // An expired session takes its push devices with it (ON DELETE CASCADE).
        if let Err(e) = super::accounts::sessions::purge_expired(&state.db).await {
            tracing::warn!(error = ?e, "purging expired sessions failed");
        }
        if let Err(e) = super::audit::purge_old(&state.db).await {
            tracing::warn!(error = ?e, "purging old audit entries failed");
        }
        if let Err(e) = super::webhooks::purge_old_events(&state.db, now_ms()).await {
            tracing::warn!(error = ?e, "forgetting old carrier events failed");
        }
        if let Err(e) = super::media::purge_orphans(&state).await {
            tracing::warn!(error = ?e, "purging unsent uploads failed");
        }
        match super::accounts::deletion::erase_due(&state).await {
            Ok(0) => {}
            Ok(erased) => tracing::info!(erased, "accounts erased after their grace period"),
            Err(e) => tracing::warn!(error = ?e, "erasing deleted accounts failed"),
        }
        match super::retention::purge(&state).await {
            Ok(purged) => tracing::info!(?purged, "retention purge"),
            Err(e) => tracing::warn!(error = ?e, "retention purge failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

async fn run_lane(state: AppState, lane: Lane) {
    let pacing = std::sync::Arc::new(tokio::sync::Mutex::new(messaging::Pacing::default()));
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(lane.concurrency()));
    let mut stopping = state.stopping();
    loop {
        if *stopping.borrow() {
            break;
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        match claim(&state.db, lane).await {
            Ok(Some(claimed)) => {
                let state = state.clone();
                let pacing = pacing.clone();
                let job = async move {
                    // Only sends are paced (per sending number); the lane runs one at a time.
                    let outcome = if lane == Lane::Sends {
                        run(&state, &claimed, &mut *pacing.lock().await).await
                    } else {
                        run(&state, &claimed, &mut messaging::Pacing::default()).await
                    };
                    if let Err(e) = outcome {
                        tracing::error!(job = %claimed.id, error = ?e, "job failed to run");
                        if claimed.attempts >= MAX_ATTEMPTS {
                            give_up(&state, &claimed).await;
                            drop(slot);
                            return;
                        }
                        let _ = retry_at(
                            &state.db,
                            &claimed.id,
                            now_ms() + backoff_ms(claimed.attempts),
                            Some("internal"),
                            true,
                        )
                        .await;
                    }
                    drop(slot);
                };
                if lane.concurrency() == 1 {
                    job.await;
                } else {
                    tokio::spawn(job);
                }
            }
            Ok(None) => {
                drop(slot);
                // Until the next job is due (a paced send, a retry), or half a second.
                let wait = next_due_in_ms(&state.db, lane).await.clamp(5, 500) as u64;
                tokio::select! {
                    _ = tokio::time::timeout(Duration::from_millis(wait), state.jobs_waker.notified(lane)) => {}
                    _ = stopping.wait_for(|stop| *stop) => break,
                }
            }
            Err(e) => {
                drop(slot);
                tracing::error!(error = ?e, ?lane, "cannot claim jobs");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    // Stopping: the jobs in hand finish (they hold every slot until then).
    let all = u32::try_from(lane.concurrency()).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// A job that keeps failing to run is dropped (a send is marked failed, so it shows).
async fn give_up(state: &AppState, claimed: &Claimed) {
    tracing::error!(job = %claimed.id, attempts = claimed.attempts, "job given up");
    let done = match &claimed.job {
        Job::SendMessage { message_id } => {
            messaging::mark_send_failed(state, &claimed.id, message_id, "internal").await
        }
        _ => complete(&state.db, &claimed.id).await,
    };
    if let Err(e) = done {
        tracing::error!(job = %claimed.id, error = ?e, "could not give the job up");
    }
}

async fn run(state: &AppState, claimed: &Claimed, pacing: &mut messaging::Pacing) -> AppResult<()> {
    if claimed.attempts > MAX_CLAIMS {
        give_up(state, claimed).await;
        return Ok(());
    }
    match &claimed.job {
        Job::FetchMedia { media_id } => {
            use super::media::{self, Fetched};
            let failed = |why: String| async move {
                tracing::warn!(media = %media_id, %why, "inbound picture not kept");
                media::finish(state, media_id, MediaState::Failed, "", 0).await
            };
            match media::fetch(state, media_id).await {
                Ok(Fetched::Stored | Fetched::Nothing) => {}
                Ok(Fetched::Refused(why)) => failed(why).await?,
                Err(e) if e.is_retryable() && claimed.attempts < MAX_ATTEMPTS => {
                    return retry_at(
                        &state.db,
                        &claimed.id,
                        now_ms() + backoff_ms(claimed.attempts),
                        Some(&e.to_string()),
                        true,
                    )
                    .await;
                }
                Err(e) => failed(e.to_string()).await?,
            }
            complete(&state.db, &claimed.id).await
        }
        Job::Push {
            subscription_id,
            payload,
            urgent,
        } => {
            if super::push::rings_for_a_call_gone(&state.db, payload).await? {
                // Its "missed" or "answered" alert may have gone first (this one was
                // retried): a phone must not ring for a call that is over.
                return complete(&state.db, &claimed.id).await;
            }
            match super::push::deliver(state, subscription_id, payload, *urgent).await? {
                super::push::Delivery::Retry(why) if claimed.attempts < MAX_ATTEMPTS => {
                    return retry_later(state, claimed, "push", &why).await;
                }
                super::push::Delivery::Retry(why) | super::push::Delivery::Refused(why) => {
                    tracing::warn!(%why, "push dropped")
                }
                super::push::Delivery::Gone => tracing::info!("push subscription gone; removed"),
                super::push::Delivery::Delivered => {}
            }
            complete(&state.db, &claimed.id).await
        }
        Job::SendMessage { message_id } => {
            messaging::run_send_job(state, claimed, message_id, pacing).await
        }
        Job::RingTimeout {
            session_id,
            last,
            forwarded,
        } => {
            super::calls::ring_timer(state, session_id, *last, *forwarded).await?;
            complete(&state.db, &claimed.id).await
        }
        Job::CallCommand {
            carrier,
            call_id,
            action,
            command_id,
            state: call_state,
        } => {
            let sent = match CarrierKind::parse(carrier) {
                Some(kind) => {
                    state
                        .carrier_of(kind)
                        .call_action(call_id, action, command_id, call_state)
                        .await
                }
                None => Err(CarrierError::Config(format!("unknown carrier {carrier}"))),
            };
            use super::calls::carrier;
            match sent {
                Ok(Some(placed)) if matches!(action, CallAction::Dial { .. }) => {
                    carrier::dialed(state, call_id, &placed, call_state).await?
                }
                Ok(_) => {}
                Err(e) if e.is_retryable() && claimed.attempts < MAX_ATTEMPTS => {
                    return retry_later(state, claimed, "call command", &e.to_string()).await;
                }
                // The forwarded phone can't be called: the caller gets the voicemail.
                Err(e) if matches!(action, CallAction::Dial { .. }) => {
                    tracing::warn!(error = %e, "forwarding failed; to voicemail");
                    carrier::forward_failed(state, call_state).await?
                }
                // The caller hung up meanwhile, or the carrier refuses: nothing more to do.
                Err(e) => tracing::warn!(error = %e, ?action, "call command dropped"),
            }
            complete(&state.db, &claimed.id).await
        }
        Job::SandboxCallEvent { event } => {
            super::calls::carrier::handle(state, CarrierKind::Sandbox, event).await?;
            complete(&state.db, &claimed.id).await
        }
        Job::SandboxRingEnded { call_id } => {
            state.sandbox.outside_phone_ends(call_id, true).await?;
            complete(&state.db, &claimed.id).await
        }
        Job::FetchVoicemail {
            carrier,
            session_id,
            url,
        } => {
            match super::calls::carrier::fetch_voicemail(state, carrier, session_id, url).await {
                Err(e) if e.is_retryable() && claimed.attempts < MAX_ATTEMPTS => {
                    return retry_later(state, claimed, "voicemail fetch", &e.to_string()).await;
                }
                Err(e) => tracing::warn!(error = %e, "voicemail not kept"),
                Ok(()) => {}
            }
            complete(&state.db, &claimed.id).await
        }
        Job::RouteCalls { number_id } => {
            use super::numbers::{route_calls, Routed};
            match route_calls(state, number_id, claimed.attempts < MAX_ATTEMPTS).await? {
                Routed::Retry(why) => {
                    return retry_later(state, claimed, "routing a number's calls", &why).await;
                }
                Routed::Done => {}
            }
            complete(&state.db, &claimed.id).await
        }
        Job::CampaignTick { campaign_id } => {
            super::campaigns::tick(state, campaign_id).await?;
            complete(&state.db, &claimed.id).await
        }
        Job::ForwardEmail { message_id } => {
            use super::email::{forward_inbound, Forwarded};
            match forward_inbound(state, message_id).await? {
                Forwarded::Retry(why) if claimed.attempts < MAX_ATTEMPTS => {
                    return retry_later(state, claimed, "email forward", &why).await;
                }
                Forwarded::Retry(why) => tracing::warn!(%why, "email forward dropped"),
                Forwarded::Sent | Forwarded::Dropped => {}
            }
            complete(&state.db, &claimed.id).await
        }
    }
}
