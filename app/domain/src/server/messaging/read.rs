//! Reading: the conversation list, a thread, search; marking read, deleting.

use crate::error::{AppError, AppResult};
use crate::server::events::EventBus;
use crate::server::ids::{ConversationId, UserId};
use crate::server::{carrier, phone, AppState, Db};
use crate::types::{ConversationSummary, LiveEvent, MessageStatus, MessageView, SearchHit, Thread};

type ConversationRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    String,
);

/// A conversation's columns, the peer's contact name last ('' without one).
const CONVERSATION_COLUMNS: &str =
    "c.id, c.number_id, n.e164, n.name, c.peer, c.last_at, c.last_preview, c.unread,
     COALESCE((SELECT ct.name FROM contact_numbers cn JOIN contacts ct ON ct.id = cn.contact_id
               WHERE cn.user_id = c.user_id AND cn.e164 = c.peer), '')";

fn summary(row: ConversationRow) -> ConversationSummary {
    let (id, number_id, number_e164, number_name, peer, last_at, preview, unread, peer_name) = row;
    let region = phone::region_of(&number_e164).unwrap_or_else(|| "US".into());
    ConversationSummary {
        id,
        number_id,
        number_display: phone::display(&number_e164, &region),
        number_name,
        peer_display: phone::display(&peer, &region),
        peer_name,
        peer,
        last_at,
        preview,
        unread,
    }
}

/// The user's conversations, most recent first.
pub async fn list(db: &Db, user_id: &UserId) -> AppResult<Vec<ConversationSummary>> {
    let rows: Vec<ConversationRow> = sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c JOIN phone_numbers n ON n.id = c.number_id
         WHERE c.user_id = $1 ORDER BY c.last_at DESC LIMIT 200"
    ))
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(summary).collect())
}

pub async fn unread_total(db: &Db, user_id: &UserId) -> AppResult<i64> {
    // SUM is NUMERIC on PostgreSQL: cast back to BIGINT so both engines return an integer.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(unread), 0) AS BIGINT) FROM conversations WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(db.pool())
    .await?;
    Ok(n)
}

/// One conversation with its latest messages (oldest first). Another user's is "not found".
pub async fn thread(
    db: &Db,
    user_id: &UserId,
    conversation_id: &ConversationId,
) -> AppResult<Thread> {
    let row: Option<ConversationRow> = sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c JOIN phone_numbers n ON n.id = c.number_id
         WHERE c.id = $1 AND c.user_id = $2"
    ))
    .bind(conversation_id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Err(AppError::not_found("That conversation"));
    };
    let rows: Vec<(String, String, String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, direction, body, status, error_code, created_at FROM messages
         WHERE conversation_id = $1 AND user_id = $2 ORDER BY created_at DESC, id DESC LIMIT 200",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut media = crate::server::media::views_for(db, user_id, &ids).await?;
    let mut messages: Vec<MessageView> = rows
        .into_iter()
        .map(|(id, direction, body, status, error_code, created_at)| {
            let status = MessageStatus::parse(&status).unwrap_or(MessageStatus::Queued);
            MessageView {
                outgoing: direction == "out",
                body,
                failure: (status == MessageStatus::Failed)
                    .then(|| carrier::errors::explain(error_code.as_deref().unwrap_or("unknown"))),
                status,
                created_at,
                media: media.remove(&id).unwrap_or_default(),
                id,
            }
        })
        .collect();
    messages.reverse();
    let conversation = summary(row);
    let opted_out = super::opt_out::opted_out(
        db,
        &crate::server::ids::NumberId::new(conversation.number_id.clone()),
        &conversation.peer,
    )
    .await?;
    Ok(Thread {
        conversation,
        messages,
        opted_out,
    })
}

pub async fn mark_read(
    state: &AppState,
    user_id: &UserId,
    conversation_id: &ConversationId,
) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE conversations SET unread = 0 WHERE id = $1 AND user_id = $2 AND unread > 0",
    )
    .bind(conversation_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let published = if done.rows_affected() > 0 {
        vec![EventBus::record(&mut tx, user_id, &LiveEvent::Conversations).await?]
    } else {
        Vec::new()
    };
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(())
}

pub async fn delete(
    state: &AppState,
    user_id: &UserId,
    conversation_id: &ConversationId,
) -> AppResult<()> {
    let pictures: Vec<(String,)> = sqlx::query_as(
        "SELECT m.id FROM media m JOIN messages g ON g.id = m.message_id
         WHERE g.conversation_id = $1 AND m.user_id = $2",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_all(state.db.pool())
    .await?;
    let mut tx = state.db.begin().await?;
    // Queued sends of this conversation are cancelled with it (their job finds no message).
    sqlx::query("DELETE FROM messages WHERE conversation_id = $1 AND user_id = $2")
        .bind(conversation_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM conversations WHERE id = $1 AND user_id = $2")
        .bind(conversation_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That conversation"));
    }
    let published = vec![EventBus::record(&mut tx, user_id, &LiveEvent::Conversations).await?];
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    // The rows went with their messages; the bytes go now.
    for (id,) in pictures {
        if let Err(e) = state.media.delete(&id).await {
            tracing::warn!(media = %id, error = %e, "could not delete a picture's file");
        }
    }
    Ok(())
}

/// Messages of the user containing `query` (case-insensitive), newest first.
pub async fn search(db: &Db, user_id: &UserId, query: &str) -> AppResult<Vec<SearchHit>> {
    let query = query.trim();
    if query.is_empty() {
        return Ok(Vec::new());
    }
    if query.chars().count() > 100 {
        return Err(AppError::invalid("Search for at most 100 characters."));
    }
    let escaped = crate::server::db::escape_like(&query.to_lowercase());
    let rows: Vec<(String, String, String, String, i64, String)> = sqlx::query_as(
        "SELECT m.conversation_id, n.e164, c.peer, m.body, m.created_at,
             COALESCE((SELECT ct.name FROM contact_numbers cn JOIN contacts ct ON ct.id = cn.contact_id
                       WHERE cn.user_id = c.user_id AND cn.e164 = c.peer), '')
         FROM messages m
         JOIN conversations c ON c.id = m.conversation_id JOIN phone_numbers n ON n.id = c.number_id
         WHERE m.user_id = $1 AND LOWER(m.body) LIKE $2 ESCAPE '\\'
         ORDER BY m.created_at DESC LIMIT 50",
    )
    .bind(user_id)
    .bind(format!("%{escaped}%"))
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(conversation_id, number, peer, body, created_at, peer_name)| {
                let region = phone::region_of(&number).unwrap_or_else(|| "US".into());
                SearchHit {
                    conversation_id,
                    // The peer's contact name, else their number.
                    peer_display: if peer_name.is_empty() {
                        phone::display(&peer, &region)
                    } else {
                        peer_name
                    },
                    body,
                    created_at,
                }
            },
        )
        .collect())
}
