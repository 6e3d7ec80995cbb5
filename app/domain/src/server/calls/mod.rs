//! Calls between numbers owned here, in the browser: WebRTC peer to peer. The server keeps
//! each call's state (ringing → answered → ended, forward only) and passes the two
//! browsers' session descriptions; the audio goes straight between them. Every device of
//! the person called rings (open tabs through the live stream, the others through an
//! urgent push); the first tab to answer takes the call and the others stop ringing. A
//! timer in the job queue ends a call nobody answers.
//!
//! Carrier calls (carrier.rs) take the same states, with the carrier holding the outside
//! caller.

use sqlx::{Any, Transaction};

pub mod browser_phone;
pub mod carrier;
pub mod greeting;
mod log;
mod outside;
pub mod presence;
mod voicemail;

pub use log::*;
pub use outside::*;
pub use voicemail::*;

use super::carrier::config::CarrierKind;
use super::events::{EventBus, Published};
use super::ids::{NumberId, UserId, E164};
use super::jobs::{self, Job};
use super::{crypto, now_ms, phone, push, throttle, AppState, Db};
use crate::error::{AppError, AppResult};
use crate::types::{LiveCall, LiveEvent};

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

/// One party's side of a new call: the leg in their call log.
pub(super) struct NewLeg<'a> {
    pub user: &'a UserId,
    pub number: &'a NumberId,
    /// Their own number on the call.
    pub own: &'a E164,
    pub peer: &'a E164,
    pub direction: &'static str,
}

/// Calls ringing or under way for `user`.
async fn live_count(tx: &mut Transaction<'_, Any>, user: &UserId) -> AppResult<i64> {
    let (live,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM calls c JOIN call_sessions s ON s.id = c.session_id
         WHERE c.user_id = $1 AND s.state <> 'ended'",
    )
    .bind(user)
    .fetch_one(&mut **tx)
    .await?;
    Ok(live)
}

/// Refuses a call when the person called has as many going as anyone may.
pub(super) async fn check_not_busy(
    tx: &mut Transaction<'_, Any>,
    callee: &UserId,
) -> AppResult<()> {
    if live_count(tx, callee).await? >= MAX_LIVE_CALLS {
        return Err(AppError::invalid("That number is busy. Try again later."));
    }
    Ok(())
}

/// How a new call rings for the person called (their number's settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ring {
    /// Rings this long (ms) before it counts as missed.
    For(i64),
    /// Do-not-disturb: nothing rings; the call is missed at once and the caller may leave
    /// a voicemail.
    NotAtAll,
    /// Nothing here can answer it (a carrier call, for now): missed at once, to voicemail.
    StraightToVoicemail,
}

/// What decides how a call to one of our numbers rings: [`CALLEE_COLUMNS`] read into a
/// [`Callee`] (the number, its owner, then how it rings).
pub(super) const CALLEE_COLUMNS: &str =
    "id, user_id, ring_seconds, do_not_disturb, business_days, \
     opens_minute, closes_minute, time_zone";
pub(super) type Callee = (NumberId, UserId, i64, i64, String, i64, i64, String);

impl Ring {
    /// How a call to the number of `callee` rings now: not at all while do-not-disturb is
    /// on (always, or by the weekly schedule of its business hours), else for its ring time.
    pub(super) fn of_callee(callee: &Callee) -> Ring {
        use crate::server::messaging::auto_reply::{DoNotDisturb, Hours};
        let (_, _, ring_seconds, dnd, days, opens, closes, zone) = callee;
        let hours = Hours::from_columns(days, *opens, *closes, zone);
        if DoNotDisturb::from_column(*dnd).quiet_at(&hours, crate::server::now_ms()) {
            Ring::NotAtAll
        } else {
            Ring::For((*ring_seconds).clamp(5, 300) * 1000)
        }
    }
}

