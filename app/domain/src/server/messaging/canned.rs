//! Canned replies: a person's saved snippets, each with a shortcut (`/hours`), inserted into
//! the composer by public/canned.js. Only their owner sees or changes them.

use crate::error::{AppError, AppResult};
use crate::server::ids::UserId;
use crate::server::{crypto, now_ms, Db};
use crate::types::CannedReply;

/// Snippets one person may keep.
pub const MAX_CANNED: i64 = 100;
pub const MAX_SHORTCUT_CHARS: usize = 20;

pub async fn list(db: &Db, user_id: &UserId) -> AppResult<Vec<CannedReply>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, shortcut, body FROM canned_replies WHERE user_id = $1 ORDER BY shortcut",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, shortcut, body)| CannedReply { id, shortcut, body })
        .collect())
}

/// A shortcut: lowercase letters, digits, `-` and `_`, up to 20 (typed after a `/`).
fn check_shortcut(shortcut: &str) -> AppResult<String> {
    let shortcut = shortcut.trim().trim_start_matches('/').to_lowercase();
    if shortcut.is_empty()
        || shortcut.chars().count() > MAX_SHORTCUT_CHARS
        || !shortcut
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(AppError::invalid(format!(
            "A shortcut is 1 to {MAX_SHORTCUT_CHARS} letters, digits, - or _ (like hours)."
        )));
    }
    Ok(shortcut)
}

/// Creates a snippet (`id` empty) or changes one of the user's. Answers its id.
pub async fn save(
    db: &Db,
    user_id: &UserId,
    id: &str,
    shortcut: &str,
    body: &str,
) -> AppResult<String> {
    let shortcut = check_shortcut(shortcut)?;
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::invalid("Write the reply."));
    }
    if body.chars().count() > super::MAX_BODY_CHARS {
        return Err(AppError::invalid(format!(
            "A reply can be at most {} characters.",
            super::MAX_BODY_CHARS
        )));
    }
    let mut tx = db.begin().await?;
    crate::server::throttle::lock_key(&mut tx, db.backend(), &format!("canned:{user_id}")).await?;
    let (taken,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM canned_replies WHERE user_id = $1 AND shortcut = $2 AND id <> $3",
    )
    .bind(user_id)
    .bind(&shortcut)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if taken > 0 {
        return Err(AppError::invalid(format!(
            "You have a reply called /{shortcut} already."
        )));
    }
    let id = if id.is_empty() {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM canned_replies WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        if count >= MAX_CANNED {
            return Err(AppError::invalid(format!(
                "You have {MAX_CANNED} canned replies, the most one person can keep."
            )));
        }
        let id = crypto::new_id();
        sqlx::query(
            "INSERT INTO canned_replies (id, user_id, shortcut, body, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(&shortcut)
        .bind(body)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        id
    } else {
        let done = sqlx::query(
            "UPDATE canned_replies SET shortcut = $1, body = $2 WHERE id = $3 AND user_id = $4",
        )
        .bind(&shortcut)
        .bind(body)
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(AppError::not_found("That canned reply"));
        }
        id.to_string()
    };
    tx.commit().await?;
    Ok(id)
}

pub async fn delete(db: &Db, user_id: &UserId, id: &str) -> AppResult<()> {
    let done = sqlx::query("DELETE FROM canned_replies WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That canned reply"));
    }
    Ok(())
}
