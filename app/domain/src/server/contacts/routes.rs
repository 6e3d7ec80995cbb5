//! The HTTP side of contacts: CSV files up (preview, import) and down (CSV, vCard). Plain
//! routes rather than server functions: a file is the request's body as it is, and an
//! export is a download.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

pub use super::{IMPORT_LIMIT, PREVIEW_LIMIT};
use crate::error::AppError;
use crate::server::accounts::sessions::Authenticated;
use crate::server::throttle::{self, Limit};
use crate::server::AppState;

/// Contact files (previews, imports, exports) per user: each reads or writes up to tens of MB.
pub const CONTACT_FILES: Limit = Limit {
    action: "contact files",
    per_window: 30,
    window_ms: 60 * 1000,
};

/// The body, once its sender is known to be signed in and within the rate (so nobody else
/// can make the server buffer megabytes).
async fn file(
    state: &AppState,
    auth: Option<Extension<Authenticated>>,
    body: axum::body::Body,
    limit: usize,
) -> Result<(Authenticated, axum::body::Bytes), Response> {
    let Some(Extension(auth)) = auth else {
        return Err(AppError::Unauthorized.into_response());
    };
    throttle::take(&state.db, CONTACT_FILES, auth.user_id().as_str())
        .await
        .map_err(IntoResponse::into_response)?;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        AppError::invalid(format!(
            "Contact files can be at most {} MB.",
            limit / (1024 * 1024)
        ))
        .into_response()
    })?;
    Ok((auth, bytes))
}

/// `POST /contacts/import/preview`: the start of a CSV file (the browser sends its first
/// 64 KB); answers an `ImportPreview`.
pub async fn preview(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
    body: axum::body::Body,
) -> Response {
    // A little over the preview's reach: the browser's slice, and room for the request.
    let (_, bytes) = match file(&state, auth, body, PREVIEW_LIMIT + 1024).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    match super::preview(&bytes) {
        Ok(preview) => Json(preview).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct Columns {
    /// What each column holds, in order, separated by commas (`name,number,skip,…`).
    columns: String,
}

/// `POST /contacts/import?columns=name,number,…`: the whole CSV file; answers an
/// `ImportOutcome` (with errors by line, and then nothing imported).
pub async fn import(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
    Query(Columns { columns }): Query<Columns>,
    body: axum::body::Body,
) -> Response {
    let (auth, bytes) = match file(&state, auth, body, IMPORT_LIMIT).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let roles: Vec<String> = columns.split(',').map(|r| r.trim().to_string()).collect();
    match super::import(&state, &auth.user_id(), bytes, roles).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => e.into_response(),
    }
}

fn download(content_type: &str, name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response()
}

/// The user's contacts as a file, within the rate for contact files.
async fn export(state: &AppState, auth: Option<Extension<Authenticated>>, vcard: bool) -> Response {
    let Some(Extension(auth)) = auth else {
        return AppError::Unauthorized.into_response();
    };
    if let Err(e) = throttle::take(&state.db, CONTACT_FILES, auth.user_id().as_str()).await {
        return e.into_response();
    }
    let user_id = auth.user_id();
    let file = if vcard {
        super::export_vcard(&state.db, &user_id).await
    } else {
        super::export_csv(&state.db, &user_id).await
    };
    match (file, vcard) {
        (Ok(vcf), true) => download("text/vcard; charset=utf-8", "contacts.vcf", vcf),
        (Ok(csv), false) => download("text/csv; charset=utf-8", "contacts.csv", csv),
        (Err(e), _) => e.into_response(),
    }
}

/// `GET /contacts/export.csv`
pub async fn export_csv(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
) -> Response {
    export(&state, auth, false).await
}

/// `GET /contacts/export.vcf`
pub async fn export_vcard(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
) -> Response {
    export(&state, auth, true).await
}

/// `GET /campaigns/{id}/report.csv`: one campaign's recipients and what became of their texts.
pub async fn campaign_report(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Some(Extension(auth)) = auth else {
        return AppError::Unauthorized.into_response();
    };
    match crate::server::campaigns::report_csv(&state.db, &auth.user_id(), &id).await {
        Ok(csv) => download("text/csv; charset=utf-8", "campaign-report.csv", csv),
        Err(e) => e.into_response(),
    }
}
