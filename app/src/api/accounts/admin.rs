//! Admin-only: invitations and users. Every function starts with `require_admin`.

use leptos::prelude::*;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::types::Role;
use crate::types::{AuditEntry, InviteInfo, UserInfo};

#[cfg(feature = "ssr")]
fn parse_role(role: &str) -> Result<Role, AppError> {
    Role::parse(role).ok_or_else(|| AppError::invalid("Choose a role: user or admin."))
}

#[server(endpoint = "create_invite")]
pub async fn create_invite(
    #[server(default)] email: String,
    role: String,
    expires_in_days: i64,
) -> Result<InviteInfo, AppError> {
    use crate::server::accounts::invites;
    use crate::server::context;
    let me = context::require_admin()?;
    let state = context::state()?;
    crate::server::throttle::take(
        &state.db,
        crate::server::throttle::INVITATIONS,
        me.user.id.as_str(),
    )
    .await?;
    invites::create(
        &state,
        &context::actor(),
        &me.user_id(),
        &email,
        parse_role(&role)?,
        expires_in_days,
    )
    .await
}

#[server(endpoint = "list_invites")]
pub async fn list_invites() -> Result<Vec<InviteInfo>, AppError> {
    use crate::server::accounts::invites;
    use crate::server::context;
    context::require_admin()?;
    invites::list(&context::state()?).await
}

#[server(endpoint = "revoke_invite")]
pub async fn revoke_invite(invite_id: String) -> Result<(), AppError> {
    use crate::server::accounts::invites;
    use crate::server::context;
    context::require_admin()?;
    invites::revoke(
        &context::state()?.db,
        &context::actor(),
        &crate::server::ids::InviteId::new(invite_id),
    )
    .await
}

#[server(endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserInfo>, AppError> {
    use crate::server::accounts::users;
    use crate::server::context;
    let me = context::require_admin()?;
    users::list_users(&context::state()?.db, &me.user_id()).await
}

#[server(endpoint = "set_user_role")]
pub async fn set_user_role(user_id: String, role: String) -> Result<(), AppError> {
    use crate::server::accounts::users;
    use crate::server::context;
    context::require_admin()?;
    users::set_role(
        &context::state()?.db,
        &context::actor(),
        &crate::server::ids::UserId::new(user_id),
        parse_role(&role)?,
    )
    .await
}

/// Disabling ends the user's sessions at once; the last active admin can't be disabled.
#[server(endpoint = "set_user_disabled")]
pub async fn set_user_disabled(user_id: String, disabled: bool) -> Result<(), AppError> {
    use crate::server::accounts::users;
    use crate::server::context;
    context::require_admin()?;
    let state = context::state()?;
    let user_id = crate::server::ids::UserId::new(user_id);
    users::set_disabled(&state.db, &context::actor(), &user_id, disabled).await?;
    if disabled {
        state.bus.sessions_ended(&state.db, &user_id).await;
    }
    Ok(())
}

/// Every audit entry, newest first; `before` (unix ms, 0 for now) pages back.
#[server(endpoint = "audit_log")]
pub async fn audit_log(#[server(default)] before: i64) -> Result<Vec<AuditEntry>, AppError> {
    use crate::server::{audit, context};
    context::require_admin()?;
    let before = (before > 0).then_some(before);
    audit::list(&context::state()?.db, audit::Scope::All, before).await
}

/// Sets how long this instance keeps texts and calls, in days; 0 keeps them forever.
#[server(endpoint = "set_instance_retention")]
pub async fn set_instance_retention(days: i64) -> Result<(), AppError> {
    use crate::server::{context, retention};
    context::require_admin()?;
    let state = context::state()?;
    retention::set_instance_days(&state.db, &context::actor(), days).await
}

/// Deletes an account (closed now, erased after 30 days) or cancels its deletion.
#[server(endpoint = "set_user_deletion")]
pub async fn set_user_deletion(user_id: String, delete: bool) -> Result<(), AppError> {
    use crate::server::accounts::deletion;
    use crate::server::context;
    context::require_admin()?;
    let state = context::state()?;
    let user_id = crate::server::ids::UserId::new(user_id);
    if delete {
        deletion::request(&state, &context::actor(), &user_id).await?;
    } else {
        deletion::cancel(&state.db, &context::actor(), &user_id).await?;
    }
    Ok(())
}

/// Whether everyone must use two-factor sign-in.
#[server(endpoint = "two_factor_required")]
pub async fn two_factor_required() -> Result<bool, AppError> {
    use crate::server::{accounts::two_factor, context};
    context::require_admin()?;
    two_factor::required(&context::state()?.db).await
}

/// Requires two-factor sign-in of everyone, or makes it optional again.
#[server(endpoint = "set_two_factor_required")]
pub async fn set_two_factor_required(#[server(default)] required: bool) -> Result<(), AppError> {
    use crate::server::{accounts::two_factor, context};
    context::require_admin()?;
    let state = context::state()?;
    two_factor::set_required(&state.db, &context::actor(), required).await
}

/// Google sign-in's settings (the client secret is never sent back).
#[server(endpoint = "google_sign_in_settings")]
pub async fn google_sign_in_settings() -> Result<crate::types::GoogleSettings, AppError> {
    use crate::server::{accounts::google, context};
    context::require_admin()?;
    google::settings_view(&context::state()?).await
}

/// Offers "Sign in with Google" with this OAuth client (an empty secret keeps the saved one).
#[server(endpoint = "set_google_sign_in")]
pub async fn set_google_sign_in(
    client_id: String,
    #[server(default)] client_secret: String,
) -> Result<(), AppError> {
    use crate::server::{accounts::google, context};
    context::require_admin()?;
    let state = context::state()?;
    google::save_settings(&state, &context::actor(), &client_id, &client_secret).await
}

#[server(endpoint = "turn_off_google_sign_in")]
pub async fn turn_off_google_sign_in() -> Result<(), AppError> {
    use crate::server::{accounts::google, context};
    context::require_admin()?;
    let state = context::state()?;
    google::turn_off(&state, &context::actor()).await
}
