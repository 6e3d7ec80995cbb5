//! Calls through a carrier (Telnyx Call Control, Twilio voice webhooks): someone outside
//! calls one of our numbers,
//! the carrier holds them, and we command the call step by step from its events:
//!
//! call arrives → answer → say the number's greeting (or play its recording) → beep and
//! record (mp3, transcribed) →
//! the recording is copied into the media store as the owner's voicemail (the carrier's link
//! expires in minutes), its words put beside it.
//!
//! Telnyx takes each command as an API call (a job); Twilio takes them as the TwiML
//! answering its webhook ([`Reply`]; the whole voicemail at once).
//!
//! A number may forward its calls to a phone: we place a call to that phone tied to the
//! held one (Twilio: `<Dial>`); whoever answers hears whom it is for and presses 1 to take
//! it (a whisper, so a voicemail box or a stranger never takes it), and the two calls are
//! joined. Not taken in the number's ring time → voicemail.
//!
//! Without forwarding, a call rings the owner's browsers that signed in to the carrier's
//! SDK (`browser_phone`): the caller is held (Telnyx: not answered yet; Twilio: answered,
//! hearing a ringback), and the first tab to press Answer has the carrier call that tab
//! ([`pick_up`]: a forwarded call with no whisper). With no such browser the call goes
//! straight to voicemail, as on do-not-disturb. A call out from a browser is placed the
//! same way round: the carrier calls the tab, then the phone ([`call_out`]).
//!
//! Both at once: a number can forward after its browsers ring a while ([`forward_later`]),
//! or together with them (`types::FORWARD_WITH_BROWSERS`): the phone is called as when
//! forwarded, and the browsers ring too (`rings_phone` = 1). The first to take the call
//! has it: a tab pressing Answer lets the phone go; the phone pressing 1 ends the tabs'
//! ringing. The phone giving up leaves the browsers ringing; the browsers' time ending
//! leaves the phone ringing.
//!
//! Each command is a job (`Job::CallCommand`) with a command id the carrier deduplicates,
//! so a retry after a lost answer repeats nothing the caller hears (Twilio takes no command
//! id: a call it may have placed is not placed again). Each event is acted on once
//! (`webhook_events`), and a step only when it follows the one we took (the `state` our
//! command handed the carrier comes back with its events).

use sqlx::{Any, Transaction};

use super::voicemail::{self, Caller};
use super::{end_in, greeting, open, tell_parties, Ending, NewLeg, Ring, CALLEE_COLUMNS};
use crate::error::{AppError, AppResult};
use crate::server::carrier::config::CarrierKind;
use crate::server::carrier::{CallAction, CallEvent, CarrierError};
use crate::server::events::Published;
use crate::server::ids::E164;
use crate::server::jobs::{self, Job};
use crate::server::{crypto, now_ms, phone, safe_http, throttle, AppState};

