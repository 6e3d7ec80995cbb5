//! Abuse limits kept in the database, so that several instances sharing one PostgreSQL
//! enforce one limit: sign-in attempts per account and per client address (a progressive
//! delay), and a count per window for other costly actions (password changes, test alerts,
//! invitations, uploads).
//!
//! Every check and the record it makes happen in one transaction under a per-key lock
//! (SQLite's single writer; `pg_advisory_xact_lock` on PostgreSQL), so N requests in
//! parallel cannot all pass a check that only one of them should.

use sqlx::{Any, Transaction};

use super::{now_ms, Backend, Db};
use crate::error::{AppError, AppResult};

pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failed attempts on one email (existing or not) within the window before each further
/// attempt has to wait.
pub const PER_ACCOUNT: i64 = 5;
/// Failed attempts from one address, across all emails, within the window before each
/// further attempt has to wait.
pub const PER_IP: i64 = 20;
/// The longest wait an account's failures impose. A delay, not a lock-out: whoever is
/// guessing at someone's account can't keep its owner out for long, and still gets only
/// one guess per minute.
pub const ACCOUNT_MAX_DELAY_MS: i64 = 60_000;
/// The longest wait an address's failures impose (only that address waits).
pub const IP_MAX_DELAY_MS: i64 = WINDOW_MS;

/// Serialises checks on `key` until the transaction ends (SQLite: its single writer does).
pub async fn lock_key(tx: &mut Transaction<'_, Any>, backend: Backend, key: &str) -> AppResult<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The first wait once the free attempts are spent; each further failure doubles it.
pub const FIRST_DELAY_MS: i64 = 15_000;

/// The wait after `failures` recent failures, `limit` of them free: 15 s, 30 s, 60 s …,
/// capped at `max_ms`.
pub fn delay_after(failures: i64, limit: i64, max_ms: i64) -> i64 {
    if failures < limit {
        return 0;
    }
    let doublings = (failures - limit).min(20);
    (FIRST_DELAY_MS << doublings).min(max_ms)
}

fn wait_words(ms: i64) -> String {
    let secs = (ms + 999) / 1000;
    if secs < 120 {
        format!("{secs} second{}", if secs == 1 { "" } else { "s" })
    } else {
        format!("{} minutes", (secs + 59) / 60)
    }
}

/// A sign-in attempt that holds its place among the failures until it proves right.
#[must_use = "a reservation stays a failure unless `succeeded` is called"]
pub struct Reservation(());

/// Reserves a sign-in attempt on `email` from `ip`, or refuses it (saying how long to wait)
/// while the recent failures on either ask for a pause. The reservation counts as a failure
/// until [`succeeded`] removes it, so parallel guesses see each other before any password
/// is checked.
pub async fn reserve_sign_in(db: &Db, email: &str, ip: &str) -> AppResult<Reservation> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    for (column, key, limit, max) in [
        ("email", email, PER_ACCOUNT, ACCOUNT_MAX_DELAY_MS),
        ("ip", ip, PER_IP, IP_MAX_DELAY_MS),
    ] {
        lock_key(&mut tx, db.backend(), &format!("sign-in:{column}:{key}")).await?;
        let sql = format!(
            "SELECT COUNT(*), CAST(COALESCE(MAX(at), 0) AS BIGINT) FROM sign_in_failures
             WHERE {column} = $1 AND at > $2"
        );
        let (failures, last): (i64, i64) = sqlx::query_as(&sql)
            .bind(key)
            .bind(now - WINDOW_MS)
            .fetch_one(&mut *tx)
            .await?;
        let ready_at = last + delay_after(failures, limit, max);
        if failures >= limit && ready_at > now {
            return Err(AppError::Throttled(format!(
                "Too many sign-in attempts. Wait {} and try again.",
                wait_words(ready_at - now)
            )));
        }
    }
    sqlx::query("INSERT INTO sign_in_failures (email, ip, at) VALUES ($1, $2, $3)")
        .bind(email)
        .bind(ip)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    // Forget failures that can no longer count.
    sqlx::query("DELETE FROM sign_in_failures WHERE at <= $1")
        .bind(now - WINDOW_MS)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Reservation(()))
}

