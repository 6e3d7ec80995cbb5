//! The sandbox simulator (admins): what an outside phone or the carrier would do
//! (`server::simulator` does it).

use leptos::prelude::*;

use crate::error::AppError;

/// An inbound text (with `picture`, an MMS) from any outside number to a number owned here.
#[server(endpoint = "simulate_inbound")]
pub async fn simulate_inbound(
    from: String,
    to: String,
    #[server(default)] body: String,
    #[server(default)] picture: bool,
) -> Result<(), AppError> {
    use crate::server::{context, simulator};
    context::require_admin()?;
    simulator::inbound(&context::state()?, &from, &to, body, picture).await
}

/// Makes an outbound message fail as the carrier would, with the carrier's error code.
#[server(endpoint = "simulate_failure")]
pub async fn simulate_failure(message_id: String, code: String) -> Result<(), AppError> {
    use crate::server::{context, simulator};
    context::require_admin()?;
    simulator::fail_delivery(
        &context::state()?,
        &crate::server::ids::MessageId::new(message_id),
        &code,
    )
    .await
}

/// Arms the sandbox: the next text anyone sends goes sent → failed with this carrier code.
#[server(endpoint = "simulate_next_failure")]
pub async fn simulate_next_failure(code: String) -> Result<(), AppError> {
    use crate::server::{context, simulator};
    context::require_admin()?;
    let code = simulator::error_code(&code)?;
    context::state()?.sandbox.fail_next(code);
    Ok(())
}

/// Recent outbound messages on the sandbox's numbers, for the simulator's "fail a delivery"
/// list.
#[server(endpoint = "recent_outbound")]
pub async fn recent_outbound() -> Result<Vec<(String, String)>, AppError> {
    use crate::server::{context, simulator};
    context::require_admin()?;
    simulator::recent_outbound(&context::state()?.db).await
}

/// The outside phone (any number `from`) calls our number `to` through the sandbox
/// carrier, offering the Simulator tab's session description; answers with the call's id.
#[server(endpoint = "simulate_call")]
pub async fn simulate_call(from: String, to: String, offer: String) -> Result<String, AppError> {
    use crate::server::{calls, context};
    let me = context::require_admin()?;
    calls::ring_in(&context::state()?, &me.user_id(), &from, &to, &offer).await
}

/// The latest calls with the outside world, as the outside phone sees them.
#[server(endpoint = "outside_calls")]
pub async fn outside_calls() -> Result<Vec<crate::types::OutsideCall>, AppError> {
    use crate::server::{calls, context};
    context::require_admin()?;
    calls::outside_calls(&context::state()?).await
}

/// The outside phone answers a call placed to it from here.
#[server(endpoint = "outside_answer")]
pub async fn outside_answer(call_id: String, tab: String, answer: String) -> Result<(), AppError> {
    use crate::server::{calls, context};
    context::require_admin()?;
    calls::answer_outside(&context::state()?, &call_id, &tab, &answer).await
}

/// What the outside phone hears before leaving a voicemail on a call nobody here answered:
/// the called number's greeting.
#[server(endpoint = "outside_greeting")]
pub async fn outside_greeting(
    call_id: String,
) -> Result<crate::types::VoicemailGreeting, AppError> {
    use crate::server::{calls, context, simulator};
    context::require_admin()?;
    let state = context::state()?;
    simulator::require_sandbox(&state)?;
    calls::greeting::for_caller(&state, calls::Caller::Outside, &call_id).await
}

/// The outside phone, answering a call forwarded to it, presses keys after its whisper.
#[server(endpoint = "outside_press")]
pub async fn outside_press(call_id: String, digits: String) -> Result<(), AppError> {
    use crate::server::{calls, context};
    context::require_admin()?;
    calls::press_outside(&context::state()?, &call_id, &digits).await
}

/// The outside phone hangs up, declines, or gives up ringing.
#[server(endpoint = "outside_hang_up")]
pub async fn outside_hang_up(call_id: String) -> Result<(), AppError> {
    use crate::server::{calls, context};
    context::require_admin()?;
    calls::hang_up_outside(&context::state()?, &call_id).await
}