/// What our voicemail commands hand the carrier to give back with their events.
const VOICEMAIL: &str = "voicemail";
/// What the commands of a forwarded call hand back: this, then our call's id.
const FORWARD: &str = "forward:";
/// The same for a call a browser picks up (the carrier calls that browser: a forwarded
/// call with no whisper, the browser having pressed Answer already).
const PICKUP: &str = "pickup:";
/// Our timer for a forwarded call runs this much past its ring time: the carrier's own
/// timeout on the forwarded phone (the ring time) ends it first, and sends it to voicemail.
const FORWARD_GRACE_MS: i64 = 30_000;
/// What the commands of a call placed from a browser hand back: this, then our call's id.
/// The carrier first calls the browser (its SDK takes the call at once), then, tied to
/// it, the phone called; the two are joined when that phone answers.
const OUTBOUND: &str = "outbound:";
/// How long a phone called from a browser rings before it counts as not answered.
const OUTBOUND_RING_SECS: u32 = 30;
/// How long the carrier rings the browser that pressed Answer (it answers at once; a
/// browser gone meanwhile lets the caller have the voicemail after this).
const PICKUP_RING_SECS: u32 = 15;
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
    /// Say `greeting` (or play the owner's `recording`), then beep and record the caller.
    Voicemail {
        greeting: String,
        recording: Option<String>,
    },
    /// Ring the phone `to` (showing `caller_id`) for `timeout_secs`; the whisper and how it
    /// went come back about our call `session_id`.
    Forward {
        to: String,
        caller_id: String,
        timeout_secs: u32,
        session_id: String,
    },
    /// Say `text` to the forwarded phone and wait for a key; the key comes back about our
    /// call `session_id`.
    AskForKey {
        text: String,
        session_id: String,
    },
    /// Put the forwarded phone through to the caller.
    Connect,
    /// Keep the caller hearing it ring while browsers do, up to `secs` (our ring timer, or
    /// a browser picking up, moves the call on before), then the voicemail.
    Hold {
        secs: u32,
    },
    /// Ring `to` (a browser or a phone) for `timeout_secs`, showing `caller_id`; its answer
    /// and its end come back with `state`.
    Dial {
        to: String,
        caller_id: String,
        timeout_secs: u32,
        state: String,
    },
    /// End the call.
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
        return again(state, carrier, event).await;
    }
    let mut out = Commands::answering(carrier);
    let mut published = Vec::new();
    match event {
        CallEvent::Incoming {
            call_id,
            session,
            connection,
            from,
            to,
            offer,
            ..
        } => {
            let arrived = Arrived {
                call_id,
                session,
                connection,
                from,
                to,
                offer: offer.as_deref(),
            };
            published = incoming(&mut tx, &mut out, &arrived).await?
        }
        CallEvent::Answered {
            call_id,
            state: step,
            ..
        } if outbound(step).is_some() => {
            let session_id = outbound(step).unwrap_or_default();
            published = outbound_answered(&mut tx, &mut out, call_id, session_id).await?
        }
        CallEvent::HungUp {
            call_id,
            state: step,
            declined,
            ..
        } if outbound(step).is_some() => {
            let session_id = outbound(step).unwrap_or_default();
            published = outbound_hung_up(&mut tx, &mut out, call_id, session_id, *declined).await?
        }
        CallEvent::Answered {
            call_id,
            state: step,
            ..
        } if forwarded(step).is_some() => {
            let session_id = forwarded(step).unwrap_or_default();
            published =
                forward_answered(&mut tx, &mut out, call_id, session_id, picked_up(step)).await?
        }
        CallEvent::Gathered {
            call_id,
            state: step,
            digits,
            ..
        } if forwarded(step).is_some() => {
            let session_id = forwarded(step).unwrap_or_default();
            published = forward_taken(&mut tx, &mut out, call_id, session_id, digits).await?
        }
        CallEvent::HungUp {
            call_id,
            state: step,
            ..
        } => published = hung_up(&mut tx, &mut out, call_id, step).await?,
        CallEvent::Answered {
            call_id,
            state: step,
            ..
        } if step == VOICEMAIL && commanded_by_reply(carrier) => {
            // Pointed back here for its voicemail: the whole of it, as TwiML. A call still
            // ringing (held while browsers rang, and nothing moved it on in time) ends
            // unanswered first: its tabs stop ringing, and none can pick it up any more.
            if let Some(session_id) = session_of(&mut tx, "carrier_call", call_id).await? {
                if let Some(ended) =
                    end_in(&mut tx, &session_id, &["ringing"], Ending::Unanswered).await?
                {
                    published = ended;
                }
            }
            command(&mut tx, &mut out, call_id, CallAction::Answer, VOICEMAIL).await?
        }
        CallEvent::Answered {
            call_id,
            state: step,
            ..
        } if step == VOICEMAIL => {
            if let Some(session_id) = session_of(&mut tx, "carrier_call", call_id).await? {
                // The owner's recorded greeting when the carrier can play it, else its words.
                let greet = match greeting::carrier_playable(state, &session_id).await? {
                    Some(url) => CallAction::Play { url },
                    None => CallAction::Speak {
                        text: greeting::for_caller(state, Caller::Outside, &session_id)
                            .await?
                            .text,
                    },
                };
                command(&mut tx, &mut out, call_id, greet, VOICEMAIL).await?;
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
                command(&mut tx, &mut out, call_id, record, VOICEMAIL).await?;
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
        CallEvent::Answered { .. } | CallEvent::SpeakEnded { .. } | CallEvent::Gathered { .. } => {}
    }
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    if out.said.is_none() && out.hold_secs.is_none() && matches!(event, CallEvent::HungUp { .. }) {
        // A forwarded phone's end after our call ended another way (our timer sent the
        // caller to voicemail): the caller, still there, is not to be hung up on.
        return again(state, carrier, event).await;
    }
    reply(state, out).await
}

/// Where the commands for a carrier's calls go: jobs, for a carrier commanded by API calls;
/// the webhook's answer, for one commanded that way (the last command said is the answer)
/// while answering its webhook. Outside a webhook (a tab, our timers) every command is a
/// job: a carrier commanded by its answers gets the live call updated.
struct Commands {
    carrier: CarrierKind,
    answering: bool,
    said: Option<(String, CallAction, String)>,
    /// The call is held while browsers ring (for this long at most), nothing said.
    hold_secs: Option<u32>,
}

impl Commands {
    /// Commands from here (a tab, a timer): jobs.
    fn new(carrier: CarrierKind) -> Commands {
        Commands {
            carrier,
            answering: false,
            said: None,
            hold_secs: None,
        }
    }

    /// Commands while answering the carrier's webhook.
    fn answering(carrier: CarrierKind) -> Commands {
        Commands {
            answering: true,
            ..Commands::new(carrier)
        }
    }
}

/// The answer to a carrier commanded by its webhook's answer, from the command said.
async fn reply(state: &AppState, out: Commands) -> AppResult<Reply> {
    if !commanded_by_reply(out.carrier) {
        return Ok(Reply::Nothing);
    }
    let Some((call_id, action, step)) = out.said else {
        return Ok(match out.hold_secs {
            Some(secs) => Reply::Hold { secs },
            None => Reply::Nothing,
        });
    };
    let session_id = forwarded(&step).unwrap_or_default().to_string();
    Ok(match action {
        CallAction::Answer if step == VOICEMAIL => {
            let mut tx = state.db.begin().await?;
            let ours = session_of(&mut tx, "carrier_call", &call_id).await?;
            drop(tx);
            match ours {
                Some(session_id) => voicemail_reply(state, &session_id).await?,
                None => Reply::HangUp,
            }
        }
        // The forwarded phone took the call: the caller is put through.
        CallAction::Answer | CallAction::Bridge { .. } => Reply::Connect,
        // A browser or a phone rung for a call placed from a browser.
        CallAction::Dial {
            to,
            from,
            timeout_secs,
            ..
        } if step.starts_with(OUTBOUND) => Reply::Dial {
            to,
            caller_id: from,
            timeout_secs,
            state: step,
        },
        CallAction::Dial {
            to,
            from,
            timeout_secs,
            ..
        } => Reply::Forward {
            to,
            caller_id: from,
            timeout_secs,
            session_id,
        },
        CallAction::AskForKey { text } => Reply::AskForKey { text, session_id },
        CallAction::HangUp => Reply::HangUp,
        CallAction::Speak { .. } | CallAction::Play { .. } | CallAction::RecordVoicemail { .. } => {
            Reply::Nothing
        }
    })
}

async fn voicemail_reply(state: &AppState, session_id: &str) -> AppResult<Reply> {
    Ok(Reply::Voicemail {
        greeting: greeting::for_caller(state, Caller::Outside, session_id)
            .await?
            .text,
        recording: greeting::carrier_playable(state, session_id).await?,
    })
}

/// The answer to a carrier commanded by its webhook's answer that asks again about an
/// event acted on already (its first answer was lost): the same answer, from what the call
/// is now. Never an empty answer to the forwarded phone unless it took the call (empty
/// puts it through).
async fn again(state: &AppState, carrier: CarrierKind, event: &CallEvent) -> AppResult<Reply> {
    if !commanded_by_reply(carrier) {
        return Ok(Reply::Nothing);
    }
    let mut tx = state.db.begin().await?;
    let session_id = match event {
        CallEvent::Incoming { session, .. } => {
            session_of(&mut tx, "carrier_session", session).await?
        }
        // Asked again for the voicemail it was pointed to.
        CallEvent::Answered {
            call_id,
            state: step,
            ..
        } if step == VOICEMAIL => {
            let ours = session_of(&mut tx, "carrier_call", call_id).await?;
            drop(tx);
            return match ours {
                Some(session_id) => voicemail_reply(state, &session_id).await,
                None => Ok(Reply::HangUp),
            };
        }
        // A call placed from a browser, asked again (our answer was lost): the browser that
        // answered is still ringing the phone, or the phone that answered is put through.
        CallEvent::Answered {
            call_id,
            state: step,
            ..
        } if outbound(step).is_some() => {
            type Placed = (String, Option<String>, Option<String>, String, String);
            let placed: Option<Placed> = sqlx::query_as(
                "SELECT s.state, s.carrier_call, s.forward_call, c.number_e164, c.peer
                 FROM call_sessions s JOIN calls c ON c.session_id = s.id AND c.direction = 'out'
                 WHERE s.id = $1",
            )
            .bind(outbound(step).unwrap_or_default())
            .fetch_optional(&mut *tx)
            .await?;
            drop(tx);
            return Ok(match placed {
                Some((now, Some(browser), None, own, peer))
                    if now == "ringing" && &browser == call_id =>
                {
                    Reply::Dial {
                        to: peer,
                        caller_id: own,
                        timeout_secs: OUTBOUND_RING_SECS,
                        state: step.clone(),
                    }
                }
                Some((now, _, Some(phone), _, _)) if now == "answered" && &phone == call_id => {
                    Reply::Connect
                }
                _ => Reply::HangUp,
            });
        }
        CallEvent::Answered { state: step, .. }
        | CallEvent::Gathered { state: step, .. }
        | CallEvent::HungUp { state: step, .. } => forwarded(step).map(str::to_owned),
        _ => return Ok(Reply::Nothing),
    };
    let Some(session_id) = session_id else {
        return Ok(Reply::HangUp);
    };
    type Now = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        String,
        Option<i64>,
        i64,
    );
    let now: Option<Now> = sqlx::query_as(
        "SELECT s.state, s.forward_call, c.outcome, p.forward_to, p.ring_seconds, c.number_e164,
             s.rings_browsers, s.rings_phone
         FROM call_sessions s JOIN calls c ON c.session_id = s.id AND c.direction = 'in'
         LEFT JOIN phone_numbers p ON p.id = c.number_id
         WHERE s.id = $1",
    )
    .bind(&session_id)
    .fetch_optional(&mut *tx)
    .await?;
    drop(tx);
    let Some((call_state, phone, outcome, forward_to, ring_seconds, own, browsers, with_phone)) =
        now
    else {
        return Ok(Reply::HangUp);
    };
    let missed = matches!(outcome.as_deref(), Some("missed" | "declined"));
    Ok(match event {
        // Only browsers ring (a phone ringing with them is the <Dial> below).
        CallEvent::Incoming { .. }
            if call_state == "ringing" && browsers == Some(1) && with_phone == 0 =>
        {
            Reply::Hold {
                secs: hold_secs(ring_seconds * 1000),
            }
        }
        CallEvent::Incoming { .. } if call_state == "ringing" => match forward_to {
            Some(to) => Reply::Forward {
                to,
                caller_id: own,
                timeout_secs: phone_ring_secs(ring_seconds * 1000),
                session_id,
            },
            None => Reply::HangUp,
        },
        CallEvent::Incoming { .. } | CallEvent::HungUp { .. } if missed => {
            return voicemail_reply(state, &session_id).await
        }
        // The forwarding phone rung with the browsers gave up, asked again: the caller is
        // held on the ringback while they ring on (as the first answer said).
        CallEvent::HungUp { .. } if call_state == "ringing" && browsers == Some(1) => Reply::Hold {
            secs: hold_secs(ring_seconds * 1000),
        },
        // The phone that pressed 1, or the browser that picked up, asking again: it took
        // the call, and is put through (again).
        CallEvent::Gathered { call_id, .. }
            if call_state == "answered" && phone.as_deref() == Some(call_id.as_str()) =>
        {
            Reply::Connect
        }
        CallEvent::Answered {
            call_id,
            state: step,
            ..
        } if picked_up(step)
            && call_state == "answered"
            && phone.as_deref() == Some(call_id.as_str()) =>
        {
            Reply::Connect
        }
        _ => Reply::HangUp,
    })
}

