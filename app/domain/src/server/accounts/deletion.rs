//! Deleting an account: asked for by its owner (with their password) or by an admin, it
//! closes the account at once — every session ends, devices get no more alerts, live
//! streams close — and [`erase_due`] erases it after [`GRACE_MS`]: its numbers released at
//! the carrier, every row of its data, its picture and voicemail files. Until then the
//! owner (by signing in) or an admin can cancel, and everything is as it was; texts that
//! arrive meanwhile are kept.
//!
//! What stays afterwards is a tombstone in the audit log: the account's id with the kind
//! and time of each entry about it or by it, for as long as audit entries are kept (12
//! months) — no email, detail, address or device.

use crate::error::{AppError, AppResult};
use crate::server::audit::{self, Action, Actor};
use crate::server::carrier::config::CarrierKind;
use crate::server::ids::UserId;
use crate::server::{now_ms, AppState, Db};

/// How long a deleted account can still be restored.
pub const GRACE_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// Closes `user_id`'s account now and schedules its erasure; answers when it will be erased.
pub async fn request(state: &AppState, by: &Actor, user_id: &UserId) -> AppResult<i64> {
    let now = now_ms();
    let erase_at = now + GRACE_MS;
    let mut tx = state.db.begin().await?;
    let found: Option<(Option<i64>,)> = sqlx::query_as("SELECT erase_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    match found {
        None => return Err(AppError::not_found("That user")),
        Some((Some(_),)) => {
            return Err(AppError::invalid("This account is already being deleted."))
        }
        Some((None,)) => {}
    }
    if super::users::is_last_active_admin(&mut tx, user_id).await? {
        return Err(AppError::invalid(super::users::LAST_ADMIN));
    }
    sqlx::query("UPDATE users SET erase_at = $1 WHERE id = $2")
        .bind(erase_at)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    // Devices first (a device's row may outlive its session), then the sessions.
    sqlx::query("DELETE FROM push_subscriptions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let detail = format!("erased on {}", crate::types::format_instant(erase_at));
    audit::record(
        &mut *tx,
        by,
        Action::DeletionRequested,
        Some(user_id),
        &detail,
    )
    .await?;
    tx.commit().await?;
    state.bus.sessions_ended(&state.db, user_id).await;
    Ok(erase_at)
}

/// Cancels a pending deletion (an admin, or the owner signing in).
pub async fn cancel(db: &Db, by: &Actor, user_id: &UserId) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let done =
        sqlx::query("UPDATE users SET erase_at = NULL WHERE id = $1 AND erase_at IS NOT NULL")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::invalid("This account is not being deleted."));
    }
    audit::record(&mut *tx, by, Action::DeletionCancelled, Some(user_id), "").await?;
    tx.commit().await?;
    Ok(())
}

/// Erases every account whose grace period is over; answers how many went. An account
/// whose numbers the carrier would not release yet waits for the next round.
pub async fn erase_due(state: &AppState) -> AppResult<usize> {
    erase_due_at(state, now_ms()).await
}

/// [`erase_due`] as if it were `now` (tests look past the grace period instead of waiting).
pub async fn erase_due_at(state: &AppState, now: i64) -> AppResult<usize> {
    let due: Vec<(UserId,)> =
        sqlx::query_as("SELECT id FROM users WHERE erase_at IS NOT NULL AND erase_at <= $1")
            .bind(now)
            .fetch_all(state.db.pool())
            .await?;
    let mut erased = 0;
    for (user_id,) in due {
        match erase(state, &user_id).await {
            Ok(()) => erased += 1,
            Err(e) => {
                tracing::warn!(user = %user_id, error = ?e, "erasing an account failed; tried again next hour")
            }
        }
    }
    Ok(erased)
}

async fn erase(state: &AppState, user_id: &UserId) -> AppResult<()> {
    // The numbers, at the carrier that sold each (a release that fails stops here: the
    // account stays until its numbers are free, or they would stay billed).
    let numbers: Vec<(String, String, String)> =
        sqlx::query_as("SELECT e164, carrier, carrier_ref FROM phone_numbers WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(state.db.pool())
            .await?;
    for (e164, carrier, carrier_ref) in &numbers {
        let kind = CarrierKind::parse(carrier).unwrap_or_default();
        state
            .carrier_of(kind)
            .release_number(carrier_ref)
            .await
            .map_err(|e| AppError::internal(format!("releasing {e164}: {e:?}")))?;
    }
    let (email,): (String,) = sqlx::query_as("SELECT email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(state.db.pool())
        .await?;
    let files: Vec<(String,)> = sqlx::query_as("SELECT id FROM media WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(state.db.pool())
        .await?;

    let mut tx = state.db.begin().await?;
    // What names the account outside the tables that go with it (ON DELETE CASCADE).
    sqlx::query("DELETE FROM invitations WHERE created_by = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE invitations SET accepted_user_id = NULL, email = NULL WHERE accepted_user_id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM sign_in_failures WHERE email = $1")
        .bind(&email)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM rate_limit_hits WHERE key LIKE $1")
        .bind(format!("%{user_id}%"))
        .execute(&mut *tx)
        .await?;
    // Jobs about the account (alerts, forwards, sends) go with it.
    sqlx::query("DELETE FROM jobs WHERE payload LIKE $1")
        .bind(format!("%{user_id}%"))
        .execute(&mut *tx)
        .await?;
    for (e164, _, _) in &numbers {
        sqlx::query("DELETE FROM jobs WHERE payload LIKE $1")
            .bind(format!("%{e164}%"))
            .execute(&mut *tx)
            .await?;
    }
    // The tombstone: the account's audit entries keep their id, kind and time only; any
    // entry whose detail names the email loses its detail.
    sqlx::query(
        "UPDATE audit_log SET detail = '', ip = '', user_agent = ''
         WHERE subject_id = $1 OR actor_id = $1 OR detail LIKE $2",
    )
    .bind(user_id)
    .bind(format!("%{email}%"))
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    // Calls went with the account; their sessions (set-up state) have no call left.
    sqlx::query(
        "DELETE FROM call_sessions
         WHERE NOT EXISTS (SELECT 1 FROM calls WHERE calls.session_id = call_sessions.id)",
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &Actor::default(),
        Action::AccountErased,
        Some(user_id),
        "",
    )
    .await?;
    tx.commit().await?;
    // The files once nothing names them (a crash before this leaves unnamed files only).
    for (id,) in &files {
        if let Err(e) = state.media.delete(id).await {
            tracing::warn!(media = %id, error = %e, "could not delete an erased account's file");
        }
    }
    Ok(())
}
