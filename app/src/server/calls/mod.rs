//! Calls between numbers owned here, in the browser: WebRTC peer to peer. The server keeps
//! each call's state (ringing → answered → ended, forward only) and passes the two
//! browsers' session descriptions; the audio goes straight between them. Every device of
//! the person called rings (open tabs through the live stream, the others through an
//! urgent push); the first tab to answer takes the call and the others stop ringing. A
//! timer in the job queue ends a call nobody answers.
//!
//! Carrier calls (Telnyx, Twilio) will take the same states, with the carrier holding the
//! outside caller while devices ring.

use sqlx::{Any, Transaction};

mod log;
mod voicemail;

pub use log::*;
pub use voicemail::*;

use super::events::{EventBus, Published};
use super::ids::{NumberId, UserId, E164};
use super::jobs::{self, Job};
use super::{crypto, now_ms, phone, push, throttle, AppState, Db};
use crate::error::{AppError, AppResult};
use crate::types::{LiveCall, LiveEvent};

/// A call rings this long before it counts as missed.
pub const RING_MS: i64 = 30_000;
/// Session descriptions are a few KB; more is not a browser's.
pub const MAX_SDP_BYTES: usize = 16 * 1024;
/// Calls one person may have ringing or under way at once.
pub const MAX_LIVE_CALLS: i64 = 3;
/// Calls placed per person: each rings someone's devices.
pub const PLACED: throttle::Limit = throttle::Limit {
    action: "calls",
    per_window: 20,
    window_ms: 60 * 1000,
};

/// A tab names itself with an id it makes up (a UUID): letters, digits and dashes.
fn check_tab(tab: &str) -> AppResult<()> {
    if tab.is_empty()
        || tab.len() > 64
        || !tab.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(AppError::invalid(
            "This tab can't take calls. Reload the page.",
        ));
    }
    Ok(())
}

fn check_sdp(sdp: &str) -> AppResult<()> {
    if sdp.len() > MAX_SDP_BYTES || !sdp.starts_with("v=0") {
        return Err(AppError::invalid(
            "This browser's call setup was not usable. Reload the page and try again.",
        ));
    }
    Ok(())
}

/// Records the calls event for every party of `session_id` inside `tx`.
pub(super) async fn tell_parties(
    tx: &mut Transaction<'_, Any>,
    session_id: &str,
) -> AppResult<Vec<Published>> {
    let users: Vec<(UserId,)> =
        sqlx::query_as("SELECT DISTINCT user_id FROM calls WHERE session_id = $1")
            .bind(session_id)
            .fetch_all(&mut **tx)
            .await?;
    let mut published = Vec::with_capacity(users.len());
    for (user_id,) in users {
        published.push(EventBus::record(tx, &user_id, &LiveEvent::Calls).await?);
    }
    Ok(published)
}

