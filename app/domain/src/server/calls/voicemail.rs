//! Voicemail for calls to people here: when a call was declined or not answered, the
//! caller's browser may record a message (public/calls.js, with MediaRecorder; the
//! Simulator's outside phone, public/outside-phone.js, in the sandbox) and send it here. It is kept in the media store as the called person's own file (only they can play
//! it back), listed with that call in their log, and their devices are alerted.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::error::{AppError, AppResult};
use crate::server::accounts::sessions::Authenticated;
use crate::server::ids::UserId;
use crate::server::{media, phone, push, AppState};

/// Two minutes of Opus is well under this.
pub const MAX_VOICEMAIL_BYTES: usize = 2_000_000;
/// The request may carry a little more than the recording.
pub const UPLOAD_LIMIT: usize = MAX_VOICEMAIL_BYTES + 100_000;

/// Who leaves a voicemail: the person here who placed the call, or the outside party
/// that called one of our numbers (the Simulator's outside phone, in the sandbox).
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Person(&'a UserId),
    Outside,
}

/// Checks that `caller` placed call `session_id` and that it went unanswered (declined or
/// missed): what leaving a voicemail, or hearing the greeting, takes. Anyone else's call is
/// "not found".
pub(super) async fn unanswered_leg(
    state: &AppState,
    caller: Caller<'_>,
    session_id: &str,
) -> AppResult<()> {
    let outcome: Option<(Option<String>,)> = match caller {
        Caller::Person(user_id) => {
            sqlx::query_as(
                "SELECT outcome FROM calls
                 WHERE session_id = $1 AND user_id = $2 AND direction = 'out'",
            )
            .bind(session_id)
            .bind(user_id)
            .fetch_optional(state.db.pool())
            .await?
        }
        Caller::Outside => {
            sqlx::query_as(
                "SELECT c.outcome FROM call_sessions s JOIN calls c ON c.session_id = s.id
                 WHERE s.id = $1 AND s.outside IS NOT NULL AND c.direction = 'in'",
            )
            .bind(session_id)
            .fetch_optional(state.db.pool())
            .await?
        }
    };
    let Some((outcome,)) = outcome else {
        return Err(AppError::not_found("That call"));
    };
    if !matches!(outcome.as_deref(), Some("missed" | "declined")) {
        return Err(AppError::invalid(
            "A voicemail can be left only on a call that was not answered.",
        ));
    }
    Ok(())
}

/// The called person's leg of a call a voicemail may be left on (its id, whose it is, the
/// caller's number), and the type of the recording left.
pub struct VoicemailBox {
    leg_id: String,
    callee: UserId,
    from: String,
    pub content_type: &'static str,
}

