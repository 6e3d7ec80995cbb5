//! The party outside this Switchboard on a call: someone calling one of our numbers, or
//! called from one. Such a call has a single leg here, in its owner's call log, and
//! `call_sessions.outside` names the other party's number. The call takes the same states
//! as a call between people here (ringing → answered → ended, forward only, the same ring
//! timer and voicemail).
//!
//! In the sandbox the admin's Simulator plays the outside party: its page holds the outside
//! phone's side of the WebRTC call (public/outside-phone.js) and drives it through the
//! functions below. Its calls are the sandbox carrier's to hold, both ways: what the
//! outside phone does (call, answer, turn down, hang up, leave a voicemail) reaches
//! calls/carrier.rs as the carrier's events, as a real phone's reaches it through Telnyx's
//! webhook. Calls through a real carrier are the carrier's to drive: the outside phone
//! neither lists nor touches them.

use super::{check_not_busy, check_sdp, check_tab, ENDED_SHOWN_MS, PLACED};
use crate::error::{AppError, AppResult};
use crate::server::carrier::config::CarrierKind;
use crate::server::carrier::CallEvent;
use crate::server::ids::{UserId, E164};
use crate::server::simulator::require_sandbox;
use crate::server::{crypto, now_ms, phone, throttle, AppState, Db};
use crate::types::OutsideCall;

/// The outside phone shows this many of the latest calls.
const SHOWN: i64 = 20;