/// Places a call from one of the user's numbers to `to`, offering `offer` (the calling
/// tab's session description). Returns the call's id.
pub async fn start(
    state: &AppState,
    user_id: &UserId,
    number_id: &NumberId,
    to: &str,
    tab: &str,
    offer: &str,
) -> AppResult<String> {
    check_tab(tab)?;
    check_sdp(offer)?;
    let own: Option<(E164,)> =
        sqlx::query_as("SELECT e164 FROM phone_numbers WHERE id = $1 AND user_id = $2")
            .bind(number_id)
            .bind(user_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((from,)) = own else {
        return Err(AppError::not_found("That number"));
    };
    let region = phone::region_of(from.as_str()).unwrap_or_else(|| "US".into());
    let peer = E164::parse(to, &region)?;
    if peer == from {
        return Err(AppError::invalid("A number can't call itself."));
    }
    let callee: Option<(NumberId, UserId)> =
        sqlx::query_as("SELECT id, user_id FROM phone_numbers WHERE e164 = $1")
            .bind(&peer)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((callee_number, callee)) = callee else {
        return Err(AppError::invalid(
            "Only numbers owned on this Switchboard can be called so far: calls to other \
             phones come with the carrier's voice service.",
        ));
    };
    throttle::take(&state.db, PLACED, user_id.as_str()).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let (live,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM calls c JOIN call_sessions s ON s.id = c.session_id
         WHERE c.user_id = $1 AND s.state <> 'ended'",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    if live >= MAX_LIVE_CALLS {
        return Err(AppError::invalid(format!(
            "You have {live} calls going already. Hang one up first."
        )));
    }
    let session_id = crypto::new_id();
    sqlx::query(
        "INSERT INTO call_sessions (id, state, offer, caller_tab, created_at)
         VALUES ($1, 'ringing', $2, $3, $4)",
    )
    .bind(&session_id)
    .bind(offer)
    .bind(tab)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let legs = [
        (user_id, number_id, &from, &peer, "out"),
        (&callee, &callee_number, &peer, &from, "in"),
    ];
    for (user, number, own, other, direction) in legs {
        sqlx::query(
            "INSERT INTO calls (id, session_id, user_id, number_id, number_e164, peer, direction, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(crypto::new_id())
        .bind(&session_id)
        .bind(user)
        .bind(number)
        .bind(own)
        .bind(other)
        .bind(direction)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    jobs::enqueue(
        &mut tx,
        &Job::RingTimeout {
            session_id: session_id.clone(),
        },
        now + RING_MS,
    )
    .await?;
    // Devices with the app closed ring through their push service, urgently and briefly.
    let callee_region = phone::region_of(peer.as_str()).unwrap_or_else(|| "US".into());
    push::enqueue_for_user(
        &mut tx,
        &callee,
        &push::Notification {
            title: format!(
                "Call from {}",
                phone::display(from.as_str(), &callee_region)
            ),
            body: "Open Switchboard to answer.".into(),
            url: "/calls".into(),
            tag: format!("call-{session_id}"),
            unread: 0,
        },
        true,
    )
    .await?;
    let published = tell_parties(&mut tx, &session_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(session_id)
}

type LiveRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
);

/// How long after its end a call is still in [`live`]'s answer (so a tab can say how it
/// ended: declined, no answer).
const ENDED_SHOWN_MS: i64 = 15_000;

/// The user's calls ringing or under way (and those that just ended), as tab `tab` sees
/// them.
pub async fn live(db: &Db, user_id: &UserId, tab: &str) -> AppResult<Vec<LiveCall>> {
    let rows: Vec<LiveRow> = sqlx::query_as(
        "SELECT s.id, c.outcome, c.direction, c.peer, c.number_e164, s.state, s.offer, s.answer,
                s.caller_tab, s.answered_tab, c.answered_at
         FROM calls c JOIN call_sessions s ON s.id = c.session_id
         WHERE c.user_id = $1 AND (s.state <> 'ended' OR c.ended_at > $2)
         ORDER BY c.created_at",
    )
    .bind(user_id)
    .bind(now_ms() - ENDED_SHOWN_MS)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                outcome,
                direction,
                peer,
                number,
                state,
                offer,
                answer,
                caller_tab,
                answered_tab,
                answered_at,
            )| {
                let outgoing = direction == "out";
                let here = if outgoing {
                    caller_tab == tab
                } else {
                    answered_tab.as_deref() == Some(tab)
                };
                let region = phone::region_of(&number).unwrap_or_else(|| "US".into());
                LiveCall {
                    outcome: outcome
                        .as_deref()
                        .map(|o| log::outcome_words(&direction, Some(o), false).to_string()),
                    offer: offer.filter(|_| !outgoing && state == "ringing"),
                    answer: answer.filter(|_| outgoing && here),
                    peer_display: phone::display(&peer, &region),
                    number_display: phone::display(&number, &region),
                    id,
                    direction,
                    peer,
                    state,
                    here,
                    answered_at,
                }
            },
        )
        .collect())
}