/// Queues `action` for call `call_id`, with a command id of its own; for a carrier
/// commanded by its webhook's answer, keeps it for that answer ([`reply`]).
async fn command(
    tx: &mut Transaction<'_, Any>,
    out: &mut Commands,
    call_id: &str,
    action: CallAction,
    step: &str,
) -> AppResult<()> {
    if out.answering && commanded_by_reply(out.carrier) {
        out.said = Some((call_id.into(), action, step.into()));
        return Ok(());
    }
    let job = Job::CallCommand {
        carrier: out.carrier.as_str().into(),
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

/// A call that arrived: the carrier's ids for it, what it came through, who calls whom
/// (and the caller's session description, for a browser to answer directly: the sandbox).
struct Arrived<'a> {
    call_id: &'a str,
    session: &'a str,
    connection: &'a str,
    from: &'a str,
    to: &'a str,
    offer: Option<&'a str>,
}

/// Our call's id in the state of a forwarded call (or one a browser picks up), if `step`
/// is one (and a well-formed id).
fn forwarded(step: &str) -> Option<&str> {
    step.strip_prefix(FORWARD)
        .or_else(|| step.strip_prefix(PICKUP))
        .filter(|id| well_formed(id))
}

/// Our call's id in the state of a call placed from a browser, if `step` is one.
fn outbound(step: &str) -> Option<&str> {
    step.strip_prefix(OUTBOUND).filter(|id| well_formed(id))
}

/// Our ids are UUIDs.
fn well_formed(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Whether `step` is that of a call a browser picks up.
fn picked_up(step: &str) -> bool {
    step.starts_with(PICKUP)
}

/// A call arrived for our number: logged for the number's owner; forwarded to their phone
/// when they set one, else ringing their browsers that can take it (a browser phone), else
/// answered by voicemail (and on do-not-disturb). A call to a number nobody here owns is
/// hung up.
async fn incoming(
    tx: &mut Transaction<'_, Any>,
    out: &mut Commands,
    call: &Arrived<'_>,
) -> AppResult<Vec<Published>> {
    let to = E164::parse(call.to, "US").ok();
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
        command(tx, out, call.call_id, CallAction::HangUp, "").await?;
        return Ok(Vec::new());
    };
    let region = phone::region_of(to.as_str()).unwrap_or_else(|| "US".into());
    // A withheld number ("anonymous", "private") is not one to call back.
    let from = E164::parse(call.from, &region).unwrap_or_else(|_| E164::from_stored("anonymous"));
    let (forward_to, forward_after): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT forward_to, forward_after_secs FROM phone_numbers WHERE id = $1")
            .bind(&found.0)
            .fetch_one(&mut **tx)
            .await?;
    // Forwarded at once, only the phone rings; forwarded after a while, the browsers ring
    // first (if the user has any), then the phone ([`forward_later`]); forwarded with the
    // browsers, both ring.
    let browsers_first = forward_after.filter(|secs| *secs > 0);
    let together = forward_after == Some(crate::types::FORWARD_WITH_BROWSERS);
    let browsers = (forward_to.is_none() || browsers_first.is_some() || together)
        && super::browser_phone::any(tx, &found.1, out.carrier).await?;
    let later = forward_to
        .clone()
        .filter(|_| browsers && browsers_first.is_some());
    let with_browsers = forward_to.is_some() && together && browsers;
    let ring = match (Ring::of_callee(&found), &forward_to) {
        (Ring::For(_), Some(_)) if later.is_some() => Ring::For(browsers_first.unwrap_or(0) * 1000),
        // The browsers' timer, at the ring time: the phone's own timeout ends it about then.
        (Ring::For(ms), Some(_)) if with_browsers => Ring::For(ms),
        (Ring::For(ms), Some(_)) => Ring::For(ms + FORWARD_GRACE_MS),
        // The caller waits, hearing it ring, while the user's browsers do.
        (Ring::For(ms), None) if browsers => Ring::For(ms),
        (Ring::NotAtAll, _) => Ring::NotAtAll,
        _ => Ring::StraightToVoicemail,
    };
    let rings_browsers = browsers && matches!(ring, Ring::For(_));
    let rings_phone = with_browsers && rings_browsers;
    let leg = NewLeg {
        user: &found.1,
        number: &found.0,
        own: &to,
        peer: &from,
        direction: "in",
    };
    let offer = call.offer.unwrap_or_default();
    let session_id = open(tx, offer, CARRIER_SIDE, Some(&from), &[leg], ring).await?;
    sqlx::query(
        "UPDATE call_sessions SET carrier_call = $1, carrier_session = $2, carrier = $3,
             carrier_connection = $4, rings_browsers = $5, forward_later = $7, rings_phone = $8
         WHERE id = $6",
    )
    .bind(call.call_id)
    .bind(call.session)
    .bind(out.carrier.as_str())
    .bind(call.connection)
    .bind(i64::from(rings_browsers))
    .bind(&session_id)
    .bind(later.as_deref().filter(|_| rings_browsers))
    .bind(i64::from(rings_phone))
    .execute(&mut **tx)
    .await?;
    if rings_browsers {
        // Devices with the app closed ring too, through their push service.
        super::ring_closed_devices(tx, ring, &found.1, &from, &to, &session_id).await?;
    }
    match (ring, forward_to) {
        (Ring::For(ms), Some(phone)) if later.is_none() => {
            let phone_ms = if rings_phone {
                ms
            } else {
                ms - FORWARD_GRACE_MS
            };
            let dial = CallAction::Dial {
                to: phone,
                from: to.as_str().into(),
                connection: call.connection.into(),
                timeout_secs: phone_ring_secs(phone_ms),
            };
            let step = format!("{FORWARD}{session_id}");
            command(tx, out, call.call_id, dial, &step).await?;
        }
        // Held, ringing, until a browser picks it up ([`pick_up`]) or the ring timer ends it
        // (or, forwarded later, sends it to the phone).
        (Ring::For(ms), _) if rings_browsers => {
            if commanded_by_reply(out.carrier) {
                out.hold_secs = Some(hold_secs(ms));
            }
        }
        _ => command(tx, out, call.call_id, CallAction::Answer, VOICEMAIL).await?,
    }
    tell_parties(tx, &session_id).await
}

/// Whether call `session_id` rang the browsers first and has gone on to the forwarding
/// phone.
pub(super) async fn forwarded_later(
    tx: &mut Transaction<'_, Any>,
    session_id: &str,
) -> AppResult<bool> {
    let found: Option<(Option<String>,)> =
        sqlx::query_as("SELECT forward_later FROM call_sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(matches!(found, Some((Some(marker),)) if marker.is_empty()))
}

/// What the call log (and the ringing alert's replacement) says of a call that rang the
/// browsers, then went on to the forwarding phone.
const FORWARDED_LATER: &str = "Forwarded to your phone";

/// Carrier call `session_id` rang the user's browsers for the time set before forwarding,
/// and none took it: now their forwarding phone rings, for the number's ring time, as if
/// forwarded at once (the whisper, 1 to take it, else voicemail); the browsers stop. A
/// phone ringing with the browsers already rings on alone. None when the call does not go
/// on to a phone (it was never to, it already went, or its phone gave up).
pub(super) async fn forward_later(
    tx: &mut Transaction<'_, Any>,
    session_id: &str,
) -> AppResult<Option<Vec<Published>>> {
    forward_later_in(tx, None, session_id).await
}

/// [`forward_later`], its command in `out` when answering the carrier's webhook about the
/// call (a carrier commanded by its answers takes it there).
async fn forward_later_in(
    tx: &mut Transaction<'_, Any>,
    out: Option<&mut Commands>,
    session_id: &str,
) -> AppResult<Option<Vec<Published>>> {
    type Row = (
        Option<String>,
        String,
        String,
        Option<String>,
        String,
        i64,
        i64,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT s.forward_later, s.carrier, s.carrier_call, s.carrier_connection,
                c.number_e164, n.ring_seconds, s.rings_phone
         FROM call_sessions s JOIN calls c ON c.session_id = s.id AND c.direction = 'in'
         JOIN phone_numbers n ON n.id = c.number_id
         WHERE s.id = $1 AND (s.forward_later <> '' OR s.rings_phone = 1)",
    )
    .bind(session_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((phone, carrier, held, connection, own, ring_seconds, rings_phone)) = row else {
        return Ok(None);
    };
    let Some(kind) = CarrierKind::parse(&carrier) else {
        return Ok(None);
    };
    // '' marks it moved on ([`forwarded_later`]). Decided in the update itself: a tab's
    // pick-up at the same moment (PostgreSQL re-checks these after its row lock) wins.
    let taken = sqlx::query(
        "UPDATE call_sessions SET forward_later = '', rings_browsers = 0, rings_phone = 0
         WHERE id = $1 AND (forward_later <> '' OR rings_phone = 1) AND state = 'ringing'
           AND answered_tab IS NULL",
    )
    .bind(session_id)
    .execute(&mut **tx)
    .await?;
    if taken.rows_affected() == 0 {
        return Ok(None);
    }
    // Ringing already (with the browsers): its own timeout is about to end it.
    let ring_ms = if rings_phone == 1 {
        0
    } else {
        ring_seconds.clamp(10, 120) * 1000
    };
    jobs::enqueue(
        tx,
        &Job::RingTimeout {
            session_id: session_id.to_string(),
            last: false,
            forwarded: true,
        },
        now_ms() + ring_ms + FORWARD_GRACE_MS,
    )
    .await?;
    if let Some(phone) = phone.filter(|_| rings_phone == 0) {
        let dial = CallAction::Dial {
            to: phone,
            from: own,
            connection: connection.unwrap_or_default(),
            timeout_secs: u32::try_from(ring_ms / 1000).unwrap_or(30),
        };
        let mut own = Commands::new(kind);
        let out = match out {
            Some(out) if out.carrier == kind => out,
            _ => &mut own,
        };
        command(tx, out, &held, dial, &format!("{FORWARD}{session_id}")).await?;
    }
    // Her tabs stop ringing (the call is the phone's now), as do her closed devices.
    sqlx::query("UPDATE calls SET reason = $1 WHERE session_id = $2")
        .bind(FORWARDED_LATER)
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
    super::settle_ringing_alert(tx, session_id).await?;
    Ok(Some(tell_parties(tx, session_id).await?))
}

/// How long the forwarding phone rings, for a ring time of `ms`.
fn phone_ring_secs(ms: i64) -> u32 {
    u32::try_from((ms / 1000).clamp(5, 300)).unwrap_or(30)
}

/// How long a carrier commanded by its answers holds a caller while browsers ring `ms`:
/// well past our ring timer, which moves the call on first.
fn hold_secs(ms: i64) -> u32 {
    u32::try_from(ms / 1000 + 60).unwrap_or(120)
}

/// A forwarded call's session: (state, the held call, the forwarded phone's call once it
/// answered), if `session_id` is a carrier call of ours.
async fn forwarded_call(
    tx: &mut Transaction<'_, Any>,
    session_id: &str,
) -> AppResult<Option<(String, String, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT state, carrier_call, forward_call FROM call_sessions
         WHERE id = $1 AND carrier_call IS NOT NULL",
    )
    .bind(session_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// A forwarded call answered `call_id`. The forwarded phone: whoever it is hears whom the
/// call is for and is asked to press 1 (a call that ended meanwhile lets it go). The held
/// caller, once the phone took the call: the two are joined.
async fn forward_answered(
    tx: &mut Transaction<'_, Any>,
    out: &mut Commands,
    call_id: &str,
    session_id: &str,
    browser: bool,
) -> AppResult<Vec<Published>> {
    let found = forwarded_call(tx, session_id).await?;
    if let Some((state, held, phone)) = &found {
        if call_id == held {
            if let (true, Some(phone)) = (state == "answered", phone) {
                let bridge = CallAction::Bridge {
                    other: phone.clone(),
                };
                command(tx, out, held, bridge, &format!("{FORWARD}{session_id}")).await?;
            }
            return Ok(Vec::new());
        }
    }
    let phone_call = call_id;
    // Ringing, and this is the phone we called (its id known from the carrier's answer to
    // placing it, or first heard of now); a forwarding phone only while no browser picks
    // the call up (it rang with them, and was let go).
    let ours = matches!(&found, Some((state, _, phone))
        if state == "ringing" && phone.as_deref().is_none_or(|p| p == phone_call))
        && (browser || !picked_up_in_tab(tx, session_id).await?);
    if !ours {
        command(tx, out, phone_call, CallAction::HangUp, "").await?;
        return Ok(Vec::new());
    }
    sqlx::query(
        "UPDATE call_sessions SET forward_call = $1 WHERE id = $2 AND forward_call IS NULL",
    )
    .bind(phone_call)
    .bind(session_id)
    .execute(&mut **tx)
    .await?;
    if browser {
        // The browser asked for this call by pressing Answer: no whisper.
        return take(tx, out, phone_call, session_id, None).await;
    }
    let (e164, name, peer): (String, String, String) = sqlx::query_as(
        "SELECT p.e164, p.name, c.peer FROM calls c JOIN phone_numbers p ON p.id = c.number_id
         WHERE c.session_id = $1 AND c.direction = 'in'",
    )
    .bind(session_id)
    .fetch_one(&mut **tx)
    .await?;
    let region = phone::region_of(&e164).unwrap_or_else(|| "US".into());
    let line = if name.is_empty() {
        phone::display(&e164, &region)
    } else {
        name
    };
    let caller = if peer.starts_with('+') {
        format!("from {}", phone::display(&peer, &region))
    } else {
        "from a withheld number".into()
    };
    let whisper = CallAction::AskForKey {
        text: format!("Call for {line}, {caller}. Press 1 to take it."),
    };
    let step = format!("{FORWARD}{session_id}");
    command(tx, out, phone_call, whisper, &step).await?;
    Ok(Vec::new())
}

/// Whether a tab pressed Answer on call `session_id` (the carrier calls that browser).
async fn picked_up_in_tab(tx: &mut Transaction<'_, Any>, session_id: &str) -> AppResult<bool> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT id FROM call_sessions WHERE id = $1 AND answered_tab IS NOT NULL")
            .bind(session_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(found.is_some())
}

/// The forwarded phone pressed `digits`: 1 takes the call (the held caller is answered, and
/// then joined with it); any other answer, or none, lets the phone go, and its hang-up
/// sends the caller to voicemail.
async fn forward_taken(
    tx: &mut Transaction<'_, Any>,
    out: &mut Commands,
    phone_call: &str,
    session_id: &str,
    digits: &str,
) -> AppResult<Vec<Published>> {
    if digits != "1" {
        command(tx, out, phone_call, CallAction::HangUp, "").await?;
        return Ok(Vec::new());
    }
    take(
        tx,
        out,
        phone_call,
        session_id,
        Some("Answered on your forwarding phone"),
    )
    .await
}

/// The phone (or browser) the carrier called as `phone_call` takes call `session_id` if it
/// still rings: the held caller is answered, then joined with it ([`forward_answered`]).
/// Too late, it is let go. `reason` goes in the call log.
async fn take(
    tx: &mut Transaction<'_, Any>,
    out: &mut Commands,
    phone_call: &str,
    session_id: &str,
    reason: Option<&str>,
) -> AppResult<Vec<Published>> {
    let Some((_, held, _)) = forwarded_call(tx, session_id).await? else {
        command(tx, out, phone_call, CallAction::HangUp, "").await?;
        return Ok(Vec::new());
    };
    let taken = sqlx::query(
        "UPDATE call_sessions SET state = 'answered' WHERE id = $1 AND state = 'ringing'
             AND forward_call = $2",
    )
    .bind(session_id)
    .bind(phone_call)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if !taken {
        command(tx, out, phone_call, CallAction::HangUp, "").await?;
        return Ok(Vec::new());
    }
    sqlx::query("UPDATE calls SET answered_at = $1, reason = $2 WHERE session_id = $3")
        .bind(now_ms())
        .bind(reason)
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
    // Its other devices stop ringing.
    super::settle_ringing_alert(tx, session_id).await?;
    let step = format!("{FORWARD}{session_id}");
    command(tx, out, &held, CallAction::Answer, &step).await?;
    tell_parties(tx, session_id).await
}

/// Call `call_id` (of step `step`) ended. The caller hanging up ends our call (and lets a
/// forwarded phone go); the forwarded phone hanging up ends a call it had taken (and lets
/// the caller go), or, not taken, sends the caller to voicemail, unless browsers still
/// ring with it.
async fn hung_up(
    tx: &mut Transaction<'_, Any>,
    out: &mut Commands,
    call_id: &str,
    step: &str,
) -> AppResult<Vec<Published>> {
    let session_id = match forwarded(step) {
        Some(id) => Some(id.to_string()),
        None => session_of(tx, "carrier_call", call_id).await?,
    };
    let Some(session_id) = session_id else {
        return Ok(Vec::new());
    };
    let Some((state, held, phone)) = forwarded_call(tx, &session_id).await? else {
        return Ok(Vec::new());
    };
    let caller_left = call_id == held;
    if !caller_left && state == "ringing" && step.starts_with(FORWARD) {
        // A forwarding phone rung with the browsers gave up (or was let go for a browser
        // that picked the call up): the browsers ring on, the caller held.
        let ringing_on = sqlx::query(
            "UPDATE call_sessions SET rings_phone = 0,
                 forward_call = CASE WHEN forward_call = $2 THEN NULL ELSE forward_call END
             WHERE id = $1 AND state = 'ringing' AND rings_browsers = 1",
        )
        .bind(&session_id)
        .bind(call_id)
        .execute(&mut **tx)
        .await?;
        if ringing_on.rows_affected() == 1 {
            let ring_seconds = number_ring_seconds(tx, &session_id).await?;
            out.hold_secs = Some(hold_secs(ring_seconds * 1000));
            return Ok(Vec::new());
        }
    }
    if !caller_left && phone.as_deref().is_some_and(|p| p != call_id) {
        // Neither of our two calls (another call's events carrying our state).
        return Ok(Vec::new());
    }
    let other = if caller_left {
        phone
    } else {
        Some(held.clone())
    };
    if !caller_left && state == "ringing" {
        // A browser that pressed Answer never took the call (its carrier call ended
        // first): a call that was to go on to the forwarding phone goes there now.
        let reopened = sqlx::query(
            "UPDATE call_sessions SET answered_tab = NULL, forward_call = NULL
             WHERE id = $1 AND state = 'ringing' AND answered_tab IS NOT NULL
               AND forward_later <> ''",
        )
        .bind(&session_id)
        .execute(&mut **tx)
        .await?;
        if reopened.rows_affected() == 1 {
            if let Some(published) = forward_later_in(tx, Some(out), &session_id).await? {
                return Ok(published);
            }
        }
    }
    let ending = match (state.as_str(), caller_left) {
        ("answered", _) => Ending::HungUp,
        ("ringing", true) => Ending::Cancelled,
        ("ringing", false) => Ending::Unanswered,
        // Ended already (a voicemail, or the other side's hang-up came first).
        _ => return Ok(Vec::new()),
    };
    let Some(published) = end_in(tx, &session_id, &[state.as_str()], ending).await? else {
        return Ok(Vec::new());
    };
    if ending == Ending::Unanswered {
        // The caller is still held: the number's voicemail takes it.
        command(tx, out, &held, CallAction::Answer, VOICEMAIL).await?;
    } else if let Some(other) = other {
        command(tx, out, &other, CallAction::HangUp, "").await?;
    }
    Ok(published)
}

/// How long calls to the number called on `session_id` ring, in seconds.
async fn number_ring_seconds(tx: &mut Transaction<'_, Any>, session_id: &str) -> AppResult<i64> {
    let found: Option<(i64,)> = sqlx::query_as(
        "SELECT n.ring_seconds FROM calls c JOIN phone_numbers n ON n.id = c.number_id
         WHERE c.session_id = $1 AND c.direction = 'in'",
    )
    .bind(session_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.map_or(30, |(secs,)| secs))
}

/// Carrier call `session_id` ended unanswered while the carrier still holds its caller:
/// the number's voicemail takes them (a carrier commanded by its webhook's answer says so
/// in its next answer).
async fn to_voicemail(tx: &mut Transaction<'_, Any>, session_id: &str) -> AppResult<()> {
    let Some((kind, held, phone)) = held_call(tx, session_id).await? else {
        return Ok(());
    };
    let mut out = Commands::new(kind);
    // A forwarded phone (or a browser) still ringing stops. (Twilio drops it by itself when
    // the call is pointed at the voicemail; ending it first would end its <Dial>, and with
    // it the call.)
    if let Some(phone) = phone.filter(|_| !commanded_by_reply(kind)) {
        command(tx, &mut out, &phone, CallAction::HangUp, "").await?;
    }
    command(tx, &mut out, &held, CallAction::Answer, VOICEMAIL).await
}

/// Carrier call `session_id`'s carrier, its held call and the call placed for it (to a
/// forwarded phone or a browser), if it is a carrier call.
async fn held_call(
    tx: &mut Transaction<'_, Any>,
    session_id: &str,
) -> AppResult<Option<(CarrierKind, String, Option<String>)>> {
    let held: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT carrier, carrier_call, forward_call FROM call_sessions
         WHERE id = $1 AND carrier IS NOT NULL AND carrier_call IS NOT NULL",
    )
    .bind(session_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(held.and_then(|(carrier, held, phone)| {
        CarrierKind::parse(&carrier).map(|kind| (kind, held, phone))
    }))
}

/// Carrier call `session_id` was ended here (in a tab, or by the ring timer) as `ending`:
/// its caller, still held, gets the voicemail, unless the call had been answered: then both
/// its calls at the carrier end.
pub(super) async fn ended_here(
    tx: &mut Transaction<'_, Any>,
    session_id: &str,
    ending: Ending,
) -> AppResult<()> {
    let placed: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT s.carrier, s.carrier_call, s.forward_call
         FROM call_sessions s JOIN calls c ON c.session_id = s.id AND c.direction = 'out'
         WHERE s.id = $1 AND s.carrier IS NOT NULL",
    )
    .bind(session_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((carrier, browser, phone)) = placed {
        // A call placed from a browser: whatever of it the carrier holds ends (a browser
        // call not answered yet is hung up by the tab, or here when it answers late).
        let Some(kind) = CarrierKind::parse(&carrier) else {
            return Ok(());
        };
        let mut out = Commands::new(kind);
        for call in browser.into_iter().chain(phone) {
            command(tx, &mut out, &call, CallAction::HangUp, "").await?;
        }
        return Ok(());
    }
    if ending != Ending::HungUp {
        return to_voicemail(tx, session_id).await;
    }
    let Some((kind, held, phone)) = held_call(tx, session_id).await? else {
        return Ok(());
    };
    let mut out = Commands::new(kind);
    for call in std::iter::once(held).chain(phone) {
        command(tx, &mut out, &call, CallAction::HangUp, "").await?;
    }
    Ok(())
}

/// Which carrier, if any, carries a call from the user's number `number_id` to `to`: the
/// browser signs in to its SDK before [`call_out`]. None: the browser calls with plain
/// WebRTC (`calls::start`): a number here, or any number on the sandbox (whose carrier
/// holds a call to a number outside, the Simulator's outside phone answering it).
pub async fn route(
    state: &AppState,
    user_id: &crate::server::ids::UserId,
    number_id: &crate::server::ids::NumberId,
    to: &str,
) -> AppResult<Option<String>> {
    let (_, _, via) = routed(state, user_id, number_id, to).await?;
    Ok(via.map(|kind| kind.as_str().to_string()))
}

/// The user's number `number_id`, the number `to` it would call, and the carrier the call
/// goes through (None: between browsers).
async fn routed(
    state: &AppState,
    user_id: &crate::server::ids::UserId,
    number_id: &crate::server::ids::NumberId,
    to: &str,
) -> AppResult<(E164, E164, Option<CarrierKind>)> {
    let (from, carrier, peer) =
        super::own_number_and_peer(&state.db, user_id, number_id, to).await?;
    let here: Option<(String,)> = sqlx::query_as("SELECT id FROM phone_numbers WHERE e164 = $1")
        .bind(&peer)
        .fetch_optional(state.db.pool())
        .await?;
    if here.is_some() || carrier == CarrierKind::Sandbox.as_str() {
        return Ok((from, peer, None));
    }
    match CarrierKind::parse(&carrier) {
        Some(kind @ (CarrierKind::Telnyx | CarrierKind::Twilio)) => Ok((from, peer, Some(kind))),
        other => Err(AppError::invalid(format!(
            "Calls to phones outside this Switchboard from {} numbers are not built yet.",
            other.map(|k| k.label()).unwrap_or("these")
        ))),
    }
}

/// Calls the phone `to` from the user's carrier number `number_id`, in tab `tab` of browser
/// `device` (signed in to the carrier's SDK): the carrier calls that browser, whose SDK
/// takes the call at once; then, tied to it, the phone ([`outbound_answered`]). The phone
/// must be in the number's own country and not premium-rate: the instance pays for each
/// call. Answers our call's id.
pub async fn call_out(
    state: &AppState,
    user_id: &crate::server::ids::UserId,
    number_id: &crate::server::ids::NumberId,
    to: &str,
    tab: &str,
    device: &str,
) -> AppResult<String> {
    super::check_tab(tab)?;
    let (from, peer, Some(kind)) = routed(state, user_id, number_id, to).await? else {
        return Err(AppError::invalid(
            "That number is called in the browser, not through the carrier.",
        ));
    };
    phone::check_payable(from.as_str(), peer.as_str())?;
    throttle::take(&state.db, super::PLACED, user_id.as_str()).await?;
    let webhook_url = state.webhook_url(kind);
    let connection = state
        .carrier_of(kind)
        .calls_connection(&webhook_url)
        .await
        .map_err(crate::server::numbers::carrier_failure)?;
    let mut tx = state.db.begin().await?;
    if super::live_count(&mut tx, user_id).await? >= super::MAX_LIVE_CALLS {
        return Err(AppError::invalid(format!(
            "You have {} calls going already. Hang one up first.",
            super::MAX_LIVE_CALLS
        )));
    }
    let Some(address) = super::browser_phone::address(&mut tx, user_id, kind, device).await? else {
        return Err(AppError::invalid(
            "This browser isn't signed in to make phone calls. Reload the page and call again.",
        ));
    };
    let leg = NewLeg {
        user: user_id,
        number: number_id,
        own: &from,
        peer: &peer,
        direction: "out",
    };
    let placing = Placing {
        kind,
        tab,
        browser: address,
        connection,
        offer: None,
    };
    let session_id = place(&mut tx, &leg, placing).await?;
    let published = tell_parties(&mut tx, &session_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(session_id)
}

/// How a call from a browser is placed through a carrier: the carrier, the calling tab and
/// the address the carrier calls it at, the connection the calls go through, and (on the
/// sandbox) the tab's session description, for the outside phone to answer directly.
pub(super) struct Placing<'a> {
    pub kind: CarrierKind,
    pub tab: &'a str,
    pub browser: String,
    pub connection: String,
    pub offer: Option<&'a str>,
}

/// Places the call `leg` describes inside `tx`: the carrier first calls the browser
/// ([`outbound_answered`] then the phone). Answers our call's id.
pub(super) async fn place(
    tx: &mut Transaction<'_, Any>,
    leg: &NewLeg<'_>,
    placing: Placing<'_>,
) -> AppResult<String> {
    // Our timer is a backstop: the carrier's own timeouts on the two calls come first.
    let ring =
        Ring::For(i64::from(PICKUP_RING_SECS + OUTBOUND_RING_SECS) * 1000 + FORWARD_GRACE_MS);
    // The sandbox's outside phone lists the call (its `outside`) and answers the offer.
    let outside = placing.offer.map(|_| leg.peer);
    let offer = placing.offer.unwrap_or_default();
    let legs = std::slice::from_ref(leg);
    let session_id = open(tx, offer, placing.tab, outside, legs, ring).await?;
    sqlx::query("UPDATE call_sessions SET carrier = $1, carrier_connection = $2 WHERE id = $3")
        .bind(placing.kind.as_str())
        .bind(&placing.connection)
        .bind(&session_id)
        .execute(&mut **tx)
        .await?;
    let dial = CallAction::Dial {
        to: placing.browser,
        from: leg.own.as_str().into(),
        connection: placing.connection,
        timeout_secs: PICKUP_RING_SECS,
    };
    let mut out = Commands::new(placing.kind);
    let step = format!("{OUTBOUND}{session_id}");
    command(tx, &mut out, "", dial, &step).await?;
    Ok(session_id)
}

/// A call placed from a browser answered `call_id`. The browser first (our call has no
/// carrier call yet): it is our side now, and the phone called is placed, tied to it. Then
/// the phone: the call is answered, and the two are joined. Anything answering a call
/// that ended is let go.
async fn outbound_answered(
    tx: &mut Transaction<'_, Any>,
    out: &mut Commands,
    call_id: &str,
    session_id: &str,
) -> AppResult<Vec<Published>> {
    type Placed = (String, Option<String>, Option<String>, String, String);
    let found: Option<Placed> = sqlx::query_as(
        "SELECT s.state, s.carrier_call, s.carrier_connection, c.number_e164, c.peer
         FROM call_sessions s JOIN calls c ON c.session_id = s.id AND c.direction = 'out'
         WHERE s.id = $1 AND s.carrier IS NOT NULL",
    )
    .bind(session_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((state, browser, connection, own, peer)) = found else {
        command(tx, out, call_id, CallAction::HangUp, "").await?;
        return Ok(Vec::new());
    };
    if state != "ringing" {
        command(tx, out, call_id, CallAction::HangUp, "").await?;
        return Ok(Vec::new());
    }
    let step = format!("{OUTBOUND}{session_id}");
    match browser {
        None => {
            let ours = sqlx::query(
                "UPDATE call_sessions SET carrier_call = $1
                 WHERE id = $2 AND carrier_call IS NULL AND state = 'ringing'",
            )
            .bind(call_id)
            .bind(session_id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
                == 1;
            if !ours {
                command(tx, out, call_id, CallAction::HangUp, "").await?;
                return Ok(Vec::new());
            }
            let dial = CallAction::Dial {
                to: peer,
                from: own,
                connection: connection.unwrap_or_default(),
                timeout_secs: OUTBOUND_RING_SECS,
            };
            command(tx, out, call_id, dial, &step).await?;
            Ok(Vec::new())
        }
        Some(browser) if browser == call_id => Ok(Vec::new()),
        Some(browser) => {
            let taken = sqlx::query(
                "UPDATE call_sessions SET state = 'answered', forward_call = $1
                 WHERE id = $2 AND state = 'ringing'",
            )
            .bind(call_id)
            .bind(session_id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
                == 1;
            if !taken {
                command(tx, out, call_id, CallAction::HangUp, "").await?;
                return Ok(Vec::new());
            }
            sqlx::query("UPDATE calls SET answered_at = $1 WHERE session_id = $2")
                .bind(now_ms())
                .bind(session_id)
                .execute(&mut **tx)
                .await?;
            let bridge = CallAction::Bridge {
                other: call_id.into(),
            };
            command(tx, out, &browser, bridge, &step).await?;
            tell_parties(tx, session_id).await
        }
    }
}

/// A call placed from a browser hung up `call_id`: the browser's side (our user hung up,
/// or never took the carrier's call) or the phone's (it hung up, did not answer, or
/// `declined` the call). Our call ends, and the other side is let go.
async fn outbound_hung_up(
    tx: &mut Transaction<'_, Any>,
    out: &mut Commands,
    call_id: &str,
    session_id: &str,
    declined: bool,
) -> AppResult<Vec<Published>> {
    let found: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT state, carrier_call, forward_call FROM call_sessions
         WHERE id = $1 AND carrier IS NOT NULL",
    )
    .bind(session_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((state, browser, phone)) = found else {
        return Ok(Vec::new());
    };
    // Before the browser answered, any hang-up of ours is the browser's call.
    let browser_left = browser.as_deref().is_none_or(|b| b == call_id);
    if !browser_left && phone.as_deref().is_some_and(|p| p != call_id) {
        // Neither of our two calls (another call's events carrying our state).
        return Ok(Vec::new());
    }
    let ending = match (state.as_str(), browser_left) {
        ("answered", _) => Ending::HungUp,
        ("ringing", true) => Ending::Cancelled,
        ("ringing", false) if declined => Ending::Declined,
        ("ringing", false) => Ending::Unanswered,
        _ => return Ok(Vec::new()),
    };
    let Some(published) = end_in(tx, session_id, &[state.as_str()], ending).await? else {
        return Ok(Vec::new());
    };
    let other = if browser_left { phone } else { browser };
    if let Some(other) = other {
        command(tx, out, &other, CallAction::HangUp, "").await?;
    }
    Ok(published)
}

/// Whether carrier call `session_id` rings on while a tab picks it up (the carrier calls
/// that browser, for [`PICKUP_RING_SECS`] at most).
pub(super) async fn being_picked_up(
    tx: &mut Transaction<'_, Any>,
    session_id: &str,
) -> AppResult<bool> {
    let found: Option<(i64,)> = sqlx::query_as(
        "SELECT rings_browsers FROM call_sessions
         WHERE id = $1 AND state = 'ringing' AND answered_tab IS NOT NULL AND rings_browsers = 1",
    )
    .bind(session_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

/// Tab `tab` (on browser `device`) of the user pressed Answer on carrier call `session_id`,
/// ringing for them: the carrier calls that browser, which takes the call when it answers
/// ([`forward_answered`]), and the two are joined. The first tab to press Answer gets it;
/// a browser with no browser phone can't. On the sandbox the tab answers the caller's
/// session description itself (`answer`, which the outside phone is given) and is "called"
/// by its tab's address.
pub async fn pick_up(
    state: &AppState,
    user_id: &crate::server::ids::UserId,
    session_id: &str,
    tab: &str,
    device: &str,
    answer: Option<&str>,
) -> AppResult<()> {
    super::check_tab(tab)?;
    super::party(&state.db, user_id, session_id).await?;
    let mut tx = state.db.begin().await?;
    type Held = (String, String, Option<String>, String);
    let held: Option<Held> = sqlx::query_as(
        "SELECT s.carrier, s.carrier_call, s.carrier_connection, c.number_e164
         FROM call_sessions s JOIN calls c ON c.session_id = s.id AND c.direction = 'in'
         WHERE s.id = $1 AND s.rings_browsers = 1 AND c.user_id = $2",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((carrier, held, connection, own)) = held else {
        return Err(AppError::invalid(
            "This call can't be answered in the browser.",
        ));
    };
    let Some(kind) = CarrierKind::parse(&carrier) else {
        return Err(AppError::invalid(
            "This call can't be answered in the browser.",
        ));
    };
    let address = match (kind, answer) {
        (CarrierKind::Sandbox, Some(_)) => crate::server::carrier::sandbox::tab_address(tab),
        (CarrierKind::Sandbox, None) => {
            return Err(AppError::invalid(
                "This call is answered in the browser. Reload the page and answer again.",
            ))
        }
        _ => match super::browser_phone::address(&mut tx, user_id, kind, device).await? {
            Some(address) => address,
            None => {
                return Err(AppError::invalid(
                    "This browser isn't signed in to take phone calls. Reload the page and answer again.",
                ))
            }
        },
    };
    // Still ringing the browsers (not gone on to the forwarding phone meanwhile).
    let claimed = sqlx::query(
        "UPDATE call_sessions SET answered_tab = $1, answer = $3
         WHERE id = $2 AND state = 'ringing' AND answered_tab IS NULL AND rings_browsers = 1",
    )
    .bind(tab)
    .bind(session_id)
    .bind(answer)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        return Err(AppError::invalid(
            "This call was answered elsewhere, or it has ended.",
        ));
    }
    let mut out = Commands::new(kind);
    // A forwarding phone ringing with the browsers is let go: this browser has the call.
    // (Twilio drops it by itself: pointing the held call at this browser ends its <Dial>.)
    let phone: Option<(Option<String>,)> =
        sqlx::query_as("SELECT forward_call FROM call_sessions WHERE id = $1 AND rings_phone = 1")
            .bind(session_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((phone,)) = phone {
        sqlx::query("UPDATE call_sessions SET rings_phone = 0, forward_call = NULL WHERE id = $1")
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        if let Some(phone) = phone.filter(|_| !commanded_by_reply(kind)) {
            command(&mut tx, &mut out, &phone, CallAction::HangUp, "").await?;
        }
    }
    let dial = CallAction::Dial {
        to: address,
        from: own,
        connection: connection.unwrap_or_default(),
        timeout_secs: PICKUP_RING_SECS,
    };
    command(
        &mut tx,
        &mut out,
        &held,
        dial,
        &format!("{PICKUP}{session_id}"),
    )
    .await?;
    let backstop = Job::RingTimeout {
        session_id: session_id.into(),
        last: true,
        forwarded: false,
    };
    let at = now_ms() + i64::from(PICKUP_RING_SECS) * 1000 + FORWARD_GRACE_MS;
    jobs::enqueue(&mut tx, &backstop, at).await?;
    let published = tell_parties(&mut tx, session_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(())
}

/// The carrier placed the forwarded call (of step `step`) for held call `held` as
/// `placed`: known now, it can be let go if the caller hangs up before it answers.
/// Placed after its call ended (the caller hung up, or the tab, meanwhile), or a phone
/// placed after a browser picked the call up: let go at once.
pub async fn dialed(state: &AppState, held: &str, placed: &str, step: &str) -> AppResult<()> {
    // A forwarding phone's call is ours only while no browser picks the call up.
    let phone = step.starts_with(FORWARD);
    let unless_picked_up = if phone {
        " AND answered_tab IS NULL"
    } else {
        ""
    };
    let mut tx = state.db.begin().await?;
    sqlx::query(&format!(
        "UPDATE call_sessions SET forward_call = $1
         WHERE carrier_call = $2 AND forward_call IS NULL{unless_picked_up}"
    ))
    .bind(placed)
    .bind(held)
    .execute(&mut *tx)
    .await?;
    let or_picked_up = if phone {
        " OR answered_tab IS NOT NULL"
    } else {
        ""
    };
    let ended: Option<(String,)> = sqlx::query_as(&format!(
        "SELECT carrier FROM call_sessions
         WHERE carrier_call = $1 AND (state = 'ended'{or_picked_up}) AND carrier IS NOT NULL"
    ))
    .bind(held)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(kind) = ended.and_then(|(c,)| CarrierKind::parse(&c)) {
        let mut out = Commands::new(kind);
        command(&mut tx, &mut out, placed, CallAction::HangUp, "").await?;
    }
    tx.commit().await?;
    state.jobs_waker.notify_one();
    Ok(())
}

/// The carrier would not place the forwarded call of `step` (a number it can't reach, say):
/// the call ends unanswered and its caller gets the voicemail.
pub async fn forward_failed(state: &AppState, step: &str) -> AppResult<()> {
    if let Some(session_id) = outbound(step) {
        return call_out_failed(state, session_id).await;
    }
    let Some(session_id) = forwarded(step) else {
        return Ok(());
    };
    let mut tx = state.db.begin().await?;
    if step.starts_with(FORWARD) {
        // A forwarding phone rung with the browsers: they ring on.
        let ringing_on = sqlx::query(
            "UPDATE call_sessions SET rings_phone = 0
             WHERE id = $1 AND state = 'ringing' AND rings_browsers = 1",
        )
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
        if ringing_on.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(());
        }
    }
    let Some(published) = end_in(&mut tx, session_id, &["ringing"], Ending::Unanswered).await?
    else {
        return Ok(());
    };
    to_voicemail(&mut tx, session_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(())
}

/// The carrier would not place a call of call `session_id`, placed from a browser (to the
/// browser, or to the phone called): it ends, saying so in the log, and the browser's call
/// (if it was placed) is let go.
async fn call_out_failed(state: &AppState, session_id: &str) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let Some(published) = end_in(&mut tx, session_id, &["ringing"], Ending::Unanswered).await?
    else {
        return Ok(());
    };
    sqlx::query("UPDATE calls SET outcome = 'failed', reason = $1 WHERE session_id = $2")
        .bind("The carrier could not place the call")
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    ended_here(&mut tx, session_id, Ending::Unanswered).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(())
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
    // The Simulator's recordings come with their event (nothing is fetched).
    let simulated = kind == CarrierKind::Sandbox && url.starts_with("data:");
    let checked = url::Url::parse(url)
        .map_err(|e| e.to_string())
        .and_then(|parsed| safe_http::check_url(&parsed, state.settings.fetch_reach));
    if let (false, Err(why)) = (simulated, checked) {
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