/// The outside party `from` calls our number `to` through the sandbox carrier, offering
/// `offer` (the Simulator tab's session description): the call arrives as a carrier's
/// does, and rings every device of the number's owner. Returns the call's id.
pub async fn ring_in(
    state: &AppState,
    admin: &UserId,
    from: &str,
    to: &str,
    offer: &str,
) -> AppResult<String> {
    require_sandbox(state)?;
    check_sdp(offer)?;
    let to = E164::parse(to, "US")?;
    let region = phone::region_of(to.as_str()).unwrap_or_else(|| "US".into());
    let from = E164::parse(from, &region)?;
    let owner: Option<super::Callee> = sqlx::query_as(&format!(
        "SELECT {} FROM phone_numbers WHERE e164 = $1",
        super::CALLEE_COLUMNS
    ))
    .bind(&to)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(found) = owner else {
        return Err(AppError::invalid("Nobody here owns that number."));
    };
    let callee = found.1;
    if from == to {
        return Err(AppError::invalid("A number can't call itself."));
    }
    let (ours,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM phone_numbers WHERE e164 = $1")
        .bind(&from)
        .fetch_one(state.db.pool())
        .await?;
    if ours > 0 {
        return Err(AppError::invalid(
            "That number is owned here: call from it in the app, as its owner.",
        ));
    }
    // Its own count: the admin's own calls are not the outside phone's.
    throttle::take(&state.db, PLACED, &format!("outside:{admin}")).await?;
    let mut tx = state.db.begin().await?;
    check_not_busy(&mut tx, &callee).await?;
    drop(tx);
    let call_id = format!("sbx-call-{}", crypto::new_id());
    let arrived = CallEvent::Incoming {
        event_id: format!("sim-{}", crypto::new_id()),
        call_id: call_id.clone(),
        session: format!("sbx-session-{}", crypto::new_id()),
        connection: CarrierKind::Sandbox.as_str().into(),
        from: from.as_str().into(),
        to: to.as_str().into(),
        offer: Some(offer.into()),
    };
    super::carrier::handle(state, CarrierKind::Sandbox, &arrived).await?;
    let (session_id,): (String,) =
        sqlx::query_as("SELECT id FROM call_sessions WHERE carrier_call = $1")
            .bind(&call_id)
            .fetch_one(state.db.pool())
            .await?;
    Ok(session_id)
}

/// The outside phone's calls: those it placed and those placed to it from here, which the
/// sandbox carrier holds. Not the calls of a real carrier.
const OUTSIDE_PHONES: &str = "s.outside IS NOT NULL AND s.carrier = 'sandbox'";

type OutsideRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// The latest calls with the outside world, as the outside phone sees them.
pub async fn outside_calls(state: &AppState) -> AppResult<Vec<OutsideCall>> {
    require_sandbox(state)?;
    let rows: Vec<OutsideRow> = sqlx::query_as(&format!(
        "SELECT s.id, c.direction, s.outside, c.number_e164, s.state, c.outcome, s.offer,
                s.answer, c.voicemail_media_id, c.answered_at
         FROM call_sessions s JOIN calls c ON c.session_id = s.id
         WHERE {OUTSIDE_PHONES} AND (s.state <> 'ended' OR c.ended_at > $1)
           -- A call placed from here rings the outside phone once the sandbox has
           -- called it (after the calling tab).
           AND (c.direction = 'in' OR s.forward_call IS NOT NULL)
         ORDER BY s.created_at DESC LIMIT $2"
    ))
    .bind(now_ms() - ENDED_SHOWN_MS)
    .bind(SHOWN)
    .fetch_all(state.db.pool())
    .await?;
    let mut calls = forwarded_here(state).await?;
    calls.extend(rows.into_iter().map(
        |(
            id,
            ours_direction,
            outside,
            ours,
            state,
            outcome,
            offer,
            answer,
            voicemail,
            answered_at,
        )| {
            // The outside party's direction is the opposite of our leg's.
            let called_us = ours_direction == "in";
            let direction = if called_us { "out" } else { "in" };
            let region = phone::region_of(&ours).unwrap_or_else(|| "US".into());
            OutsideCall {
                outcome: outcome.as_deref().map(|o| {
                    let words = super::log::outcome_words(direction, Some(o), false);
                    words.to_string()
                }),
                voicemail_possible: called_us
                    && voicemail.is_none()
                    && matches!(outcome.as_deref(), Some("missed" | "declined")),
                offer: offer.filter(|_| !called_us && state == "ringing"),
                answer: answer.filter(|_| called_us),
                outside_display: phone::display(&outside, &region),
                ours_display: phone::display(&ours, &region),
                direction: direction.into(),
                id,
                state,
                answered_at,
                whisper: None,
            }
        },
    ));
    Ok(calls)
}

/// Calls to our numbers forwarded to a phone, which the sandbox rings as the outside phone
/// (until they end): ringing, or answered (with the whisper, until a key is pressed).
async fn forwarded_here(state: &AppState) -> AppResult<Vec<OutsideCall>> {
    let rows: Vec<(String, String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT sc.call_id, sc.phone, sc.caller_id, sc.answered, sc.whisper
         FROM sandbox_calls sc JOIN call_sessions s ON s.forward_call = sc.call_id
         JOIN calls c ON c.session_id = s.id AND c.direction = 'in'
         ORDER BY sc.created_at DESC LIMIT $1",
    )
    .bind(SHOWN)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, to, caller_id, answered, whisper)| {
            let region = phone::region_of(&caller_id).unwrap_or_else(|| "US".into());
            OutsideCall {
                id,
                direction: "forwarded".into(),
                outside_display: phone::display(&to, &region),
                ours_display: phone::display(&caller_id, &region),
                state: if answered == 1 { "answered" } else { "ringing" }.into(),
                outcome: None,
                offer: None,
                answer: None,
                answered_at: None,
                voicemail_possible: false,
                whisper,
            }
        })
        .collect())
}

/// Whether `id` is the sandbox's call to the outside phone as a forwarding phone (its
/// call's id in [`OutsideCall`]).
async fn forwarded_call(db: &Db, id: &str) -> AppResult<bool> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT call_id FROM sandbox_calls WHERE call_id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    Ok(found.is_some())
}

/// The outside phone's side of a call, by the sandbox carrier's id for its leg.
enum Side {
    /// It placed the call (the sandbox holds it as `held`).
    Placed { held: String },
    /// It is being called, on the sandbox's call `phone` (None until the sandbox has
    /// called it, after the calling tab).
    Called { phone: Option<String> },
}

