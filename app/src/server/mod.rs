//! Server-only code (the `ssr` feature): storage, credentials, sessions, request context.
//! Everything that must never be compiled into the browser bundle lives here, in one place.

pub mod accounts;
pub mod auth;
pub mod context;
pub mod crypto;
pub mod db;
pub mod invites;
pub mod setup;
pub mod throttle;

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

pub use db::{Backend, Db};

/// Runtime settings the app layer needs (the server binary builds these from its config).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where people (and carriers, and push links) reach this instance.
    pub public_url: url::Url,
    /// Bind sessions to the client IP as well as the user agent.
    pub bind_session_to_ip: bool,
    /// A session ends after this long without use (sliding expiry).
    pub session_idle_ms: i64,
}

impl Settings {
    /// Cookies get `Secure` and the `__Host-` prefix only when served over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// `public_url` without a trailing slash, for building links.
    pub fn base_url(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_string()
    }
}

/// Shared by every request handler and server function.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Instance secret (32 bytes): keys the HMAC behind invitation links.
    pub secret: Arc<[u8; 32]>,
    pub leptos_options: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Milliseconds since the unix epoch: every timestamp in storage uses this.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
