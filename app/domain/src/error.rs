//! The one error type every server function returns.
//!
//! Users see plain words. Infrastructure failures (database, I/O, carrier) are logged
//! with their details and the request id, and reach the browser only as
//! [`AppError::Internal`] carrying that id as a reference, never their text.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

use crate::types::tagged::{self, Tagged, Value};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("You don't have permission to do that.")]
    Forbidden,
    #[error("{0} was not found.")]
    NotFound(String),
    /// Bad input; the text says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// Too many attempts; the text says when to try again.
    #[error("{0}")]
    Throttled(String),
    #[error("Something went wrong on our side. If it keeps happening, give this reference to your admin: {reference}")]
    Internal { reference: String },
    /// The request never reached the function (network down, malformed call).
    #[error("Could not reach the server. Check your connection and try again.")]
    Transport(String),
}

impl AppError {
    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::Invalid(message.into())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The arguments did not decode: a malformed form or request.
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                AppError::Invalid("Some fields are missing or malformed.".into())
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}

impl Tagged for AppError {
    fn from_variant(variant: &str, payload: Option<Value>) -> Option<Self> {
        Some(match variant {
            "Unauthorized" => AppError::Unauthorized,
            "Forbidden" => AppError::Forbidden,
            "NotFound" => AppError::NotFound(tagged::text(payload)?),
            "Invalid" => AppError::Invalid(tagged::text(payload)?),
            "Throttled" => AppError::Throttled(tagged::text(payload)?),
            "Internal" => AppError::Internal {
                reference: tagged::field(&payload, "reference")??,
            },
            "Transport" => AppError::Transport(tagged::text(payload)?),
            _ => return None,
        })
    }
}

tagged::deserialize_tagged!(AppError);

impl AppError {
    /// The error as serde writes it (`"Forbidden"`, `{"Invalid":"…"}`), written without serde
    /// so the browser can encode it too.
    pub fn to_json(&self) -> String {
        use miniserde::json::to_string as quoted;
        match self {
            AppError::Unauthorized => r#""Unauthorized""#.into(),
            AppError::Forbidden => r#""Forbidden""#.into(),
            AppError::NotFound(text) => format!(r#"{{"NotFound":{}}}"#, quoted(text)),
            AppError::Invalid(text) => format!(r#"{{"Invalid":{}}}"#, quoted(text)),
            AppError::Throttled(text) => format!(r#"{{"Throttled":{}}}"#, quoted(text)),
            AppError::Internal { reference } => {
                format!(r#"{{"Internal":{{"reference":{}}}}}"#, quoted(reference))
            }
            AppError::Transport(text) => format!(r#"{{"Transport":{}}}"#, quoted(text)),
        }
    }

    /// An error from its JSON (an answer's body, a redirect's `__err`).
    pub fn from_json(json: &str) -> Option<AppError> {
        miniserde::json::from_str(json).ok()
    }
}

/// Server-side conversion of infrastructure failures: log the details, hand back a reference.
#[cfg(feature = "ssr")]
mod ssr {
    use super::AppError;

    impl AppError {
        /// Logs `err` with the current request id and returns the opaque error users see.
        pub fn internal(err: impl std::fmt::Display) -> Self {
            let reference = crate::server::context::request_id().unwrap_or_else(|| "-".into());
            tracing::error!(request_id = %reference, error = %err, "internal error");
            AppError::Internal { reference }
        }
    }

    impl AppError {
        /// The HTTP status this error is answered with, by server functions and plain routes
        /// alike (`server_fn_error_status` in the router, and [`IntoResponse`] below).
        pub fn status(&self) -> http::StatusCode {
            use http::StatusCode;
            match self {
                AppError::Unauthorized => StatusCode::UNAUTHORIZED,
                AppError::Forbidden => StatusCode::FORBIDDEN,
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                AppError::Invalid(_) | AppError::Transport(_) => StatusCode::BAD_REQUEST,
                AppError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
                AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }
    }

    /// A plain route's error: its status, and its JSON as a server function would answer it.
    impl axum::response::IntoResponse for AppError {
        fn into_response(self) -> axum::response::Response {
            (
                self.status(),
                [(http::header::CONTENT_TYPE, "application/json")],
                self.to_json(),
            )
                .into_response()
        }
    }

    impl From<sqlx::Error> for AppError {
        fn from(err: sqlx::Error) -> Self {
            AppError::internal(format!("database: {err}"))
        }
    }

    impl From<tokio::task::JoinError> for AppError {
        fn from(err: tokio::task::JoinError) -> Self {
            AppError::internal(format!("task: {err}"))
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
