//! People: creation, sign-in, password changes, and what admins may change about them.

use sqlx::{Any, Transaction};

use super::sessions::RequestMeta;
use crate::error::{AppError, AppResult};
use crate::server::audit::{self, Action, Actor};
use crate::server::ids::{SessionId, UserId};
use crate::server::{crypto, now_ms, throttle, AppState, Db};
use crate::types::{Role, UserInfo};
use crate::validate;

/// Inserts a user inside `tx`. The email must already be validated.
pub async fn insert_user(
    tx: &mut Transaction<'_, Any>,
    email: &str,
    display_name: &str,
    password_hash: &str,
    role: Role,
) -> AppResult<UserId> {
    let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(&mut **tx)
        .await?;
    if taken.is_some() {
        return Err(AppError::invalid(
            "An account with this email already exists.",
        ));
    }
    let id = UserId::new(crypto::new_id());
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, role, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(email)
    .bind(display_name)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Validated fields for a new account.
pub struct NewAccount {
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
}

impl NewAccount {
    /// Checks the fields and hashes the password (before any transaction opens).
    pub async fn prepare(email: &str, display_name: &str, password: &str) -> AppResult<NewAccount> {
        let email = validate::email(email).map_err(AppError::Invalid)?;
        let display_name = validate::display_name(display_name).map_err(AppError::Invalid)?;
        validate::password(password).map_err(AppError::Invalid)?;
        let password_hash = crypto::hash_password(password.to_string()).await?;
        Ok(NewAccount {
            email,
            display_name,
            password_hash,
        })
    }

    /// An account that signs in with Google (or a passkey) and has no password yet: its
    /// hash is empty, which no password matches.
    pub fn without_password(email: &str, display_name: &str) -> AppResult<NewAccount> {
        let email = validate::email(email).map_err(AppError::Invalid)?;
        let display_name = validate::display_name(display_name).map_err(AppError::Invalid)?;
        Ok(NewAccount {
            email,
            display_name,
            password_hash: String::new(),
        })
    }
}

/// What check_password says to someone who has no password to check.
const NO_PASSWORD_YET: &str =
    "You have no password yet (you signed up with Google). Set one under Settings → Password first.";

/// Whether any enabled admin exists.
pub async fn admin_exists(db: &Db) -> AppResult<bool> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL")
            .fetch_one(db.pool())
            .await?;
    Ok(n > 0)
}

const WRONG_CREDENTIALS: &str = "Email or password is incorrect.";

/// What a right password leads to.
pub enum SignedIn {
    /// The password was all it takes: a session may start for this user.
    Password(UserId),
    /// Two-factor sign-in is on: a challenge for the code (its cookie token).
    NeedsCode(String),
}

/// Checks credentials under the throttle and starts a session (or, with two-factor sign-in
/// on, a challenge for the code). Unknown emails and wrong passwords get the same words and
/// take the same time.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    meta: &RequestMeta,
) -> AppResult<SignedIn> {
    let email_key = email.trim().to_lowercase();
    if email_key.is_empty() || password.is_empty() {
        return Err(AppError::invalid("Enter your email and password."));
    }
    if password.len() > validate::PASSWORD_MAX * 4 {
        return Err(AppError::invalid(WRONG_CREDENTIALS));
    }
    let attempt = throttle::reserve_sign_in(&state.db, &email_key, &meta.ip).await?;
    let row: Option<(UserId, String, Option<i64>)> =
        sqlx::query_as("SELECT id, password_hash, disabled_at FROM users WHERE email = $1")
            .bind(&email_key)
            .fetch_optional(state.db.pool())
            .await?;
    let verified = match &row {
        // No password (a Google sign-up): nothing matches, in a real check's time.
        Some((_, hash, _)) if hash.is_empty() => {
            crypto::verify_against_dummy(password.to_string()).await?;
            false
        }
        Some((_, hash, _)) => crypto::verify_password(password.to_string(), hash.clone()).await?,
        None => {
            crypto::verify_against_dummy(password.to_string()).await?;
            false
        }
    };
    let nobody = Actor {
        user: None,
        meta: meta.clone(),
    };
    // A wrong guess leaves its reservation standing as the failure it is.
    let Some((user_id, stored_hash, disabled_at)) = row.as_ref().filter(|_| verified) else {
        // The account's owner sees the failure; an unknown email is for admins only.
        let subject = row.as_ref().map(|(id, _, _)| id);
        let detail = match subject {
            Some(_) => "wrong password".to_string(),
            None => format!("no account for {email_key}"),
        };
        audit::record(
            state.db.pool(),
            &nobody,
            Action::SignInFailed,
            subject,
            &detail,
        )
        .await?;
        return Err(AppError::invalid(WRONG_CREDENTIALS));
    };
    throttle::succeeded(&state.db, attempt, &email_key).await?;
    if disabled_at.is_some() {
        let detail = "the account is disabled";
        audit::record(
            state.db.pool(),
            &nobody,
            Action::SignInFailed,
            Some(user_id),
            detail,
        )
        .await?;
        return Err(AppError::invalid(
            "This account has been disabled. Ask an admin of this Switchboard.",
        ));
    }
    renew_if_outdated(&state.db, user_id, stored_hash, password).await?;
    if super::two_factor::is_on(&state.db, user_id).await? {
        return Ok(SignedIn::NeedsCode(
            super::two_factor::challenge(&state.db, user_id).await?,
        ));
    }
    Ok(SignedIn::Password(user_id.clone()))
}

