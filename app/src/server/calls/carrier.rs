//! Calls through a carrier (Telnyx Call Control, Twilio voice webhooks): someone outside
//! calls one of our numbers,
//! the carrier holds them, and we command the call step by step from its events:
//!
//! call arrives → answer → say the number's greeting → beep and record (mp3, transcribed) →
//! the recording is copied into the media store as the owner's voicemail (the carrier's link
//! expires in minutes), its words put beside it.
//!
//! Telnyx takes each command as an API call (a job); Twilio takes them as the TwiML
//! answering its webhook, the whole voicemail at once ([`Reply`]).
//!
//! A browser can't take a carrier call yet (that needs the carrier's SDK and a credential
//! per device): the call is logged as missed and goes straight to voicemail, as on
//! do-not-disturb. Each command is a job (`Job::CallCommand`) with a command id the carrier
//! deduplicates, so a retry after a lost answer repeats nothing the caller hears. Each event
//! is acted on once (`webhook_events`), and a step only when it follows the one we took (the
//! `state` our command handed the carrier comes back with its events).

use sqlx::{Any, Transaction};

use super::voicemail::{self, Caller};
use super::{greeting, open, tell_parties, NewLeg, Ring, CALLEE_COLUMNS};
use crate::error::{AppError, AppResult};
use crate::server::carrier::config::CarrierKind;
use crate::server::carrier::{CallAction, CallEvent, CarrierError};
use crate::server::events::Published;
use crate::server::ids::E164;
use crate::server::jobs::{self, Job};
use crate::server::{crypto, now_ms, phone, safe_http, AppState};

/// What our voicemail commands hand the carrier to give back with their events.
const VOICEMAIL: &str = "voicemail";
/// The longest voicemail a caller may leave (a 2 MB mp3 holds it at 128 kbit/s).
pub const MAX_VOICEMAIL_SECS: u32 = 120;
/// A transcript longer than this is cut (two minutes of speech is well under).
pub const TRANSCRIPT_MAX_CHARS: usize = 4_000;
/// The tab a carrier call's session names as its caller's: the carrier holds that side.
const CARRIER_SIDE: &str = "carrier";

/// What a carrier that takes its commands in its webhook's answer (Twilio's TwiML) is to do
/// with the call now. Carriers commanded by API calls always get `Nothing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Nothing,
    /// Say `greeting`, then beep and record the caller.
    Voicemail {
        greeting: String,
    },
    /// End the call (to a number nobody here owns).
    HangUp,
}

/// Whether `carrier` takes its commands in its webhook's answer rather than by API calls.
fn commanded_by_reply(carrier: CarrierKind) -> bool {
    carrier == CarrierKind::Twilio
}

