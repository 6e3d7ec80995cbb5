//! Invitations: the only way in besides the first admin's setup link.
//!
//! The link token is `{id}.{HMAC(secret, id)}`: storage holds nothing that opens an
//! invitation, yet the admin can copy a pending link again at any time.

use super::users::{self, NewAccount};
use crate::error::{AppError, AppResult};
use crate::server::audit::{self, Action, Actor};
use crate::server::ids::{InviteId, UserId};
use crate::server::{crypto, now_ms, AppState, Db};
use crate::types::{InviteInfo, InviteLookup, InviteStatus, Role};

pub const DEFAULT_DAYS: i64 = 7;
pub const MAX_DAYS: i64 = 90;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn token_for(secret: &[u8; 32], id: &InviteId) -> String {
    format!("{id}.{}", crypto::sign(secret, &format!("invite:{id}")))
}

pub fn link_for(state: &AppState, id: &InviteId) -> String {
    format!(
        "{}/invite/{}",
        state.settings.base_url(),
        token_for(&state.secret, id)
    )
}

/// The invitation id a token names, if its signature holds.
fn id_from_token(secret: &[u8; 32], token: &str) -> Option<InviteId> {
    let (id, signature) = token.split_once('.')?;
    crypto::verify_signature(secret, &format!("invite:{id}"), signature).then(|| InviteId::new(id))
}

fn status(
    now: i64,
    expires_at: i64,
    accepted_at: Option<i64>,
    revoked_at: Option<i64>,
) -> InviteStatus {
    if accepted_at.is_some() {
        InviteStatus::Accepted
    } else if revoked_at.is_some() {
        InviteStatus::Revoked
    } else if expires_at <= now {
        InviteStatus::Expired
    } else {
        InviteStatus::Pending
    }
}

pub async fn create(
    state: &AppState,
    by: &Actor,
    created_by: &UserId,
    email: &str,
    role: Role,
    days: i64,
) -> AppResult<InviteInfo> {
    let email = match email.trim() {
        "" => None,
        e => Some(crate::validate::email(e).map_err(AppError::Invalid)?),
    };
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AppError::invalid(format!(
            "Choose an expiry between 1 and {MAX_DAYS} days."
        )));
    }
    let id = InviteId::new(crypto::new_id());
    let now = now_ms();
    let expires_at = now + days * DAY_MS;
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO invitations (id, email, role, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&email)
    .bind(role.as_str())
    .bind(created_by)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let detail = format!(
        "{} for {}, {days} days",
        role.as_str(),
        email.as_deref().unwrap_or("anyone with the link")
    );
    audit::record(&mut *tx, by, Action::InviteCreated, None, &detail).await?;
    tx.commit().await?;
    Ok(InviteInfo {
        link: Some(link_for(state, &id)),
        id: id.into_string(),
        email,
        role,
        status: InviteStatus::Pending,
        created_at: now,
        expires_at,
        accepted_by: None,
    })
}

pub async fn list(state: &AppState) -> AppResult<Vec<InviteInfo>> {
    type Row = (
        InviteId,
        Option<String>,
        String,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT i.id, i.email, i.role, i.created_at, i.expires_at, i.accepted_at, i.revoked_at, u.email
         FROM invitations i LEFT JOIN users u ON u.id = i.accepted_user_id
         ORDER BY i.created_at DESC",
    )
    .fetch_all(state.db.pool())
    .await?;
    let now = now_ms();
    Ok(rows
        .into_iter()
        .map(
            |(id, email, role, created_at, expires_at, accepted_at, revoked_at, accepted_by)| {
                let status = status(now, expires_at, accepted_at, revoked_at);
                InviteInfo {
                    link: (status == InviteStatus::Pending).then(|| link_for(state, &id)),
                    id: id.into_string(),
                    email,
                    role: Role::parse(&role).unwrap_or(Role::User),
                    status,
                    created_at,
                    expires_at,
                    accepted_by,
                }
            },
        )
        .collect())
}