/// The password is proven: a hash made at another cost than today's (an older default, or
/// a test run's) is made again at today's. If it changed meanwhile, the newer one stands.
async fn renew_if_outdated(
    db: &Db,
    user_id: &UserId,
    stored_hash: &str,
    password: &str,
) -> AppResult<()> {
    if !crypto::is_outdated(stored_hash) {
        return Ok(());
    }
    let renewed = crypto::hash_password(password.to_string()).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
        .bind(renewed)
        .bind(user_id)
        .bind(stored_hash)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A password change as the form gives it (named, so the three can't be swapped).
pub struct PasswordChange<'a> {
    pub current: &'a str,
    pub new: &'a str,
    pub confirm: &'a str,
}

/// Changes the password after checking the current one; ends the user's other sessions.
pub async fn change_password(
    db: &Db,
    by: &Actor,
    user_id: &UserId,
    keep_session: &SessionId,
    change: PasswordChange<'_>,
) -> AppResult<()> {
    let PasswordChange {
        current,
        new,
        confirm,
    } = change;
    if new != confirm {
        return Err(AppError::invalid("The new passwords don't match."));
    }
    validate::password(new).map_err(AppError::Invalid)?;
    if current.len() > validate::PASSWORD_MAX * 4 {
        return Err(AppError::invalid("Your current password is incorrect."));
    }
    // Each try checks a password with argon2: a stolen session must not become a way to
    // guess the password (or to burn the server's CPU).
    throttle::take(db, throttle::PASSWORD_CHANGES, user_id.as_str()).await?;
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(db.pool())
        .await?;
    // Someone who signed up with Google sets a first password without a current one.
    if !hash.is_empty() && !crypto::verify_password(current.to_string(), hash).await? {
        return Err(AppError::invalid("Your current password is incorrect."));
    }
    let new_hash = crypto::hash_password(new.to_string()).await?;
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(new_hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(keep_session)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut *tx, by, Action::PasswordChanged, Some(user_id), "").await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list_users(db: &Db, viewer_id: &UserId) -> AppResult<Vec<UserInfo>> {
    type Row = (
        String,
        String,
        String,
        String,
        Option<i64>,
        i64,
        i64,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, email, display_name, role, disabled_at, created_at, number_quota, erase_at
         FROM users ORDER BY created_at",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, email, display_name, role, disabled_at, created_at, number_quota, erase_at)| {
                UserInfo {
                    is_self: id == viewer_id.as_str(),
                    id,
                    email,
                    display_name,
                    role: Role::parse(&role).unwrap_or(Role::User),
                    disabled: disabled_at.is_some(),
                    created_at,
                    number_quota,
                    erase_at,
                }
            },
        )
        .collect())
}

/// Checks the user's password again (throttled) before a change to how they sign in or
/// the account's deletion.
pub async fn check_password(db: &Db, user_id: &UserId, password: &str) -> AppResult<()> {
    crate::server::throttle::take(
        db,
        crate::server::throttle::SIGN_IN_CHANGES,
        user_id.as_str(),
    )
    .await?;
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(db.pool())
        .await?;
    if hash.is_empty() {
        return Err(AppError::invalid(NO_PASSWORD_YET));
    }
    if password.len() > crate::validate::PASSWORD_MAX * 4
        || !crypto::verify_password(password.to_string(), hash).await?
    {
        return Err(AppError::invalid("Your password is incorrect."));
    }
    Ok(())
}

pub(crate) const LAST_ADMIN: &str =
    "This is the last active admin. Make someone else an admin first.";

/// Whether taking `user_id` out of the active admins would leave none.
/// Whether `user_id` is the one admin left who can act (not disabled, not being deleted).
pub(crate) async fn is_last_active_admin(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
) -> AppResult<bool> {
    let (others,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL
         AND erase_at IS NULL AND id <> $1",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    let (target_is_admin,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM users WHERE id = $1 AND role = 'admin' AND disabled_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(target_is_admin > 0 && others == 0)
}

async fn user_exists(tx: &mut Transaction<'_, Any>, user_id: &UserId) -> AppResult<()> {
    let found: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| AppError::not_found("That user"))
}

pub async fn set_role(db: &Db, by: &Actor, user_id: &UserId, role: Role) -> AppResult<()> {
    let mut tx = db.begin().await?;
    user_exists(&mut tx, user_id).await?;
    if role == Role::User && is_last_active_admin(&mut tx, user_id).await? {
        return Err(AppError::invalid(LAST_ADMIN));
    }
    sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
        .bind(role.as_str())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let detail = format!("now {}", role.as_str());
    audit::record(&mut *tx, by, Action::RoleChanged, Some(user_id), &detail).await?;
    tx.commit().await?;
    Ok(())
}

/// Disabling ends all of the user's sessions at once.
pub async fn set_disabled(db: &Db, by: &Actor, user_id: &UserId, disabled: bool) -> AppResult<()> {
    let mut tx = db.begin().await?;
    user_exists(&mut tx, user_id).await?;
    if disabled {
        if is_last_active_admin(&mut tx, user_id).await? {
            return Err(AppError::invalid(LAST_ADMIN));
        }
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(now_ms())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    let action = if disabled {
        Action::Disabled
    } else {
        Action::Enabled
    };
    audit::record(&mut *tx, by, action, Some(user_id), "").await?;
    tx.commit().await?;
    Ok(())
}
