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