/// Revokes a pending invitation. Accepted ones stay accepted.
pub async fn revoke(db: &Db, by: &Actor, id: &InviteId) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM invitations WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
        return Err(match exists {
            None => AppError::not_found("That invitation"),
            Some(_) => AppError::invalid("That invitation was already accepted or revoked."),
        });
    }
    let (email,): (Option<String>,) = sqlx::query_as("SELECT email FROM invitations WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let detail = format!("for {}", email.as_deref().unwrap_or("anyone with the link"));
    audit::record(&mut *tx, by, Action::InviteRevoked, None, &detail).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn lookup(state: &AppState, token: &str) -> AppResult<InviteLookup> {
    let Some(id) = id_from_token(&state.secret, token) else {
        return Ok(InviteLookup::Unknown);
    };
    let row: Option<(Option<String>, String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT email, role, expires_at, accepted_at, revoked_at FROM invitations WHERE id = $1",
    )
    .bind(&id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((email, role, expires_at, accepted_at, revoked_at)) = row else {
        return Ok(InviteLookup::Unknown);
    };
    Ok(
        match status(now_ms(), expires_at, accepted_at, revoked_at) {
            InviteStatus::Pending => InviteLookup::Valid {
                email,
                role: Role::parse(&role).unwrap_or(Role::User),
            },
            InviteStatus::Accepted => InviteLookup::Accepted,
            InviteStatus::Expired => InviteLookup::Expired,
            InviteStatus::Revoked => InviteLookup::Revoked,
        },
    )
}

/// The invitation behind `token` while it can be accepted: its id, the email it names (if
/// any) and the role it gives; otherwise why not, in words.
async fn acceptable(state: &AppState, token: &str) -> AppResult<(InviteId, Option<String>, Role)> {
    let (invited_email, role) = match lookup(state, token).await? {
        InviteLookup::Valid { email, role } => (email, role),
        InviteLookup::Accepted => {
            return Err(AppError::invalid("This invitation has already been used."))
        }
        InviteLookup::Expired => {
            return Err(AppError::invalid(
                "This invitation has expired. Ask for a new one.",
            ))
        }
        InviteLookup::Revoked => return Err(AppError::invalid("This invitation was revoked.")),
        InviteLookup::Unknown => return Err(AppError::not_found("That invitation")),
    };
    let id = id_from_token(&state.secret, token)
        .ok_or_else(|| AppError::not_found("That invitation"))?;
    Ok((id, invited_email, role))
}

/// Creates the invitee's account and marks the invitation used, atomically: a second use,
/// or one racing the first, finds it no longer pending. Returns the new user's id.
pub async fn accept(
    state: &AppState,
    by: &Actor,
    token: &str,
    email: &str,
    display_name: &str,
    password: &str,
) -> AppResult<UserId> {
    let (id, invited_email, role) = acceptable(state, token).await?;
    // An invitation addressed to an email can only make an account for that email.
    let email = invited_email.as_deref().unwrap_or(email);
    let account = NewAccount::prepare(email, display_name, password).await?;
    claim(state, by, &id, &account, role).await
}

/// [`accept`] for someone whose email their Google account vouches for: no password (they
/// sign in with Google, and may set one in Settings). An invitation naming another email
/// is refused.
pub async fn accept_verified(
    state: &AppState,
    by: &Actor,
    token: &str,
    verified_email: &str,
    display_name: &str,
) -> AppResult<UserId> {
    let (id, invited_email, role) = acceptable(state, token).await?;
    let account = NewAccount::without_password(verified_email, display_name)?;
    if invited_email.is_some_and(|invited| invited != account.email) {
        return Err(AppError::invalid(
            "This invitation is for another email than your Google account's.",
        ));
    }
    claim(state, by, &id, &account, role).await
}

/// The pending invitation that names `email`, if any (the newest): who has one may sign in
/// with Google before having an account. Answers its token.
pub async fn pending_for_email(state: &AppState, email: &str) -> AppResult<Option<String>> {
    let row: Option<(InviteId,)> = sqlx::query_as(
        "SELECT id FROM invitations
         WHERE email = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(email)
    .bind(now_ms())
    .fetch_optional(state.db.pool())
    .await?;
    Ok(row.map(|(id,)| token_for(&state.secret, &id)))
}

async fn claim(
    state: &AppState,
    by: &Actor,
    id: &InviteId,
    account: &NewAccount,
    role: Role,
) -> AppResult<UserId> {
    let mut tx = state.db.begin().await?;
    let user_id = users::insert_user(
        &mut tx,
        &account.email,
        &account.display_name,
        &account.password_hash,
        role,
    )
    .await?;
    let now = now_ms();
    let claimed = sqlx::query(
        "UPDATE invitations SET accepted_at = $1, accepted_user_id = $2
         WHERE id = $3 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(&user_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() != 1 {
        // Dropping the transaction rolls back the new user too.
        return Err(AppError::invalid("This invitation is no longer valid."));
    }
    let detail = format!("as {}", account.email);
    audit::record(
        &mut *tx,
        by,
        Action::InviteAccepted,
        Some(&user_id),
        &detail,
    )
    .await?;
    tx.commit().await?;
    Ok(user_id)
}