/// Acts on `event` from `carrier` (verified by its webhook), once per event id; says what a
/// carrier commanded by its webhook's answer is to do (the same again for a redelivery).
pub async fn handle(state: &AppState, carrier: CarrierKind, event: &CallEvent) -> AppResult<Reply> {
    let mut tx = state.db.begin().await?;
    let first = sqlx::query(
        "INSERT INTO webhook_events (carrier, event_id, received_at) VALUES ($1, $2, $3)
         ON CONFLICT (carrier, event_id) DO NOTHING",
    )
    .bind(carrier.as_str())
    .bind(event.event_id())
    .bind(now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first {
        drop(tx);
        return reply(state, carrier, event).await;
    }
    let mut published = Vec::new();
    match event {
        CallEvent::Incoming {
            call_id,
            session,
            from,
            to,
            ..
        } => published = incoming(&mut tx, carrier, call_id, session, from, to).await?,
        CallEvent::Answered {
            call_id,
            state: step,
            ..
        } if step == VOICEMAIL => {
            if let Some(session_id) = session_of(&mut tx, "carrier_call", call_id).await? {
                let words = greeting::for_caller(state, Caller::Outside, &session_id).await?;
                let speak = CallAction::Speak { text: words.text };
                command(&mut tx, carrier, call_id, speak, VOICEMAIL).await?;
            }
        }
        CallEvent::SpeakEnded {
            call_id,
            state: step,
            ..
        } if step == VOICEMAIL => {
            if session_of(&mut tx, "carrier_call", call_id)
                .await?
                .is_some()
            {
                let record = CallAction::RecordVoicemail {
                    max_secs: MAX_VOICEMAIL_SECS,
                };
                command(&mut tx, carrier, call_id, record, VOICEMAIL).await?;
            }
        }
        CallEvent::RecordingSaved { session, url, .. } => {
            if let Some(session_id) = session_of(&mut tx, "carrier_session", session).await? {
                let fetch = Job::FetchVoicemail {
                    carrier: carrier.as_str().into(),
                    session_id,
                    url: url.clone(),
                };
                jobs::enqueue(&mut tx, &fetch, now_ms()).await?;
            }
        }
        CallEvent::Transcribed { session, text, .. } => {
            if let Some(session_id) = session_of(&mut tx, "carrier_session", session).await? {
                let text: String = text.trim().chars().take(TRANSCRIPT_MAX_CHARS).collect();
                sqlx::query(
                    "UPDATE calls SET transcript = $1 WHERE session_id = $2 AND direction = 'in'",
                )
                .bind(&text)
                .bind(&session_id)
                .execute(&mut *tx)
                .await?;
                published = tell_parties(&mut tx, &session_id).await?;
            }
        }
        // A step we did not take (another application's command on the same account).
        CallEvent::Answered { .. } | CallEvent::SpeakEnded { .. } => {}
    }
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    reply(state, carrier, event).await
}

/// What a carrier commanded by its webhook's answer is to do after `event`: for a call that
/// arrived, its voicemail when the call is ours (opened by [`incoming`]), else hang up.
async fn reply(state: &AppState, carrier: CarrierKind, event: &CallEvent) -> AppResult<Reply> {
    let CallEvent::Incoming { session, .. } = event else {
        return Ok(Reply::Nothing);
    };
    if !commanded_by_reply(carrier) {
        return Ok(Reply::Nothing);
    }
    let mut tx = state.db.begin().await?;
    let ours = session_of(&mut tx, "carrier_session", session).await?;
    drop(tx);
    Ok(match ours {
        Some(session_id) => Reply::Voicemail {
            greeting: greeting::for_caller(state, Caller::Outside, &session_id)
                .await?
                .text,
        },
        None => Reply::HangUp,
    })
}

/// Queues `action` for call `call_id`, with a command id of its own (for a carrier
/// commanded by API calls: the others get theirs in [`reply`]).
async fn command(
    tx: &mut Transaction<'_, Any>,
    carrier: CarrierKind,
    call_id: &str,
    action: CallAction,
    step: &str,
) -> AppResult<()> {
    if commanded_by_reply(carrier) {
        return Ok(());
    }
    let job = Job::CallCommand {
        carrier: carrier.as_str().into(),
        call_id: call_id.into(),
        action,
        command_id: crypto::new_id(),
        state: step.into(),
    };
    jobs::enqueue(tx, &job, now_ms()).await
}

/// Our call whose carrier id in `column` (`carrier_call` or `carrier_session`) is `id`.
async fn session_of(
    tx: &mut Transaction<'_, Any>,
    column: &'static str,
    id: &str,
) -> AppResult<Option<String>> {
    let found: Option<(String,)> =
        sqlx::query_as(&format!("SELECT id FROM call_sessions WHERE {column} = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(found.map(|(id,)| id))
}

/// `from` calls our number `to`; the carrier holds the call as `call_id` (`session`). It is
/// logged for the number's owner as missed and answered by voicemail; a call to a number
/// nobody here owns is hung up.
async fn incoming(
    tx: &mut Transaction<'_, Any>,
    carrier: CarrierKind,
    call_id: &str,
    session: &str,
    from: &str,
    to: &str,
) -> AppResult<Vec<Published>> {
    let to = E164::parse(to, "US").ok();
    let callee: Option<super::Callee> = match &to {
        Some(to) => {
            sqlx::query_as(&format!(
                "SELECT {CALLEE_COLUMNS} FROM phone_numbers WHERE e164 = $1"
            ))
            .bind(to)
            .fetch_optional(&mut **tx)
            .await?
        }
        None => None,
    };
    let (Some(to), Some(found)) = (to, callee) else {
        tracing::warn!("a call to a number nobody here owns: hung up");
        command(tx, carrier, call_id, CallAction::HangUp, "").await?;
        return Ok(Vec::new());
    };
    let region = phone::region_of(to.as_str()).unwrap_or_else(|| "US".into());
    // A withheld number ("anonymous", "private") is not one to call back.
    let from = E164::parse(from, &region).unwrap_or_else(|_| E164::from_stored("anonymous"));
    let ring = match Ring::of_callee(&found) {
        Ring::NotAtAll => Ring::NotAtAll,
        _ => Ring::StraightToVoicemail,
    };
    let leg = NewLeg {
        user: &found.1,
        number: &found.0,
        own: &to,
        peer: &from,
        direction: "in",
    };
    let session_id = open(tx, "", CARRIER_SIDE, Some(&from), &[leg], ring).await?;
    sqlx::query("UPDATE call_sessions SET carrier_call = $1, carrier_session = $2 WHERE id = $3")
        .bind(call_id)
        .bind(session)
        .bind(&session_id)
        .execute(&mut **tx)
        .await?;
    command(tx, carrier, call_id, CallAction::Answer, VOICEMAIL).await?;
    tell_parties(tx, &session_id).await
}

/// Copies the voicemail recorded on call `session_id` from `url` (the carrier's link, from
/// its webhook: checked like any address we fetch for someone) into the media store, as the
/// called person's voicemail. Errors that may pass are for the job queue to retry.
pub async fn fetch_voicemail(
    state: &AppState,
    carrier: &str,
    session_id: &str,
    url: &str,
) -> Result<(), CarrierError> {
    let Some(kind) = CarrierKind::parse(carrier) else {
        return Err(CarrierError::Config(format!("unknown carrier {carrier}")));
    };
    let checked = url::Url::parse(url)
        .map_err(|e| e.to_string())
        .and_then(|parsed| safe_http::check_url(&parsed, state.settings.fetch_reach));
    if let Err(why) = checked {
        return Err(CarrierError::Rejected {
            code: "address".into(),
            detail: format!("voicemail address refused: {why}"),
        });
    }
    let recording = state
        .carrier_of(kind)
        .fetch_media(&state.media_http(), url, voicemail::MAX_VOICEMAIL_BYTES)
        .await?;
    match voicemail::leave(state, Caller::Outside, session_id, &recording).await {
        Ok(()) => Ok(()),
        // Kept already (a second recording of the call), or not audio we keep: final.
        Err(AppError::Invalid(why)) => Err(CarrierError::Rejected {
            code: "voicemail".into(),
            detail: why,
        }),
        Err(e) => Err(CarrierError::Transient(format!("storage: {e:?}"))),
    }
}