/// Opens a call inside `tx`: its session (the caller's offer from tab `tab`; the outside
/// party's number, if one is not here), a leg per party here, and the ring timer; or, when
/// the person called is not to be disturbed, the call as missed already.
pub(super) async fn open(
    tx: &mut Transaction<'_, Any>,
    offer: &str,
    tab: &str,
    outside: Option<&E164>,
    legs: &[NewLeg<'_>],
    ring: Ring,
) -> AppResult<String> {
    let now = now_ms();
    let session_id = crypto::new_id();
    sqlx::query(
        "INSERT INTO call_sessions (id, state, offer, caller_tab, outside, created_at)
         VALUES ($1, 'ringing', $2, $3, $4, $5)",
    )
    .bind(&session_id)
    .bind(offer)
    .bind(tab)
    .bind(outside)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    for leg in legs {
        sqlx::query(
            "INSERT INTO calls (id, session_id, user_id, number_id, number_e164, peer, direction, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(crypto::new_id())
        .bind(&session_id)
        .bind(leg.user)
        .bind(leg.number)
        .bind(leg.own)
        .bind(leg.peer)
        .bind(leg.direction)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    match ring {
        Ring::For(ms) => {
            jobs::enqueue(
                tx,
                &Job::RingTimeout {
                    session_id: session_id.clone(),
                    last: false,
                    forwarded: false,
                },
                now + ms,
            )
            .await?;
        }
        Ring::NotAtAll | Ring::StraightToVoicemail => {
            sqlx::query("UPDATE call_sessions SET state = 'ended', offer = NULL WHERE id = $1")
                .bind(&session_id)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "UPDATE calls SET outcome = 'missed', reason = $1, ended_at = $2
                 WHERE session_id = $3",
            )
            .bind(if ring == Ring::NotAtAll {
                "Do not disturb"
            } else {
                "Went to voicemail"
            })
            .bind(now)
            .bind(&session_id)
            .execute(&mut **tx)
            .await?;
            // Do-not-disturb stays quiet; a call nothing here could answer is a missed call.
            if ring == Ring::StraightToVoicemail {
                settle_ringing_alert(tx, &session_id).await?;
            }
        }
    }
    Ok(session_id)
}

/// Rings the devices of `callee` (called on `to` by `from`) that have the app closed,
/// through their push service, urgently and briefly, unless `ring` says nothing rings.
/// Open tabs ring from the live stream.
pub(super) async fn ring_closed_devices(
    tx: &mut Transaction<'_, Any>,
    ring: Ring,
    callee: &UserId,
    from: &E164,
    to: &E164,
    session_id: &str,
) -> AppResult<()> {
    if !matches!(ring, Ring::For(_)) {
        return Ok(());
    }
    let region = phone::region_of(to.as_str()).unwrap_or_else(|| "US".into());
    let caller = crate::server::contacts::alert_name(tx, callee, from.as_str(), &region).await?;
    push::enqueue_for_user(
        tx,
        callee,
        &push::Notification {
            title: format!("Call from {caller}"),
            body: "Open Switchboard to answer.".into(),
            url: "/calls".into(),
            tag: format!("call-{session_id}"),
            unread: 0,
            ended: false,
        },
        true,
    )
    .await?;
    Ok(())
}

/// Settles the ringing alert of call `session_id` on its callee's devices once it has
/// ended (the same tag, so it replaces it): "Missed call from …" when they missed it;
/// otherwise (answered, or turned down) it only goes.
pub(super) async fn settle_ringing_alert(
    tx: &mut Transaction<'_, Any>,
    session_id: &str,
) -> AppResult<()> {
    type Callee = (UserId, String, String, Option<String>, Option<String>);
    let callees: Vec<Callee> = sqlx::query_as(
        "SELECT user_id, peer, number_e164, outcome, reason FROM calls
         WHERE session_id = $1 AND direction = 'in'",
    )
    .bind(session_id)
    .fetch_all(&mut **tx)
    .await?;
    for (callee, peer, own, outcome, reason) in callees {
        // Chromium shows its own "updated in the background" notice for a push that shows
        // nothing, so an answered or declined call's alert is replaced (quietly), not closed.
        let mut alert = push::Notification {
            title: match (outcome.as_deref(), reason) {
                (Some("declined"), _) => "Call declined".into(),
                // Under way elsewhere: on the forwarding phone, say.
                (None, Some(reason)) => reason,
                _ => "Call answered".into(),
            },
            body: String::new(),
            url: "/calls".into(),
            tag: format!("call-{session_id}"),
            unread: 0,
            ended: true,
        };
        if outcome.as_deref() == Some("missed") {
            let region = phone::region_of(&own).unwrap_or_else(|| "US".into());
            let caller = crate::server::contacts::alert_name(tx, &callee, &peer, &region).await?;
            alert.title = format!("Missed call from {caller}");
            alert.body = "See it in your call log.".into();
        }
        push::enqueue_for_user(tx, &callee, &alert, false).await?;
    }
    Ok(())
}

/// Places a call from one of the user's numbers to `to`, offering `offer` (the calling
/// tab's session description). Returns the call's id. A number owned here rings its
/// owner's devices; in the sandbox any other number rings the Simulator's outside phone.
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
    let (from, carrier, peer) = own_number_and_peer(&state.db, user_id, number_id, to).await?;
    if peer == from {
        return Err(AppError::invalid("A number can't call itself."));
    }
    let callee: Option<Callee> = sqlx::query_as(&format!(
        "SELECT {CALLEE_COLUMNS} FROM phone_numbers WHERE e164 = $1"
    ))
    .bind(&peer)
    .fetch_optional(state.db.pool())
    .await?;
    if callee.is_none() && carrier != CarrierKind::Sandbox.as_str() {
        return Err(AppError::invalid(
            "A phone outside this Switchboard is called through the carrier (call_out), not \
             browser to browser.",
        ));
    }
    throttle::take(&state.db, PLACED, user_id.as_str()).await?;
    let mut tx = state.db.begin().await?;
    if live_count(&mut tx, user_id).await? >= MAX_LIVE_CALLS {
        return Err(AppError::invalid(format!(
            "You have {MAX_LIVE_CALLS} calls going already. Hang one up first."
        )));
    }
    let caller_leg = NewLeg {
        user: user_id,
        number: number_id,
        own: &from,
        peer: &peer,
        direction: "out",
    };
    let session_id = match &callee {
        Some(found) => {
            let (callee_number, callee) = (&found.0, &found.1);
            check_not_busy(&mut tx, callee).await?;
            let callee_leg = NewLeg {
                user: callee,
                number: callee_number,
                own: &peer,
                peer: &from,
                direction: "in",
            };
            let ring = Ring::of_callee(found);
            let legs = [caller_leg, callee_leg];
            let id = open(&mut tx, offer, tab, None, &legs, ring).await?;
            ring_closed_devices(&mut tx, ring, callee, &from, &peer, &id).await?;
            id
        }
        // The sandbox's outside world: its carrier calls this tab, then the Simulator's
        // outside phone (see outside.rs), as a carrier places a browser's call.
        None => {
            let placing = carrier::Placing {
                kind: CarrierKind::Sandbox,
                tab,
                browser: crate::server::carrier::sandbox::tab_address(tab),
                connection: CarrierKind::Sandbox.as_str().into(),
                offer: Some(offer),
            };
            carrier::place(&mut tx, &caller_leg, placing).await?
        }
    };
    let published = tell_parties(&mut tx, &session_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(session_id)
}

/// The user's number `number_id` (its E.164 and carrier; another's is "not found") and the
/// number `to` it would call, read in that number's country.
pub(super) async fn own_number_and_peer(
    db: &Db,
    user_id: &UserId,
    number_id: &NumberId,
    to: &str,
) -> AppResult<(E164, String, E164)> {
    let own: Option<(E164, String)> =
        sqlx::query_as("SELECT e164, carrier FROM phone_numbers WHERE id = $1 AND user_id = $2")
            .bind(number_id)
            .bind(user_id)
            .fetch_optional(db.pool())
            .await?;
    let Some((from, carrier)) = own else {
        return Err(AppError::not_found("That number"));
    };
    let region = phone::region_of(from.as_str()).unwrap_or_else(|| "US".into());
    let peer = E164::parse(to, &region)?;
    Ok((from, carrier, peer))
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
    Option<String>,
    Option<String>,
);

/// How long after its end a call is still in [`live`]'s answer (so a tab can say how it
/// ended: declined, no answer).
const ENDED_SHOWN_MS: i64 = 15_000;

/// The user's calls ringing or under way (and those that just ended), as tab `tab` sees
/// them. A call a carrier holds is here when it rings the user's browsers (they have a
/// browser phone) or was placed from one; otherwise only the call log shows it.
pub async fn live(db: &Db, user_id: &UserId, tab: &str) -> AppResult<Vec<LiveCall>> {
    let rows: Vec<LiveRow> = sqlx::query_as(
        "SELECT s.id, c.outcome, c.direction, c.peer, c.number_e164, s.state, s.offer, s.answer,
                s.caller_tab, s.answered_tab, c.answered_at, s.outside,
                CASE WHEN s.rings_browsers = 1 OR c.direction = 'out' THEN s.carrier END
         FROM calls c JOIN call_sessions s ON s.id = c.session_id
         WHERE c.user_id = $1 AND (s.state <> 'ended' OR c.ended_at > $2)
           AND ((s.carrier IS NULL AND s.carrier_call IS NULL) OR s.rings_browsers = 1
                OR c.direction = 'out')
         ORDER BY c.created_at",
    )
    .bind(user_id)
    .bind(now_ms() - ENDED_SHOWN_MS)
    .fetch_all(db.pool())
    .await?;
    let calls: Vec<LiveCall> = rows
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
                outside,
                carrier,
            )| {
                let outgoing = direction == "out";
                // The sandbox holds its calls as a carrier does, but a tab talks to the
                // outside phone directly, with no carrier SDK: to a tab it is a plain call.
                let held = carrier.is_some();
                let carrier = carrier.filter(|c| c != CarrierKind::Sandbox.as_str());
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
                    here,
                    answered_at,
                    // Voicemail is kept for people here; an outside phone has its own.
                    // (A phone called through a carrier has its own.)
                    can_leave_voicemail: outgoing && outside.is_none() && carrier.is_none(),
                    peer_name: String::new(),
                    // A carrier call a tab is picking up is no longer ringing anywhere.
                    state: if held && state == "ringing" && answered_tab.is_some() {
                        "answered".into()
                    } else {
                        state
                    },
                    carrier,
                }
            },
        )
        .collect();
    log::with_names(db, user_id, calls, |c| &mut c.peer_name, |c| &c.peer).await
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
    let leg: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM calls WHERE session_id = $1 AND user_id = $2 AND direction = 'in'",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(state.db.pool())
    .await?;
    if leg.is_none() {
        return Err(AppError::not_found("That call"));
    }
    let (carrier,): (Option<String>,) =
        sqlx::query_as("SELECT carrier FROM call_sessions WHERE id = $1")
            .bind(session_id)
            .fetch_one(state.db.pool())
            .await?;
    match carrier.as_deref().and_then(CarrierKind::parse) {
        None => take_answer(state, session_id, tab, answer).await,
        // Held by the sandbox: put through to this tab as a carrier puts a call through to
        // a browser, this tab's answer going to the outside phone.
        Some(CarrierKind::Sandbox) => {
            carrier::pick_up(state, user_id, session_id, tab, "", Some(answer)).await
        }
        // Its caller is held at the carrier: only the carrier's SDK can take it.
        Some(_) => Err(AppError::invalid(
            "This call comes from the phone network: reload the page and answer again.",
        )),
    }
}

