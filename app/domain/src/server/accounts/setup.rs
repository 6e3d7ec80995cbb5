//! The first admin. While no admin exists, each start prints a one-time setup link
//! (single use, valid one hour). Once an admin exists, every setup link is void.

use super::users::{self, NewAccount};
use crate::error::{AppError, AppResult};
use crate::server::audit::{self, Action, Actor};
use crate::server::ids::UserId;
use crate::server::{crypto, now_ms, AppState, Db};
use crate::types::{Role, SetupLookup};

pub const VALID_MS: i64 = 60 * 60 * 1000;

/// Creates a setup token and returns the link to print, or `None` if an admin exists.
pub async fn issue_link_if_needed(db: &Db, base_url: &str) -> AppResult<Option<String>> {
    if users::admin_exists(db).await? {
        return Ok(None);
    }
    let token = crypto::random_token();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(crypto::hash_token(&token))
    .bind(now)
    .bind(now + VALID_MS)
    .execute(db.pool())
    .await?;
    Ok(Some(format!("{base_url}/setup/{token}")))
}

pub async fn lookup(db: &Db, token: &str) -> AppResult<SetupLookup> {
    if users::admin_exists(db).await? {
        return Ok(SetupLookup::AdminExists);
    }
    let row: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT expires_at, used_at FROM setup_tokens WHERE token_hash = $1")
            .bind(crypto::hash_token(token))
            .fetch_optional(db.pool())
            .await?;
    Ok(match row {
        None => SetupLookup::Unknown,
        Some((_, Some(_))) => SetupLookup::Used,
        Some((expires_at, None)) if expires_at <= now_ms() => SetupLookup::Expired,
        Some(_) => SetupLookup::Valid,
    })
}

pub fn lookup_error(found: SetupLookup) -> Option<AppError> {
    match found {
        SetupLookup::Valid => None,
        SetupLookup::Used => Some(AppError::invalid("This setup link has already been used.")),
        SetupLookup::Expired => Some(AppError::invalid(
            "This setup link has expired. Restart Switchboard to print a new one.",
        )),
        SetupLookup::Unknown => Some(AppError::not_found("That setup link")),
        SetupLookup::AdminExists => Some(AppError::invalid(
            "Switchboard is already set up. Sign in instead.",
        )),
    }
}

/// Creates the first admin with a setup token; returns their id.
pub async fn complete(
    state: &AppState,
    by: &Actor,
    token: &str,
    email: &str,
    display_name: &str,
    password: &str,
) -> AppResult<UserId> {
    if let Some(err) = lookup_error(lookup(&state.db, token).await?) {
        return Err(err);
    }
    let account = NewAccount::prepare(email, display_name, password).await?;
    let mut tx = state.db.begin().await?;
    let now = now_ms();
    let claimed = sqlx::query(
        "UPDATE setup_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(crypto::hash_token(token))
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(AppError::invalid("This setup link has already been used."));
    }
    let user_id = users::insert_user(
        &mut tx,
        &account.email,
        &account.display_name,
        &account.password_hash,
        Role::Admin,
    )
    .await?;
    let detail = format!("with a setup link, as {}", account.email);
    audit::record(&mut *tx, by, Action::AdminCreated, Some(&user_id), &detail).await?;
    tx.commit().await?;
    Ok(user_id)
}

/// The CLI's way in: creates an admin directly (no link).
pub async fn create_admin(
    db: &Db,
    email: &str,
    display_name: &str,
    password: &str,
) -> AppResult<UserId> {
    let account = NewAccount::prepare(email, display_name, password).await?;
    let mut tx = db.begin().await?;
    let user_id = users::insert_user(
        &mut tx,
        &account.email,
        &account.display_name,
        &account.password_hash,
        Role::Admin,
    )
    .await?;
    tx.commit().await?;
    Ok(user_id)
}
