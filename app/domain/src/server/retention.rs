//! Retention: texts (with their pictures), calls (with their voicemails), finished campaigns
//! and the conversations they leave empty are kept for the instance's period — 90 days
//! unless an admin changes it, or forever — or a user's own shorter one. [`purge`] deletes
//! what is older, a bounded batch per transaction, so SQLite's one writer is never held for
//! long while texts arrive.
//!
//! Media files go after the rows that name them are committed: a crash between the two
//! leaves a file nothing names (unreadable through the app), never a row naming no file.

use crate::error::{AppError, AppResult};
use crate::server::audit::{self, Action, Actor};
use crate::server::ids::UserId;
use crate::server::{instance_settings, now_ms, AppState, Db};
use crate::types::RetentionView;

/// What a new instance keeps.
pub const DEFAULT_DAYS: i64 = 90;
/// The longest period one can choose short of "forever" (ten years).
pub const MAX_DAYS: i64 = 3650;
/// Rows one purge transaction deletes at most.
pub const BATCH: i64 = 500;
const SETTING: &str = "retention_days";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The instance's period in days; `None` keeps forever.
pub async fn instance_days(db: &Db) -> AppResult<Option<i64>> {
    Ok(match instance_settings::get(db, SETTING).await? {
        None => Some(DEFAULT_DAYS),
        Some(text) => match text.parse::<i64>() {
            Ok(0) => None,
            Ok(days) => Some(days),
            Err(_) => Some(DEFAULT_DAYS),
        },
    })
}

fn check_days(days: i64) -> AppResult<()> {
    if (0..=MAX_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(AppError::invalid(format!(
            "Choose between 1 and {MAX_DAYS} days, or 0 to keep forever."
        )))
    }
}

/// Sets the instance's period (`0`: forever). Users' own periods longer than the new one
/// no longer count (the shorter always wins).
pub async fn set_instance_days(db: &Db, by: &Actor, days: i64) -> AppResult<()> {
    check_days(days)?;
    instance_settings::put(db, SETTING, &days.to_string()).await?;
    let detail = match days {
        0 => "texts and calls kept forever".to_string(),
        d => format!("texts and calls kept {d} days"),
    };
    audit::record(db.pool(), by, Action::RetentionChanged, None, &detail).await
}

/// Sets a user's own period (`0`: the instance's). It may only be shorter.
pub async fn set_own_days(db: &Db, by: &Actor, user_id: &UserId, days: i64) -> AppResult<()> {
    check_days(days)?;
    if let (Some(instance), true) = (instance_days(db).await?, days > 0) {
        if days > instance {
            return Err(AppError::invalid(format!(
                "This Switchboard keeps texts and calls {instance} days; choose fewer days, or 0 for that."
            )));
        }
    }
    sqlx::query("UPDATE users SET retention_days = $1 WHERE id = $2")
        .bind((days > 0).then_some(days))
        .bind(user_id)
        .execute(db.pool())
        .await?;
    let detail = match days {
        0 => "own period cleared".to_string(),
        d => format!("own period: {d} days"),
    };
    audit::record(
        db.pool(),
        by,
        Action::RetentionChanged,
        Some(user_id),
        &detail,
    )
    .await
}

