//! Sign-in throttling, per account and per client IP, kept in the database so that several
//! instances sharing one PostgreSQL enforce one limit.

use super::{now_ms, Db};
use crate::error::{AppError, AppResult};

pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failed attempts on one email (existing or not) within the window before it is paused.
pub const PER_ACCOUNT: i64 = 5;
/// Failed attempts from one IP, across all emails, within the window.
pub const PER_IP: i64 = 20;

/// Refuses the attempt when either limit is reached, saying how long to wait.
pub async fn check(db: &Db, email: &str, ip: &str) -> AppResult<()> {
    let now = now_ms();
    for (column, key, limit) in [("email", email, PER_ACCOUNT), ("ip", ip, PER_IP)] {
        // The limit-th most recent failure: once it leaves the window, attempts resume.
        let sql = format!(
            "SELECT at FROM sign_in_failures WHERE {column} = $1 AND at > $2 ORDER BY at DESC LIMIT 1 OFFSET $3"
        );
        let blocking: Option<(i64,)> = sqlx::query_as(&sql)
            .bind(key)
            .bind(now - WINDOW_MS)
            .bind(limit - 1)
            .fetch_optional(db.pool())
            .await?;
        if let Some((at,)) = blocking {
            let minutes = ((at + WINDOW_MS - now) + 59_999) / 60_000;
            let minutes = minutes.max(1);
            return Err(AppError::Throttled(format!(
                "Too many sign-in attempts. Wait {minutes} minute{} and try again.",
                if minutes == 1 { "" } else { "s" }
            )));
        }
    }
    Ok(())
}

pub async fn record_failure(db: &Db, email: &str, ip: &str) -> AppResult<()> {
    let now = now_ms();
    sqlx::query("INSERT INTO sign_in_failures (email, ip, at) VALUES ($1, $2, $3)")
        .bind(email)
        .bind(ip)
        .bind(now)
        .execute(db.pool())
        .await?;
    // Forget failures that can no longer count.
    sqlx::query("DELETE FROM sign_in_failures WHERE at <= $1")
        .bind(now - WINDOW_MS)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A successful sign-in clears that account's failures (not the IP's).
pub async fn clear_account(db: &Db, email: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE email = $1")
        .bind(email)
        .execute(db.pool())
        .await?;
    Ok(())
}