/// The outside phone's side of call `session_id`. Calls between people here, or through a
/// real carrier, are "not found".
async fn outside_side(db: &Db, session_id: &str) -> AppResult<Side> {
    let leg: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(&format!(
        "SELECT c.direction, s.carrier_call, s.forward_call FROM call_sessions s
         JOIN calls c ON c.session_id = s.id
         WHERE s.id = $1 AND {OUTSIDE_PHONES}"
    ))
    .bind(session_id)
    .fetch_optional(db.pool())
    .await?;
    match leg {
        Some((ours, held, _)) if ours == "in" => Ok(Side::Placed {
            held: held.unwrap_or_default(),
        }),
        Some((_, _, phone)) => Ok(Side::Called { phone }),
        None => Err(AppError::not_found("That call")),
    }
}

/// The outside party answers a call someone here placed to it, from the Simulator's tab.
pub async fn answer_outside(
    state: &AppState,
    session_id: &str,
    tab: &str,
    answer: &str,
) -> AppResult<()> {
    require_sandbox(state)?;
    check_tab(tab)?;
    if forwarded_call(&state.db, session_id).await? {
        // Forwarded to it: picked up to hear the whisper (no sound to answer).
        if !state.sandbox.outside_phone_answers(session_id).await? {
            return Err(AppError::invalid(
                "This call was answered elsewhere, or it has ended.",
            ));
        }
        return Ok(());
    }
    check_sdp(answer)?;
    let Side::Called { phone: Some(phone) } = outside_side(&state.db, session_id).await? else {
        return Err(AppError::invalid(
            "The outside phone placed this call, or it isn't ringing there.",
        ));
    };
    // Its session description first, for the calling tab to have with the answer; the
    // first answer wins.
    let first = sqlx::query(
        "UPDATE call_sessions SET answer = $1 WHERE id = $2 AND answer IS NULL
           AND state = 'ringing'",
    )
    .bind(answer)
    .bind(session_id)
    .execute(state.db.pool())
    .await?
    .rows_affected()
        == 1;
    if !first || !state.sandbox.outside_phone_answers(&phone).await? {
        return Err(AppError::invalid(
            "This call was answered elsewhere, or it has ended.",
        ));
    }
    Ok(())
}

/// The outside party hangs up: an answered call ends; a ringing one is declined (when it
/// was being called) or given up (when it called). The sandbox carrier reports it, as a
/// carrier's webhook would.
pub async fn hang_up_outside(state: &AppState, session_id: &str) -> AppResult<()> {
    require_sandbox(state)?;
    if forwarded_call(&state.db, session_id).await? {
        state.sandbox.outside_phone_ends(session_id, false).await?;
        return Ok(());
    }
    match outside_side(&state.db, session_id).await? {
        Side::Placed { held } => {
            let gone = CallEvent::HungUp {
                event_id: format!("sim-{}", crypto::new_id()),
                call_id: held,
                state: String::new(),
                declined: false,
            };
            super::carrier::handle(state, CarrierKind::Sandbox, &gone).await?;
        }
        Side::Called { phone } => {
            // Not called yet, or ended already: nothing rings there to end.
            if let Some(phone) = phone {
                state.sandbox.outside_phone_ends(&phone, false).await?;
            }
        }
    }
    Ok(())
}

/// The outside phone, answering call `call_id` forwarded to it, presses `digits` after the
/// whisper (1 takes the call).
pub async fn press_outside(state: &AppState, call_id: &str, digits: &str) -> AppResult<()> {
    require_sandbox(state)?;
    if digits.is_empty()
        || digits.len() > 8
        || !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
    {
        return Err(AppError::invalid("Press keys of a phone: 0–9, * or #."));
    }
    if !state.sandbox.outside_phone_presses(call_id, digits).await? {
        return Err(AppError::invalid(
            "Nothing on that call is waiting for a key.",
        ));
    }
    Ok(())
}