/// The shorter of two periods (`None` = forever).
pub fn shorter(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// What Settings shows: the instance's period, the user's own, and what applies.
pub async fn view(db: &Db, user_id: &UserId) -> AppResult<RetentionView> {
    let instance = instance_days(db).await?;
    let (own,): (Option<i64>,) = sqlx::query_as("SELECT retention_days FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(db.pool())
        .await?;
    Ok(RetentionView {
        instance_days: instance.unwrap_or(0),
        own_days: own.unwrap_or(0),
        kept_days: shorter(instance, own).unwrap_or(0),
    })
}

/// What one purge deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub messages: u64,
    pub calls: u64,
    pub media_files: u64,
    pub conversations: u64,
    pub campaigns: u64,
}

/// Deletes, for every user, what is older than their period.
pub async fn purge(state: &AppState) -> AppResult<Purged> {
    purge_at(state, now_ms()).await
}

/// [`purge`] as if it were `now` (tests look into the future instead of waiting).
pub async fn purge_at(state: &AppState, now: i64) -> AppResult<Purged> {
    let instance = instance_days(&state.db).await?;
    let users: Vec<(UserId, Option<i64>)> = sqlx::query_as("SELECT id, retention_days FROM users")
        .fetch_all(state.db.pool())
        .await?;
    let mut purged = Purged::default();
    for (user_id, own) in users {
        if let Some(days) = shorter(instance, own) {
            purge_user(state, &user_id, now - days * DAY_MS, &mut purged).await?;
        }
    }
    Ok(purged)
}

async fn purge_user(
    state: &AppState,
    user_id: &UserId,
    cutoff: i64,
    purged: &mut Purged,
) -> AppResult<()> {
    // Texts (their pictures' rows go with them, ON DELETE CASCADE; the files after commit).
    loop {
        let mut tx = state.db.begin().await?;
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT m.id FROM conversations c
             JOIN messages m ON m.conversation_id = c.id AND m.created_at < $2
             WHERE c.user_id = $1 LIMIT $3",
        )
        .bind(user_id)
        .bind(cutoff)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            break;
        }
        let list = crate::server::db::placeholders(1, ids.len());
        let sql = format!("SELECT id FROM media WHERE message_id IN ({list})");
        let mut query = sqlx::query_as(&sql);
        for (id,) in &ids {
            query = query.bind(id);
        }
        let files: Vec<(String,)> = query.fetch_all(&mut *tx).await?;
        let sql = format!("DELETE FROM messages WHERE id IN ({list})");
        let mut query = sqlx::query(&sql);
        for (id,) in &ids {
            query = query.bind(id);
        }
        purged.messages += query.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        purged.media_files += delete_files(state, &files).await;
        if (ids.len() as i64) < BATCH {
            break;
        }
    }
    // Calls that ended (with their voicemails), and the call sessions left with no call.
    loop {
        let mut tx = state.db.begin().await?;
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, voicemail_media_id FROM calls
             WHERE user_id = $1 AND created_at < $2 AND ended_at IS NOT NULL LIMIT $3",
        )
        .bind(user_id)
        .bind(cutoff)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        let list = crate::server::db::placeholders(1, rows.len());
        let sql = format!("DELETE FROM calls WHERE id IN ({list})");
        let mut query = sqlx::query(&sql);
        for (id, _) in &rows {
            query = query.bind(id);
        }
        purged.calls += query.execute(&mut *tx).await?.rows_affected();
        let files: Vec<(String,)> = rows
            .iter()
            .filter_map(|(_, media)| media.clone().map(|m| (m,)))
            .collect();
        for (media_id,) in &files {
            sqlx::query("DELETE FROM media WHERE id = $1")
                .bind(media_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "DELETE FROM call_sessions WHERE created_at < $1
             AND NOT EXISTS (SELECT 1 FROM calls WHERE calls.session_id = call_sessions.id)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        purged.media_files += delete_files(state, &files).await;
        if (rows.len() as i64) < BATCH {
            break;
        }
    }
    // Conversations with nothing left in them, and campaigns that finished before the cutoff.
    let done = sqlx::query(
        "DELETE FROM conversations WHERE user_id = $1 AND last_at < $2
         AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.conversation_id = conversations.id)",
    )
    .bind(user_id)
    .bind(cutoff)
    .execute(state.db.pool())
    .await?;
    purged.conversations += done.rows_affected();
    let done = sqlx::query(
        "DELETE FROM campaigns WHERE user_id = $1 AND finished_at IS NOT NULL AND finished_at < $2",
    )
    .bind(user_id)
    .bind(cutoff)
    .execute(state.db.pool())
    .await?;
    purged.campaigns += done.rows_affected();
    Ok(())
}

/// Deletes media files whose rows are gone; answers how many went.
async fn delete_files(state: &AppState, ids: &[(String,)]) -> u64 {
    let mut deleted = 0;
    for (id,) in ids {
        match state.media.delete(id).await {
            Ok(()) => deleted += 1,
            Err(e) => {
                tracing::warn!(error = %e, media = %id, "could not delete a purged media file")
            }
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shorter_period_wins_and_forever_is_longest() {
        assert_eq!(shorter(Some(90), Some(30)), Some(30));
        assert_eq!(shorter(Some(30), Some(90)), Some(30));
        assert_eq!(shorter(None, Some(7)), Some(7));
        assert_eq!(shorter(Some(90), None), Some(90));
        assert_eq!(shorter(None, None), None);
    }

    #[test]
    fn periods_are_checked() {
        assert!(check_days(0).is_ok());
        assert!(check_days(1).is_ok());
        assert!(check_days(MAX_DAYS).is_ok());
        assert!(check_days(-1).is_err());
        assert!(check_days(MAX_DAYS + 1).is_err());
    }
}