/// The answer from tab `tab` (with its session description) takes call `session_id` if it
/// still rings: the first answer wins, a later one is told so.
async fn take_answer(state: &AppState, session_id: &str, tab: &str, answer: &str) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
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
        .bind(now_ms())
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    // The other devices stop ringing.
    settle_ringing_alert(&mut tx, session_id).await?;
    let published = tell_parties(&mut tx, session_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(())
}

/// Why a call ended, which says each party's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
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
    let Some(published) = end_in(&mut tx, session_id, from_states, ending).await? else {
        return Ok(false);
    };
    carrier::ended_here(&mut tx, session_id, ending).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(true)
}

/// [`end`] inside `tx`: the live events to announce once it commits, or None when the call
/// was in none of `from_states`.
pub(super) async fn end_in(
    tx: &mut Transaction<'_, Any>,
    session_id: &str,
    from_states: &[&str],
    ending: Ending,
) -> AppResult<Option<Vec<Published>>> {
    let placeholders = super::db::placeholders(2, from_states.len());
    let sql = format!(
        "UPDATE call_sessions SET state = 'ended', offer = NULL, answer = NULL
         WHERE id = $1 AND state IN ({placeholders})"
    );
    let mut update = sqlx::query(&sql).bind(session_id);
    for s in from_states {
        update = update.bind(*s);
    }
    if update.execute(&mut **tx).await?.rows_affected() == 0 {
        return Ok(None);
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
    .execute(&mut **tx)
    .await?;
    // An answered call's alert went when it was answered.
    if ending != Ending::HungUp {
        settle_ringing_alert(tx, session_id).await?;
    }
    Ok(Some(tell_parties(tx, session_id).await?))
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

/// The ring timer: a call still ringing now was not answered. (A carrier call's carrier
/// should have said so first, its forwarded phone's timeout being shorter; if it did not,
/// the caller it still holds gets the voicemail.)
pub async fn ring_timeout(state: &AppState, session_id: &str, last: bool) -> AppResult<()> {
    ring_timer(state, session_id, last, false).await
}

/// [`ring_timeout`], for the timer of a call's ringing browsers or (`forwarded`) of the
/// forwarding phone it went to after them.
pub async fn ring_timer(
    state: &AppState,
    session_id: &str,
    last: bool,
    forwarded: bool,
) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    if !forwarded && carrier::forwarded_later(&mut tx, session_id).await? {
        // The browsers' timer run again (a crash before it was marked done): it moved the
        // call to the phone already, whose own timer decides now.
        return Ok(());
    }
    if !last && carrier::being_picked_up(&mut tx, session_id).await? {
        // Answered in a tab just before: the carrier's call to that browser decides (its
        // own timeout sends the caller to voicemail if the browser never takes it; our
        // `last` timer, if even that never comes).
        return Ok(());
    }
    // Rung in the browsers first: now the forwarding phone.
    if let Some(published) = carrier::forward_later(&mut tx, session_id).await? {
        tx.commit().await?;
        state.bus.announce(&state.db, published).await;
        state.jobs_waker.notify_one();
        return Ok(());
    }
    let Some(published) = end_in(&mut tx, session_id, &["ringing"], Ending::Unanswered).await?
    else {
        return Ok(());
    };
    carrier::ended_here(&mut tx, session_id, Ending::Unanswered).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(())
}
