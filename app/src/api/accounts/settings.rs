//! The signed-in user's own account: sessions and password.

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{AuditEntry, SessionInfo};

#[server(endpoint = "list_sessions")]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, AppError> {
    use crate::server::context;
    let me = context::require_user()?;
    crate::server::accounts::sessions::list_sessions(&context::state()?.db, &me).await
}

/// Signs out one of the user's sessions (another user's id is "not found").
#[server(endpoint = "revoke_session")]
pub async fn revoke_session(session_id: String) -> Result<(), AppError> {
    use crate::server::context;
    let me = context::require_user()?;
    let state = context::state()?;
    let session_id = crate::server::ids::SessionId::new(session_id);
    crate::server::accounts::sessions::end_own_session(&state.db, &me.user_id(), &session_id)
        .await?;
    let ended = crate::server::audit::Action::SessionEnded;
    crate::server::audit::record(
        state.db.pool(),
        &context::actor(),
        ended,
        Some(&me.user_id()),
        "1 device",
    )
    .await?;
    state.bus.sessions_ended(&state.db, &me.user_id()).await;
    if session_id == me.session_id {
        context::set_cookie(crate::server::accounts::sessions::clear_session_cookie(
            &state.settings,
        ));
        leptos_axum::redirect("/signin");
    }
    Ok(())
}

/// Signs out every session of the user but this one; returns how many ended.
#[server(endpoint = "revoke_other_sessions")]
pub async fn revoke_other_sessions() -> Result<u64, AppError> {
    use crate::server::accounts::sessions;
    use crate::server::context;
    let me = context::require_user()?;
    let state = context::state()?;
    let ended =
        sessions::end_other_sessions(&state.db, &me.user_id(), Some(&me.session_id)).await?;
    let detail = format!("every other device ({ended})");
    let action = crate::server::audit::Action::SessionEnded;
    crate::server::audit::record(
        state.db.pool(),
        &context::actor(),
        action,
        Some(&me.user_id()),
        &detail,
    )
    .await?;
    state.bus.sessions_ended(&state.db, &me.user_id()).await;
    Ok(ended)
}

#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    use crate::server::accounts::users;
    use crate::server::context;
    let me = context::require_user()?;
    let state = context::state()?;
    users::change_password(
        &state.db,
        &context::actor(),
        &me.user_id(),
        &me.session_id,
        users::PasswordChange {
            current: &current_password,
            new: &new_password,
            confirm: &confirm_password,
        },
    )
    .await?;
    state.bus.sessions_ended(&state.db, &me.user_id()).await;
    Ok(())
}

/// The audit entries about the user's account (or made by them), newest first; `before`
/// (unix ms, 0 for now) pages back.
#[server(endpoint = "my_activity")]
pub async fn my_activity(#[server(default)] before: i64) -> Result<Vec<AuditEntry>, AppError> {
    use crate::server::{audit, context};
    let me = context::require_user()?;
    let before = (before > 0).then_some(before);
    audit::list(
        &context::state()?.db,
        audit::Scope::Mine(&me.user_id()),
        before,
    )
    .await
}