/// Answers a call ringing for the user, from tab `tab` with its session description. The
/// first answer wins; a later one (another tab, another device) is told so.
pub async fn answer(
    state: &AppState,
    user_id: &UserId,
    session_id: &str,
    tab: &str,
    answer: &str,
) -> AppResult<()> {
    check_tab(tab)?;
    check_sdp(answer)?;
    let mut tx = state.db.begin().await?;
    let leg: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM calls WHERE session_id = $1 AND user_id = $2 AND direction = 'in'",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if leg.is_none() {
        return Err(AppError::not_found("That call"));
    }
    let now = now_ms();
    let taken = sqlx::query(
        "UPDATE call_sessions SET state = 'answered', answer = $1, answered_tab = $2
         WHERE id = $3 AND state = 'ringing'",
    )
    .bind(answer)
    .bind(tab)
    .bind(session_id)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() == 0 {
        return Err(AppError::invalid(
            "This call was answered elsewhere, or it has ended.",
        ));
    }
    sqlx::query("UPDATE calls SET answered_at = $1 WHERE session_id = $2")
        .bind(now)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    let published = tell_parties(&mut tx, session_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(())
}

/// Why a call ended, which says each party's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Someone hung up an answered call.
    HungUp,
    /// The person called said no.
    Declined,
    /// The caller gave up before an answer.
    Cancelled,
    /// Nobody answered in time.
    Unanswered,
}

impl Ending {
    /// (caller's outcome, callee's outcome)
    fn outcomes(self) -> (&'static str, &'static str) {
        match self {
            Ending::HungUp => ("answered", "answered"),
            Ending::Declined => ("declined", "declined"),
            Ending::Cancelled => ("cancelled", "missed"),
            Ending::Unanswered => ("missed", "missed"),
        }
    }
}

/// Ends the call if it is still in one of `from_states`; returns whether it did.
async fn end(
    state: &AppState,
    session_id: &str,
    from_states: &[&str],
    ending: Ending,
) -> AppResult<bool> {
    let mut tx = state.db.begin().await?;
    let placeholders = super::db::placeholders(2, from_states.len());
    let sql = format!(
        "UPDATE call_sessions SET state = 'ended', offer = NULL, answer = NULL
         WHERE id = $1 AND state IN ({placeholders})"
    );
    let mut update = sqlx::query(&sql).bind(session_id);
    for s in from_states {
        update = update.bind(*s);
    }
    if update.execute(&mut *tx).await?.rows_affected() == 0 {
        return Ok(false);
    }
    let (caller, callee) = ending.outcomes();
    sqlx::query(
        "UPDATE calls SET ended_at = $1,
             outcome = CASE WHEN direction = 'out' THEN $2 ELSE $3 END
         WHERE session_id = $4",
    )
    .bind(now_ms())
    .bind(caller)
    .bind(callee)
    .bind(session_id)
    .execute(&mut *tx)
    .await?;
    let published = tell_parties(&mut tx, session_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(true)
}

/// The user's direction on call `session_id`; another person's call is "not found".
pub(super) async fn party(db: &Db, user_id: &UserId, session_id: &str) -> AppResult<String> {
    let leg: Option<(String,)> = sqlx::query_as(
        "SELECT direction FROM calls WHERE session_id = $1 AND user_id = $2 ORDER BY direction",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    leg.map(|(d,)| d)
        .ok_or_else(|| AppError::not_found("That call"))
}

/// Turns down a call ringing for the user.
pub async fn decline(state: &AppState, user_id: &UserId, session_id: &str) -> AppResult<()> {
    party(&state.db, user_id, session_id).await?;
    end(state, session_id, &["ringing"], Ending::Declined).await?;
    Ok(())
}

/// Hangs up: an answered call ends for both; a ringing one is cancelled by its caller or
/// declined by the person called. A call that has ended already stays as it ended.
pub async fn hang_up(state: &AppState, user_id: &UserId, session_id: &str) -> AppResult<()> {
    let direction = party(&state.db, user_id, session_id).await?;
    if end(state, session_id, &["answered"], Ending::HungUp).await? {
        return Ok(());
    }
    let ending = if direction == "out" {
        Ending::Cancelled
    } else {
        Ending::Declined
    };
    end(state, session_id, &["ringing"], ending).await?;
    Ok(())
}

/// The ring timer: a call still ringing now was not answered.
pub async fn ring_timeout(state: &AppState, session_id: &str) -> AppResult<()> {
    end(state, session_id, &["ringing"], Ending::Unanswered).await?;
    Ok(())
}
