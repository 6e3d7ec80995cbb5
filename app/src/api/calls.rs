//! Calls: placing, answering, declining and hanging up (called by public/calls.js, which
//! holds the WebRTC side), the calls under way, the call log.

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{BrowserPhoneSignIn, CallLogEntry, LiveCall, Presence, VoicemailGreeting};

/// The greeting of the number the user called, once the call went unanswered (their call
/// panel plays it before they leave a voicemail).
#[server(endpoint = "call_greeting")]
pub async fn call_greeting(call_id: String) -> Result<VoicemailGreeting, AppError> {
    use crate::server::{calls, context};
    let me = context::require_user()?;
    let state = context::state()?;
    let caller = calls::Caller::Person(&me.user_id());
    calls::greeting::for_caller(&state, caller, &call_id).await
}

/// The words of a number's voicemail greeting ('' for the default).
#[server(endpoint = "set_greeting")]
pub async fn set_greeting(
    number_id: String,
    #[server(default)] text: String,
) -> Result<(), AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{calls, context};
    let me = context::require_user()?;
    let state = context::state()?;
    calls::greeting::set_text(&state, &me.user_id(), &NumberId::new(number_id), &text).await
}

/// Goes back from a recorded greeting to the words alone.
#[server(endpoint = "remove_greeting_recording")]
pub async fn remove_greeting_recording(number_id: String) -> Result<(), AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{calls, context};
    let me = context::require_user()?;
    let state = context::state()?;
    calls::greeting::remove_recording(&state, &me.user_id(), &NumberId::new(number_id)).await
}

/// Whether `to` is a number here and its owner online (the dialer asks as it is typed),
/// for a call from the user's number `number_id`.
#[server(endpoint = "presence")]
pub async fn call_presence(number_id: String, to: String) -> Result<Presence, AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{calls, context};
    let me = context::require_user()?;
    let state = context::state()?;
    calls::presence::of_number(&state.db, &me.user_id(), &NumberId::new(number_id), &to).await
}

/// Calls `to` from one of the user's numbers, offering the calling tab's session
/// description; answers with the call's id.
#[server(endpoint = "start_call")]
pub async fn start_call(
    number_id: String,
    to: String,
    tab: String,
    offer: String,
) -> Result<String, AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{calls, context};
    let me = context::require_user()?;
    calls::start(
        &context::state()?,
        &me.user_id(),
        &NumberId::new(number_id),
        &to,
        &tab,
        &offer,
    )
    .await
}

/// The user's calls ringing or under way, as tab `tab` sees them.
#[server(endpoint = "live_calls")]
pub async fn live_calls(tab: String) -> Result<Vec<LiveCall>, AppError> {
    use crate::server::{calls, context};
    let me = context::require_user()?;
    calls::live(&context::state()?.db, &me.user_id(), &tab).await
}

#[server(endpoint = "answer_call")]
pub async fn answer_call(call_id: String, tab: String, answer: String) -> Result<(), AppError> {
    use crate::server::{calls, context};
    let me = context::require_user()?;
    calls::answer(&context::state()?, &me.user_id(), &call_id, &tab, &answer).await
}

/// Answers a phone-network call ringing for the user in tab `tab` of browser `device`
/// (its browser phone): the carrier calls this browser, whose SDK takes it.
#[server(endpoint = "pick_up_call")]
pub async fn pick_up_call(call_id: String, tab: String, device: String) -> Result<(), AppError> {
    use crate::server::{calls, context};
    let me = context::require_user()?;
    calls::carrier::pick_up(
        &context::state()?,
        &me.user_id(),
        &call_id,
        &tab,
        &device,
        None,
    )
    .await
}

/// Which carrier's SDK carries a call from number `number_id` to `to` (JSON null: a call
/// between browsers, placed with start_call).
#[server(endpoint = "call_route")]
pub async fn call_route(number_id: String, to: String) -> Result<Option<String>, AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{calls, context};
    let me = context::require_user()?;
    calls::carrier::route(
        &context::state()?,
        &me.user_id(),
        &NumberId::new(number_id),
        &to,
    )
    .await
}

/// Calls the phone `to` from the user's carrier number `number_id`, in tab `tab` of
/// browser `device` (signed in with browser_phone): answers the call's id.
#[server(endpoint = "call_out")]
pub async fn call_out(
    number_id: String,
    to: String,
    tab: String,
    device: String,
) -> Result<String, AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{calls, context};
    let me = context::require_user()?;
    let state = context::state()?;
    let number = NumberId::new(number_id);
    calls::carrier::call_out(&state, &me.user_id(), &number, &to, &tab, &device).await
}

/// What browser `device` signs in to `carrier`'s calling SDK with (its own credential,
/// made the first time).
#[server(endpoint = "browser_phone")]
pub async fn browser_phone(
    device: String,
    carrier: String,
) -> Result<BrowserPhoneSignIn, AppError> {
    use crate::server::{calls, context};
    let me = context::require_user()?;
    calls::browser_phone::sign_in(&context::state()?, &me.user_id(), &device, &carrier).await
}

/// Stops the user's browsers taking phone-network calls (their calls go to forwarding or
/// voicemail again until a browser is set up anew).
#[server(endpoint = "forget_browser_phones")]
pub async fn forget_browser_phones() -> Result<(), AppError> {
    use crate::server::{calls, context};
    let me = context::require_user()?;
    calls::browser_phone::forget_all(&context::state()?, &me.user_id()).await?;
    Ok(())
}

#[server(endpoint = "decline_call")]
pub async fn decline_call(call_id: String) -> Result<(), AppError> {
    use crate::server::{calls, context};
    let me = context::require_user()?;
    calls::decline(&context::state()?, &me.user_id(), &call_id).await
}

#[server(endpoint = "hang_up")]
pub async fn hang_up(call_id: String) -> Result<(), AppError> {
    use crate::server::{calls, context};
    let me = context::require_user()?;
    calls::hang_up(&context::state()?, &me.user_id(), &call_id).await
}

/// The user's latest calls, or those matching `search` (a contact's name, or digits of
/// either number). Opening the log sees its missed calls (the navigation's count of them
/// goes), unless `keep_unseen` (the server's render of the page: that write, racing the
/// navigation's count the same render loads, could make the page's HTML and its data
/// disagree, which breaks the browser's hydration; the browser sees them once it shows
/// the page).
#[server(endpoint = "call_log")]
pub async fn call_log(
    #[server(default)] search: String,
    #[server(default)] keep_unseen: bool,
) -> Result<Vec<CallLogEntry>, AppError> {
    use crate::server::{calls, context};
    let me = context::require_user()?;
    let state = context::state()?;
    if !keep_unseen {
        calls::mark_seen(&state, &me.user_id()).await?;
    }
    calls::log(&state.db, &me.user_id(), &search).await
}

/// The STUN/TURN servers calls use to cross networks (JSON, as `RTCPeerConnection` takes
/// them; empty: same network only).
#[server(endpoint = "ice_servers")]
pub async fn ice_servers() -> Result<String, AppError> {
    use crate::server::context;
    context::require_user()?;
    Ok(context::state()?.settings.ice_servers.clone())
}

/// Missed calls not yet seen in the log (the navigation's count).
#[server(endpoint = "missed_calls")]
pub async fn missed_calls() -> Result<i64, AppError> {
    use crate::server::{calls, context};
    let me = context::require_user()?;
    calls::unseen_missed(&context::state()?.db, &me.user_id()).await
}
