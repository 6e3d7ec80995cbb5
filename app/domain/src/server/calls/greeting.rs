//! A voicemail greeting per number: the words a caller is shown (and a carrier will speak),
//! and optionally a recording its owner made in the browser, played to the caller before
//! they leave their message. Set on the Calls page (public/calls.js); the caller's call
//! panel asks for it ([`for_caller`]) once the call went unanswered.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::voicemail::{unanswered_leg, Caller};
use crate::error::{AppError, AppResult};
use crate::server::accounts::sessions::Authenticated;
use crate::server::ids::{MediaId, NumberId, UserId};
use crate::server::{media, phone, AppState};
use crate::types::VoicemailGreeting;

/// A greeting's words, as typed.
pub const TEXT_MAX: usize = 300;
/// Thirty seconds of Opus is well under this.
pub const MAX_RECORDING_BYTES: usize = 600_000;
/// The request may carry a little more than the recording.
pub const UPLOAD_LIMIT: usize = MAX_RECORDING_BYTES + 10_000;

/// What a number without greeting words says.
pub fn default_text(name: &str, display: &str) -> String {
    let who = if name.is_empty() { display } else { name };
    format!("You've reached {who}. Leave a message after the tone.")
}

/// The number's owner and its current recording, or "not found" for anyone else's.
async fn own_number(
    state: &AppState,
    user_id: &UserId,
    number_id: &NumberId,
) -> AppResult<Option<MediaId>> {
    let row: Option<(Option<MediaId>,)> = sqlx::query_as(
        "SELECT greeting_media_id FROM phone_numbers WHERE id = $1 AND user_id = $2",
    )
    .bind(number_id)
    .bind(user_id)
    .fetch_optional(state.db.pool())
    .await?;
    row.map(|(media,)| media)
        .ok_or_else(|| AppError::not_found("That number"))
}

/// Sets the greeting's words ('' for the default).
pub async fn set_text(
    state: &AppState,
    user_id: &UserId,
    number_id: &NumberId,
    text: &str,
) -> AppResult<()> {
    own_number(state, user_id, number_id).await?;
    let text = text.trim();
    if text.chars().count() > TEXT_MAX || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::invalid(format!(
            "A greeting is up to {TEXT_MAX} characters of plain text."
        )));
    }
    sqlx::query("UPDATE phone_numbers SET greeting_text = $1 WHERE id = $2 AND user_id = $3")
        .bind(text)
        .bind(number_id)
        .bind(user_id)
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// Forgets a stored recording (its row and file).
async fn drop_media(state: &AppState, media_id: &MediaId) {
    let _ = sqlx::query("DELETE FROM media WHERE id = $1")
        .bind(media_id)
        .execute(state.db.pool())
        .await;
    let _ = state.media.delete(media_id.as_str()).await;
}

/// Keeps `recording` as the number's greeting, in place of any earlier one.
pub async fn keep_recording(
    state: &AppState,
    user_id: &UserId,
    number_id: &NumberId,
    recording: &[u8],
) -> AppResult<()> {
    let earlier = own_number(state, user_id, number_id).await?;
    if recording.len() > MAX_RECORDING_BYTES {
        return Err(AppError::invalid(
            "That greeting is too long: thirty seconds at most.",
        ));
    }
    let Some(content_type) = media::sniff_audio(recording) else {
        return Err(AppError::invalid(
            "That recording is not one this app keeps (WAV, MP3, WebM or Ogg audio).",
        ));
    };
    let media_id = media::keep(state, user_id, content_type, recording).await?;
    sqlx::query("UPDATE phone_numbers SET greeting_media_id = $1 WHERE id = $2 AND user_id = $3")
        .bind(&media_id)
        .bind(number_id)
        .bind(user_id)
        .execute(state.db.pool())
        .await?;
    if let Some(earlier) = earlier {
        drop_media(state, &earlier).await;
    }
    Ok(())
}

/// Goes back to the words alone.
pub async fn remove_recording(
    state: &AppState,
    user_id: &UserId,
    number_id: &NumberId,
) -> AppResult<()> {
    let Some(earlier) = own_number(state, user_id, number_id).await? else {
        return Ok(());
    };
    sqlx::query("UPDATE phone_numbers SET greeting_media_id = NULL WHERE id = $1 AND user_id = $2")
        .bind(number_id)
        .bind(user_id)
        .execute(state.db.pool())
        .await?;
    drop_media(state, &earlier).await;
    Ok(())
}

/// The greeting of the number called on `session_id`, for its caller once the call went
/// unanswered (anyone else: "not found"): its words, and a link to the recording (good
/// for a day, like any link to a stored file we hand out).
pub async fn for_caller(
    state: &AppState,
    caller: Caller<'_>,
    session_id: &str,
) -> AppResult<VoicemailGreeting> {
    unanswered_leg(state, caller, session_id).await?;
    let row: Option<(String, String, String, Option<MediaId>)> = sqlx::query_as(
        "SELECT p.e164, p.name, p.greeting_text, p.greeting_media_id
         FROM calls c JOIN phone_numbers p ON p.id = c.number_id
         WHERE c.session_id = $1 AND c.direction = 'in'",
    )
    .bind(session_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((e164, name, text, recording)) = row else {
        return Err(AppError::not_found("That call"));
    };
    let region = phone::region_of(&e164).unwrap_or_else(|| "US".into());
    let text = if text.is_empty() {
        default_text(&name, &phone::display(&e164, &region))
    } else {
        text
    };
    Ok(VoicemailGreeting {
        text,
        audio_url: recording.map(|id| media::public_url(state, &id)),
    })
}

/// A link a carrier can fetch the recorded greeting of the number called on
/// `session_id` from, when there is one it can play (WAV or MP3: what the browser records
/// greetings in now; an older WebM one is said as words instead).
pub async fn carrier_playable(state: &AppState, session_id: &str) -> AppResult<Option<String>> {
    let row: Option<(MediaId, String)> = sqlx::query_as(
        "SELECT m.id, m.content_type FROM calls c
         JOIN phone_numbers p ON p.id = c.number_id
         JOIN media m ON m.id = p.greeting_media_id
         WHERE c.session_id = $1 AND c.direction = 'in'",
    )
    .bind(session_id)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(row
        .filter(|(_, kind)| matches!(kind.as_str(), "audio/wav" | "audio/mpeg"))
        .map(|(id, _)| media::public_url(state, &id)))
}

/// `POST /numbers/{id}/greeting` (signed in, the number's owner): the recording's bytes,
/// read only once the sender is known.
pub async fn upload(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
    Path(number_id): Path<String>,
    body: axum::body::Body,
) -> Response {
    let Some(Extension(auth)) = auth else {
        return AppError::Unauthorized.into_response();
    };
    let Ok(body) = axum::body::to_bytes(body, UPLOAD_LIMIT).await else {
        return AppError::invalid("That greeting is too long: thirty seconds at most.")
            .into_response();
    };
    let number_id = NumberId::new(number_id);
    match keep_recording(&state, &auth.user_id(), &number_id, &body).await {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => e.into_response(),
    }
}
