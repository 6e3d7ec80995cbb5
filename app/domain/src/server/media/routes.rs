//! The HTTP side: uploads from the composer, pictures for their owner and for carriers.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use crate::error::AppError;
use crate::server::accounts::sessions::Authenticated;
use crate::server::AppState;

/// Uploads are at most 5 MB (the most any carrier takes), with room for the request.
pub const UPLOAD_LIMIT: usize = 5_500_000;

fn picture(content_type: String, bytes: Vec<u8>, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache.to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            // An image never runs script, even if opened on its own.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `POST /media` (signed in): the raw bytes of one picture; answers `{"id": …}`.
/// `POST /media`: one picture. The body is read only once the sender is known to be
/// signed in, so nobody else can make the server buffer megabytes.
pub async fn upload(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
    body: axum::body::Body,
) -> Response {
    let Some(Extension(auth)) = auth else {
        return AppError::Unauthorized.into_response();
    };
    let Ok(body) = axum::body::to_bytes(body, UPLOAD_LIMIT).await else {
        return AppError::invalid(format!(
            "Pictures can be at most {} MB.",
            UPLOAD_LIMIT / 1_000_000
        ))
        .into_response();
    };
    match super::upload(&state, &auth.user_id(), &body).await {
        Ok(id) => (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /media/{id}`: the owner's picture; for anyone else it does not exist.
pub async fn own(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
    Path(id): Path<crate::server::ids::MediaId>,
) -> Response {
    let Some(Extension(auth)) = auth else {
        return AppError::not_found("That picture").into_response();
    };
    match super::read_own(&state, &auth.user_id(), &id).await {
        Ok((content_type, bytes)) => picture(content_type, bytes, "private, max-age=86400"),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct Signed {
    expires: i64,
    sig: String,
}

/// `GET /media/public/{id}?expires=…&sig=…`: what a carrier fetches for an outbound MMS.
pub async fn public(
    State(state): State<AppState>,
    Path(id): Path<crate::server::ids::MediaId>,
    Query(signed): Query<Signed>,
) -> Response {
    match super::read_public(&state, &id, signed.expires, &signed.sig).await {
        Ok((content_type, bytes)) => picture(content_type, bytes, "private, max-age=3600"),
        Err(e) => e.into_response(),
    }
}
