//! The signed-in user's own account: sessions and password.

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{
    AuditEntry, GoogleLink, PasskeyInfo, PasskeyOptions, RetentionView, SessionInfo,
    TwoFactorSetup, TwoFactorStatus,
};

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

/// How long the user's texts and calls are kept: the instance's period and their own.
#[server(endpoint = "retention")]
pub async fn retention() -> Result<RetentionView, AppError> {
    use crate::server::{context, retention};
    let me = context::require_user()?;
    retention::view(&context::state()?.db, &me.user_id()).await
}

/// Sets the user's own (shorter) period in days; 0 follows the instance's.
#[server(endpoint = "set_own_retention")]
pub async fn set_own_retention(days: i64) -> Result<(), AppError> {
    use crate::server::{context, retention};
    let me = context::require_user()?;
    let state = context::state()?;
    retention::set_own_days(&state.db, &context::actor(), &me.user_id(), days).await
}

/// Whether the user signs in with a code as well, and how many recovery codes are left.
#[server(endpoint = "two_factor")]
pub async fn two_factor() -> Result<TwoFactorStatus, AppError> {
    use crate::server::{accounts::two_factor, context};
    let me = context::require_user()?;
    two_factor::status(&context::state()?.db, &me.user_id()).await
}

/// A new authenticator secret, pending until [`confirm_two_factor`].
#[server(endpoint = "start_two_factor")]
pub async fn start_two_factor() -> Result<TwoFactorSetup, AppError> {
    use crate::server::{accounts::two_factor, context};
    let me = context::require_user()?;
    two_factor::start(&context::state()?, &me.user_id(), &me.user.email).await
}

/// Turns two-factor sign-in on with a code from the app; answers the recovery codes.
#[server(endpoint = "confirm_two_factor")]
pub async fn confirm_two_factor(code: String) -> Result<Vec<String>, AppError> {
    use crate::server::{accounts::two_factor, context};
    let me = context::require_user()?;
    two_factor::confirm(&context::state()?, &context::actor(), &me.user_id(), &code).await
}

#[server(endpoint = "turn_off_two_factor")]
pub async fn turn_off_two_factor(password: String) -> Result<(), AppError> {
    use crate::server::{accounts::two_factor, context};
    let me = context::require_user()?;
    let state = context::state()?;
    two_factor::turn_off(&state.db, &context::actor(), &me.user_id(), &password).await
}

/// New recovery codes in place of the old ones.
#[server(endpoint = "new_recovery_codes")]
pub async fn new_recovery_codes(password: String) -> Result<Vec<String>, AppError> {
    use crate::server::{accounts::two_factor, context};
    let me = context::require_user()?;
    let state = context::state()?;
    two_factor::renew_codes(&state.db, &context::actor(), &me.user_id(), &password).await
}

/// The user's passkeys.
#[server(endpoint = "passkeys")]
pub async fn passkeys() -> Result<Vec<PasskeyInfo>, AppError> {
    use crate::server::{accounts::passkeys, context};
    let me = context::require_user()?;
    passkeys::list(&context::state()?.db, &me.user_id()).await
}

/// What the browser's prompt needs to make a passkey for this account.
#[server(endpoint = "start_passkey_registration")]
pub async fn start_passkey_registration() -> Result<PasskeyOptions, AppError> {
    use crate::server::{accounts::passkeys, context};
    let me = context::require_user()?;
    let state = context::state()?;
    passkeys::start_registration(&state, &me.user_id(), &me.user.email, &me.user.display_name).await
}

/// Keeps the passkey the browser made (`credential`: its JSON); answers new recovery codes
/// when it turned two-factor sign-in on.
#[server(endpoint = "finish_passkey_registration")]
pub async fn finish_passkey_registration(
    token: String,
    name: String,
    credential: String,
) -> Result<Vec<String>, AppError> {
    use crate::server::{accounts::passkeys, context};
    let me = context::require_user()?;
    let state = context::state()?;
    passkeys::finish_registration(
        &state,
        &context::actor(),
        &me.user_id(),
        &token,
        &name,
        &credential,
    )
    .await
}

#[server(endpoint = "remove_passkey")]
pub async fn remove_passkey(passkey_id: String, password: String) -> Result<(), AppError> {
    use crate::server::{accounts::passkeys, context};
    let me = context::require_user()?;
    let state = context::state()?;
    passkeys::remove(
        &state.db,
        &context::actor(),
        &me.user_id(),
        &passkey_id,
        &password,
    )
    .await
}

/// Whether Google sign-in is offered and which Google account is linked.
#[server(endpoint = "google_account")]
pub async fn google_account() -> Result<GoogleLink, AppError> {
    use crate::server::{accounts::google, context};
    let me = context::require_user()?;
    google::account(&context::state()?, &me.user_id()).await
}

/// Starts linking a Google account: answers where to send the browser (the provider).
#[server(endpoint = "start_google_link")]
pub async fn start_google_link() -> Result<String, AppError> {
    use crate::server::{accounts::google, context};
    let me = context::require_user()?;
    let state = context::state()?;
    let (url, value) = google::start(
        &state,
        &context::request_meta(),
        google::Purpose::Link,
        Some(&me.user_id()),
        None,
    )
    .await
    .map_err(|refusal| {
        AppError::invalid(google::Refusal::words(refusal.code()).unwrap_or_default())
    })?;
    context::set_cookie(google::state_cookie(&state.settings, &value));
    Ok(url)
}

#[server(endpoint = "unlink_google")]
pub async fn unlink_google() -> Result<(), AppError> {
    use crate::server::{accounts::google, context};
    let me = context::require_user()?;
    google::unlink(&context::state()?, &context::actor(), &me.user_id()).await
}

/// A single-use link (15 minutes, this account only) to download everything of the user's
/// as a zip; answers its path.
#[server(endpoint = "create_export")]
pub async fn create_export() -> Result<String, AppError> {
    use crate::server::{context, export};
    let me = context::require_user()?;
    let state = context::state()?;
    crate::server::throttle::take(&state.db, export::EXPORTS, me.user.id.as_str()).await?;
    export::create_link(&state.db, &context::actor(), &me.user_id()).await
}

/// Deletes the user's own account (the password is asked again): they are signed out
/// everywhere now, and everything is erased after 30 days unless they sign in before.
#[server(endpoint = "delete_my_account")]
pub async fn delete_my_account(password: String) -> Result<i64, AppError> {
    use crate::server::accounts::{deletion, sessions, users};
    use crate::server::context;
    let me = context::require_user()?;
    let state = context::state()?;
    users::check_password(&state.db, &me.user_id(), &password).await?;
    let erase_at = deletion::request(&state, &context::actor(), &me.user_id()).await?;
    context::set_cookie(sessions::clear_session_cookie(&state.settings));
    Ok(erase_at)
}
