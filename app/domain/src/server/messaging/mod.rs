//! Conversations and messages: sending (`send`: message + outbox job in one transaction, and
//! the job that hands it to the carrier exactly once), ingesting what carriers report
//! (`ingest`: inbound texts, delivery statuses, idempotently), and reading (`read`).

pub mod auto_reply;
pub mod canned;
mod ingest;
pub mod opt_out;
mod read;
mod send;

pub use ingest::*;
pub use read::*;
pub use send::*;

use sqlx::{Any, Transaction};

use super::events::{EventBus, Published};
use super::ids::{MessageId, UserId};
use super::{carrier, now_ms};
use crate::error::AppResult;
use crate::types::{LiveEvent, MessageStatus};

/// Carriers concatenate at most this many characters (Twilio and Telnyx both stop at 1600).
pub const MAX_BODY_CHARS: usize = 1600;

/// The conversation list's line for a message; a picture without words says so.
fn preview_with_media(body: &str, pictures: usize) -> String {
    match (body.trim().is_empty(), pictures) {
        (true, 1) => "Picture".into(),
        (true, n) if n > 1 => format!("{n} pictures"),
        _ => preview(body),
    }
}

fn preview(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 80 {
        format!("{}…", flat.chars().take(79).collect::<String>())
    } else {
        flat
    }
}

/// Moves a message to `status` if that is forward; records the live event. Returns the
/// published event when something changed.
async fn advance(
    tx: &mut Transaction<'_, Any>,
    message_id: &MessageId,
    status: MessageStatus,
    error_code: Option<&str>,
    carrier_message_id: Option<&str>,
) -> AppResult<Option<Published>> {
    let row: Option<(UserId, String, String)> =
        sqlx::query_as("SELECT user_id, conversation_id, status FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((user_id, conversation_id, current)) = row else {
        return Ok(None);
    };
    let current = MessageStatus::parse(&current).unwrap_or(MessageStatus::Queued);
    if status.rank() <= current.rank() {
        return Ok(None);
    }
    // The status condition makes "forward only" hold even against a concurrent update
    // (PostgreSQL's READ COMMITTED would otherwise let a stale read overwrite a newer status).
    let behind: Vec<&str> = MessageStatus::ALL
        .iter()
        .filter(|s| s.rank() < status.rank())
        .map(|s| s.as_str())
        .collect();
    let placeholders = super::db::placeholders(6, behind.len());
    let sql = format!(
        "UPDATE messages SET status = $1, error_code = COALESCE($2, error_code),
         carrier_message_id = COALESCE($3, carrier_message_id), updated_at = $4
         WHERE id = $5 AND status IN ({placeholders})"
    );
    let mut update = sqlx::query(&sql)
        .bind(status.as_str())
        .bind(error_code)
        .bind(carrier_message_id)
        .bind(now_ms())
        .bind(message_id);
    for s in &behind {
        update = update.bind(*s);
    }
    if update.execute(&mut **tx).await?.rows_affected() == 0 {
        return Ok(None);
    }
    // The carrier says the peer unsubscribed: nothing more goes to them from this number.
    if let Some(code) = error_code.filter(|code| opt_out::OPT_OUT_ERRORS.contains(code)) {
        sqlx::query(
            "INSERT INTO opt_outs (number_id, peer, source, created_at)
             SELECT number_id, peer, $1, $2 FROM conversations WHERE id = $3
             ON CONFLICT (number_id, peer) DO NOTHING",
        )
        .bind(code)
        .bind(now_ms())
        .bind(&conversation_id)
        .execute(&mut **tx)
        .await?;
    }
    let event = LiveEvent::Message {
        conversation_id,
        message_id: message_id.to_string(),
    };
    Ok(Some(EventBus::record(tx, &user_id, &event).await?))
}
