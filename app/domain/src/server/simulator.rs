//! The sandbox simulator (Admin → Sandbox, `switchboard sandbox …`): what an outside phone
//! or the carrier would do. Everything takes the same ingestion path as a real webhook.

use super::carrier::config::CarrierKind;
use super::carrier::{CallEvent, CarrierEvent, DeliveryStatus, MediaRef};
use super::ids::MessageId;
use super::{calls, crypto, media, messaging, phone, AppState, Db};
use crate::error::{AppError, AppResult};

/// The picture the Simulator attaches to an inbound MMS: the app's own icon.
const SAMPLE_PICTURE: &[u8] = include_bytes!("../../../../public/icons/icon-192.png");

/// The simulator drives the sandbox carrier only.
pub fn require_sandbox(state: &AppState) -> AppResult<()> {
    if state.carrier().kind() == CarrierKind::Sandbox {
        Ok(())
    } else {
        Err(AppError::invalid(
            "The simulator works with the sandbox carrier only.",
        ))
    }
}

/// A carrier error code as typed: a few letters and digits.
pub fn error_code(code: &str) -> AppResult<&str> {
    let code = code.trim();
    if code.is_empty() || code.len() > 12 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(AppError::invalid(
            "Enter a carrier error code, like 40300 or 30034.",
        ));
    }
    Ok(code)
}

/// An inbound text (with `picture`, an MMS) from any outside number to a number owned here.
pub async fn inbound(
    state: &AppState,
    from: &str,
    to: &str,
    body: String,
    picture: bool,
) -> AppResult<()> {
    require_sandbox(state)?;
    if body.trim().is_empty() && !picture {
        return Err(AppError::invalid(
            "Write the text the outside phone sends, or attach the picture.",
        ));
    }
    let to = phone::parse(to, "US")?;
    let from = phone::parse(from, &phone::region_of(&to).unwrap_or_else(|| "US".into()))?;
    let id = format!("sim-{}", crypto::new_id());
    let event = CarrierEvent::Inbound {
        event_id: id.clone(),
        carrier_message_id: id,
        from,
        to,
        body,
        // Taken as a real carrier's would be: fetched by a job and kept.
        media: picture
            .then(|| MediaRef {
                url: media::data_url("image/png", SAMPLE_PICTURE),
                content_type: "image/png".into(),
            })
            .into_iter()
            .collect(),
    };
    match messaging::ingest(state, CarrierKind::Sandbox, &event).await? {
        messaging::Ingested::NoOwner => Err(AppError::invalid("Nobody here owns that number.")),
        _ => Ok(()),
    }
}

/// The outside phone leaves `recording` as its voicemail on call `session_id`, one it placed
/// to our number that went unanswered: the sandbox carrier reports the recording as a
/// carrier does (its link a `data:` URL, as the Simulator's pictures are), and the job that
/// keeps a carrier's recording keeps it. Checked first, for a clear answer at once.
pub async fn leave_voicemail(
    state: &AppState,
    session_id: &str,
    recording: &[u8],
) -> AppResult<()> {
    require_sandbox(state)?;
    let left = calls::check_voicemail(state, calls::Caller::Outside, session_id, recording).await?;
    let held: Option<(Option<String>,)> =
        sqlx::query_as("SELECT carrier_session FROM call_sessions WHERE id = $1 AND carrier = $2")
            .bind(session_id)
            .bind(CarrierKind::Sandbox.as_str())
            .fetch_optional(state.db.pool())
            .await?;
    let Some((Some(session),)) = held else {
        return Err(AppError::not_found("That call"));
    };
    let saved = CallEvent::RecordingSaved {
        event_id: format!("sim-{}", crypto::new_id()),
        session,
        url: media::data_url(left.content_type, recording),
    };
    calls::carrier::handle(state, CarrierKind::Sandbox, &saved).await?;
    Ok(())
}

/// Makes an outbound message fail as the carrier would, with the carrier's error code.
pub async fn fail_delivery(state: &AppState, message_id: &MessageId, code: &str) -> AppResult<()> {
    require_sandbox(state)?;
    let code = error_code(code)?;
    let found: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT carrier_message_id FROM messages WHERE id = $1 AND direction = 'out'",
    )
    .bind(message_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((Some(carrier_message_id),)) = found else {
        return Err(AppError::not_found("A sent message with that id"));
    };
    let event = CarrierEvent::Status {
        event_id: format!("sim-{}", crypto::new_id()),
        carrier_message_id,
        status: DeliveryStatus::Failed,
        error_code: Some(code.to_string()),
    };
    messaging::ingest(state, CarrierKind::Sandbox, &event).await?;
    Ok(())
}

/// Recent outbound messages on the sandbox's numbers, for the simulator's "fail a delivery"
/// list: (message id, a line describing it). Texts on real carriers are their senders'
/// business, not the simulator's.
pub async fn recent_outbound(db: &Db) -> AppResult<Vec<(String, String)>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT m.id, c.peer, m.body FROM messages m JOIN conversations c ON c.id = m.conversation_id
         JOIN phone_numbers n ON n.id = c.number_id
         WHERE m.direction = 'out' AND m.carrier_message_id IS NOT NULL AND n.carrier = 'sandbox'
         ORDER BY m.created_at DESC LIMIT 20",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, peer, body)| {
            (
                id,
                format!("to {peer}: {}", body.chars().take(40).collect::<String>()),
            )
        })
        .collect())
}