/// Checks that `recording` may be kept as the voicemail `caller` leaves on call
/// `session_id`: the call went unanswered, has no voicemail yet, and this is audio we keep,
/// not too long.
pub async fn check_voicemail(
    state: &AppState,
    caller: Caller<'_>,
    session_id: &str,
    recording: &[u8],
) -> AppResult<VoicemailBox> {
    unanswered_leg(state, caller, session_id).await?;
    let callee: Option<(String, UserId, String, Option<String>)> = sqlx::query_as(
        "SELECT id, user_id, peer, voicemail_media_id FROM calls
         WHERE session_id = $1 AND direction = 'in'",
    )
    .bind(session_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((leg_id, callee, from, already)) = callee else {
        return Err(AppError::invalid(
            "Voicemail is kept for people here: that phone has its own.",
        ));
    };
    if already.is_some() {
        return Err(AppError::invalid(
            "A voicemail was left on this call already.",
        ));
    }
    if recording.len() > MAX_VOICEMAIL_BYTES {
        return Err(AppError::invalid(
            "That voicemail is too long: two minutes at most.",
        ));
    }
    let Some(content_type) = media::sniff_audio(recording) else {
        return Err(AppError::invalid(
            "That recording is not one this app keeps (WAV, MP3, WebM or Ogg audio).",
        ));
    };
    Ok(VoicemailBox {
        leg_id,
        callee,
        from,
        content_type,
    })
}

/// Keeps `recording` as the voicemail `caller` left on call `session_id`.
pub async fn leave(
    state: &AppState,
    caller: Caller<'_>,
    session_id: &str,
    recording: &[u8],
) -> AppResult<()> {
    let VoicemailBox {
        leg_id,
        callee,
        from,
        content_type,
    } = check_voicemail(state, caller, session_id, recording).await?;
    let media_id = media::keep(state, &callee, content_type, recording).await?;
    let mut tx = state.db.begin().await?;
    let claimed = sqlx::query(
        "UPDATE calls SET voicemail_media_id = $1 WHERE id = $2 AND voicemail_media_id IS NULL",
    )
    .bind(&media_id)
    .bind(&leg_id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        // Another upload won the race: this copy goes.
        drop(tx);
        let _ = sqlx::query("DELETE FROM media WHERE id = $1")
            .bind(&media_id)
            .execute(state.db.pool())
            .await;
        let _ = state.media.delete(media_id.as_str()).await;
        return Err(AppError::invalid(
            "A voicemail was left on this call already.",
        ));
    }
    let region = phone::region_of(&from).unwrap_or_else(|| "US".into());
    let caller = crate::server::contacts::alert_name(&mut tx, &callee, &from, &region).await?;
    push::enqueue_for_user(
        &mut tx,
        &callee,
        &push::Notification {
            title: format!("Voicemail from {caller}"),
            body: "Play it in your call log.".into(),
            url: "/calls".into(),
            tag: format!("voicemail-{session_id}"),
            unread: 0,
            ended: false,
        },
        false,
    )
    .await?;
    let published = vec![
        crate::server::events::EventBus::record(&mut tx, &callee, &crate::types::LiveEvent::Calls)
            .await?,
    ];
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    state.jobs_waker.notify_one();
    Ok(())
}

/// `POST /calls/{call_id}/voicemail` (signed in, the caller): the recording's bytes. The
/// body is read only once the sender is known to be signed in.
pub async fn upload(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
    Path(call_id): Path<String>,
    body: axum::body::Body,
) -> Response {
    let Some(Extension(auth)) = auth else {
        return AppError::Unauthorized.into_response();
    };
    let user_id = auth.user_id();
    let kept = async {
        let bytes = recording(body).await?;
        leave(&state, Caller::Person(&user_id), &call_id, &bytes).await
    };
    match kept.await {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /simulator/calls/{call_id}/voicemail` (admins, sandbox): the voicemail the
/// Simulator's outside phone leaves on a call to one of our numbers. Checked at once (a
/// clear answer for a recording we would not keep), then reported by the sandbox carrier
/// as a carrier reports a recording: kept by the same job ([`crate::server::simulator`]).
pub async fn upload_outside(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
    Path(call_id): Path<String>,
    body: axum::body::Body,
) -> Response {
    match auth {
        None => return AppError::Unauthorized.into_response(),
        Some(Extension(auth)) if !auth.user.is_admin() => {
            return AppError::Forbidden.into_response()
        }
        Some(_) => {}
    }
    if let Err(e) = crate::server::simulator::require_sandbox(&state) {
        return e.into_response();
    }
    let reported = async {
        let bytes = recording(body).await?;
        crate::server::simulator::leave_voicemail(&state, &call_id, &bytes).await
    };
    match reported.await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The recording in an upload's `body`, read up to [`UPLOAD_LIMIT`].
async fn recording(body: axum::body::Body) -> AppResult<axum::body::Bytes> {
    axum::body::to_bytes(body, UPLOAD_LIMIT)
        .await
        .map_err(|_| AppError::invalid("That voicemail is too long: two minutes at most."))
}
