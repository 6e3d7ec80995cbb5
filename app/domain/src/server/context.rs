//! What a server function knows about the request it serves: the app state, the signed-in
//! user, the client's IP and user agent, the request id. Filled by the router's middleware.

use http::request::Parts;
use leptos::prelude::*;

use super::accounts::sessions::{Authenticated, RequestMeta};
use super::AppState;
use crate::error::{AppError, AppResult};

pub fn state() -> AppResult<AppState> {
    use_context::<AppState>().ok_or_else(|| AppError::internal("AppState missing from context"))
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// The `x-request-id` the router gave this request.
pub fn request_id() -> Option<String> {
    parts()?
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub fn request_meta() -> RequestMeta {
    parts()
        .and_then(|p| p.extensions.get::<RequestMeta>().cloned())
        .unwrap_or_default()
}

/// Who is asking, for the audit log: the signed-in user (if any) and the request's address
/// and device.
pub fn actor() -> super::audit::Actor {
    super::audit::Actor {
        user: authenticated().map(|a| a.user_id()),
        meta: request_meta(),
    }
}

/// The value of the request's cookie `name`, if it has one.
pub fn cookie(name: &str) -> Option<String> {
    super::accounts::sessions::cookie_value(&parts()?.headers, name)
}

/// The signed-in user, if any.
pub fn authenticated() -> Option<Authenticated> {
    parts()?.extensions.get::<Authenticated>().cloned()
}

/// The server functions open to someone who must set up two-factor sign-in first: the
/// Settings page's own, and what setting it up takes.
const BEFORE_TWO_FACTOR: &[&str] = &[
    "/api/two_factor",
    "/api/start_two_factor",
    "/api/confirm_two_factor",
    "/api/passkeys",
    "/api/start_passkey_registration",
    "/api/finish_passkey_registration",
    "/api/sign_out",
    "/api/signed_in_user",
    "/api/list_sessions",
    "/api/revoke_session",
    "/api/revoke_other_sessions",
    "/api/change_password",
    "/api/my_activity",
    "/api/retention",
    "/api/create_export",
    "/api/delete_my_account",
];

pub fn require_user() -> AppResult<Authenticated> {
    let auth = authenticated().ok_or(AppError::Unauthorized)?;
    if auth.must_set_up_two_factor {
        let path = parts()
            .map(|p| p.uri.path().to_string())
            .unwrap_or_default();
        if !BEFORE_TWO_FACTOR.contains(&path.as_str()) {
            return Err(AppError::invalid(
                "This Switchboard requires two-factor sign-in: set it up under Settings first.",
            ));
        }
    }
    Ok(auth)
}

pub fn require_admin() -> AppResult<Authenticated> {
    let auth = require_user()?;
    if auth.user.is_admin() {
        Ok(auth)
    } else {
        Err(AppError::Forbidden)
    }
}

/// Adds a `Set-Cookie` header to this server function's response.
pub fn set_cookie(cookie: String) {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(value) = http::HeaderValue::from_str(&cookie) {
            res.append_header(http::header::SET_COOKIE, value);
        }
    }
}