/// The attempt was right: it is no failure, and the account's earlier failures are cleared
/// (the address's stay).
pub async fn succeeded(db: &Db, reservation: Reservation, email: &str) -> AppResult<()> {
    // The reservation is one of the account's failures: this removes it too.
    let _ = reservation;
    sqlx::query("DELETE FROM sign_in_failures WHERE email = $1")
        .bind(email)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A limit on how often one actor may do something costly.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Names the action in the key and (for people) in the refusal.
    pub action: &'static str,
    pub per_window: i64,
    pub window_ms: i64,
}

/// Passkey prompts opened per address for "Sign in with a passkey": each keeps a
/// ceremony for five minutes before anyone is known.
pub const PASSKEY_PROMPTS: Limit = Limit {
    action: "passkey prompts",
    per_window: 30,
    window_ms: 60 * 1000,
};

/// Google sign-ins begun per address: each asks the provider for its configuration and
/// keeps a flow for ten minutes before anyone is known.
pub const GOOGLE_SIGN_INS: Limit = Limit {
    action: "Google sign-ins",
    per_window: 30,
    window_ms: 60 * 1000,
};

/// Password changes per user: each checks the current password with argon2.
pub const PASSWORD_CHANGES: Limit = Limit {
    action: "password changes",
    per_window: 5,
    window_ms: WINDOW_MS,
};
/// "Send a test alert" per user: each posts to every device's push service.
/// Checks of a password or an authenticator code to change how one signs in (turning
/// two-factor sign-in on or off, new recovery codes): each checks a password with argon2 or
/// a code a guesser would love to try.
pub const SIGN_IN_CHANGES: Limit = Limit {
    action: "changes to how you sign in",
    per_window: 10,
    window_ms: WINDOW_MS,
};

pub const TEST_ALERTS: Limit = Limit {
    action: "test alerts",
    per_window: 5,
    window_ms: 60 * 1000,
};
/// Invitations created per admin.
pub const INVITATIONS: Limit = Limit {
    action: "invitations",
    per_window: 30,
    window_ms: 60 * 60 * 1000,
};
/// Pictures uploaded per user (each up to 5 MB written to disk).
pub const UPLOADS: Limit = Limit {
    action: "picture uploads",
    per_window: 60,
    window_ms: 60 * 1000,
};

/// Counts one use of `limit` by `actor`, or refuses it when the window's uses are spent.
pub async fn take(db: &Db, limit: Limit, actor: &str) -> AppResult<()> {
    let now = now_ms();
    let key = format!("{}:{actor}", limit.action);
    let mut tx = db.begin().await?;
    lock_key(&mut tx, db.backend(), &key).await?;
    let (used, oldest): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(MIN(at), 0) AS BIGINT) FROM rate_limit_hits WHERE key = $1 AND at > $2",
    )
    .bind(&key)
    .bind(now - limit.window_ms)
    .fetch_one(&mut *tx)
    .await?;
    if used >= limit.per_window {
        return Err(AppError::Throttled(format!(
            "Too many {} for now. Wait {} and try again.",
            limit.action,
            wait_words(oldest + limit.window_ms - now)
        )));
    }
    sqlx::query("INSERT INTO rate_limit_hits (key, at) VALUES ($1, $2)")
        .bind(&key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM rate_limit_hits WHERE key = $1 AND at <= $2")
        .bind(&key)
        .bind(now - limit.window_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_after_the_free_attempts_and_is_capped() {
        assert_eq!(delay_after(0, 5, 60_000), 0);
        assert_eq!(delay_after(4, 5, 60_000), 0);
        assert_eq!(delay_after(5, 5, 60_000), 15_000);
        assert_eq!(delay_after(6, 5, 60_000), 30_000);
        assert_eq!(delay_after(7, 5, 60_000), 60_000);
        assert_eq!(delay_after(9, 5, 900_000), 240_000);
        assert_eq!(delay_after(10_000, 5, 60_000), 60_000);
    }

    #[test]
    fn waits_are_said_in_words() {
        assert_eq!(wait_words(1), "1 second");
        assert_eq!(wait_words(59_001), "60 seconds");
        assert_eq!(wait_words(15 * 60 * 1000), "15 minutes");
    }
}
