//! The audit log: sign-ins (and failed ones), sign-outs, password and two-factor changes,
//! invitations,
//! role and disable changes, carrier settings, number purchases and releases — who, what,
//! when, from which address and device. Each entry is written in the same transaction as
//! the change it records (or, for what changes nothing, like a failed sign-in, on its own).
//!
//! Append-only from the app's point of view: nothing here edits an entry; the one delete is
//! [`purge_old`], which drops entries past [`KEEP_MS`]. Users see the entries about their
//! account (or made by them); admins see all.

use sqlx::Any;

use crate::error::AppResult;
use crate::server::accounts::sessions::RequestMeta;
use crate::server::ids::UserId;
use crate::server::{crypto, now_ms, Db};
use crate::types::{AuditEntry, AUDIT_PAGE};

/// Entries are kept twelve months.
pub const KEEP_MS: i64 = 365 * 24 * 60 * 60 * 1000;
/// Longest detail kept (a failed sign-in's email is typed by anyone).
const DETAIL_MAX: usize = 200;
/// Longest user agent kept.
const USER_AGENT_MAX: usize = 400;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignedIn,
    SignInFailed,
    SignedOut,
    SessionEnded,
    PasswordChanged,
    InviteCreated,
    InviteRevoked,
    InviteAccepted,
    AdminCreated,
    RoleChanged,
    Disabled,
    Enabled,
    CarrierSettingsChanged,
    NumberBought,
    NumberReleased,
    RetentionChanged,
    TwoFactorOn,
    TwoFactorOff,
    RecoveryCodesRenewed,
    ExportRequested,
    DeletionRequested,
    DeletionCancelled,
    AccountErased,
    TwoFactorRequirement,
    PasskeyAdded,
    PasskeyRemoved,
    GoogleLinked,
    GoogleUnlinked,
    GoogleSignInSettingsChanged,
}

impl Action {
    const ALL: [Action; 29] = [
        Action::SignedIn,
        Action::SignInFailed,
        Action::SignedOut,
        Action::SessionEnded,
        Action::PasswordChanged,
        Action::InviteCreated,
        Action::InviteRevoked,
        Action::InviteAccepted,
        Action::AdminCreated,
        Action::RoleChanged,
        Action::Disabled,
        Action::Enabled,
        Action::CarrierSettingsChanged,
        Action::NumberBought,
        Action::NumberReleased,
        Action::RetentionChanged,
        Action::TwoFactorOn,
        Action::TwoFactorOff,
        Action::RecoveryCodesRenewed,
        Action::ExportRequested,
        Action::DeletionRequested,
        Action::DeletionCancelled,
        Action::AccountErased,
        Action::TwoFactorRequirement,
        Action::PasskeyAdded,
        Action::PasskeyRemoved,
        Action::GoogleLinked,
        Action::GoogleUnlinked,
        Action::GoogleSignInSettingsChanged,
    ];

    /// Its name in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignedIn => "signed_in",
            Action::SignInFailed => "sign_in_failed",
            Action::SignedOut => "signed_out",
            Action::SessionEnded => "session_ended",
            Action::PasswordChanged => "password_changed",
            Action::InviteCreated => "invite_created",
            Action::InviteRevoked => "invite_revoked",
            Action::InviteAccepted => "invite_accepted",
            Action::AdminCreated => "admin_created",
            Action::RoleChanged => "role_changed",
            Action::Disabled => "disabled",
            Action::Enabled => "enabled",
            Action::CarrierSettingsChanged => "carrier_settings_changed",
            Action::NumberBought => "number_bought",
            Action::NumberReleased => "number_released",
            Action::RetentionChanged => "retention_changed",
            Action::TwoFactorOn => "two_factor_on",
            Action::TwoFactorOff => "two_factor_off",
            Action::RecoveryCodesRenewed => "recovery_codes_renewed",
            Action::ExportRequested => "export_requested",
            Action::DeletionRequested => "deletion_requested",
            Action::DeletionCancelled => "deletion_cancelled",
            Action::AccountErased => "account_erased",
            Action::TwoFactorRequirement => "two_factor_requirement",
            Action::PasskeyAdded => "passkey_added",
            Action::PasskeyRemoved => "passkey_removed",
            Action::GoogleLinked => "google_linked",
            Action::GoogleUnlinked => "google_unlinked",
            Action::GoogleSignInSettingsChanged => "google_sign_in_settings_changed",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Its name as people read it.
    pub fn label(self) -> &'static str {
        match self {
            Action::SignedIn => "Signed in",
            Action::SignInFailed => "Sign-in failed",
            Action::SignedOut => "Signed out",
            Action::SessionEnded => "Device signed out",
            Action::PasswordChanged => "Password changed",
            Action::InviteCreated => "Invitation created",
            Action::InviteRevoked => "Invitation revoked",
            Action::InviteAccepted => "Invitation accepted",
            Action::AdminCreated => "First admin created",
            Action::RoleChanged => "Role changed",
            Action::Disabled => "Account disabled",
            Action::Enabled => "Account enabled",
            Action::CarrierSettingsChanged => "Carrier settings changed",
            Action::NumberBought => "Number bought",
            Action::NumberReleased => "Number released",
            Action::RetentionChanged => "Retention changed",
            Action::TwoFactorOn => "Two-factor sign-in turned on",
            Action::TwoFactorOff => "Two-factor sign-in turned off",
            Action::RecoveryCodesRenewed => "New recovery codes",
            Action::ExportRequested => "Data export requested",
            Action::DeletionRequested => "Account deletion requested",
            Action::DeletionCancelled => "Account deletion cancelled",
            Action::AccountErased => "Account erased",
            Action::TwoFactorRequirement => "Two-factor requirement changed",
            Action::PasskeyAdded => "Passkey added",
            Action::PasskeyRemoved => "Passkey removed",
            Action::GoogleLinked => "Google account linked",
            Action::GoogleUnlinked => "Google account unlinked",
            Action::GoogleSignInSettingsChanged => "Google sign-in settings changed",
        }
    }
}

/// Who acts, and from where: what every entry records beside the action.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// `None`: nobody signed in (a failed sign-in, a first admin being created).
    pub user: Option<UserId>,
    pub meta: RequestMeta,
}

impl Actor {
    /// Someone signed in (or just signing in), from the request `meta` describes.
    pub fn user(user: &UserId, meta: &RequestMeta) -> Actor {
        Actor {
            user: Some(user.clone()),
            meta: meta.clone(),
        }
    }

    /// The acting user's id (`None` for nobody signed in).
    pub fn user_id(&self) -> Option<&UserId> {
        self.user.as_ref()
    }
}

fn cut(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Records that `by` did `action` to `subject`'s account, with `executor`: the transaction
/// of the change it records, or the pool for what changes nothing else.
pub async fn record<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    by: &Actor,
    action: Action,
    subject: Option<&UserId>,
    detail: &str,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor_id, subject_id, action, detail, ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(crypto::new_id())
    .bind(now_ms())
    .bind(by.user_id())
    .bind(subject)
    .bind(action.as_str())
    .bind(cut(detail, DETAIL_MAX))
    .bind(&by.meta.ip)
    .bind(cut(&by.meta.user_agent, USER_AGENT_MAX))
    .execute(executor)
    .await?;
    Ok(())
}

/// Whose entries a list shows.
pub enum Scope<'a> {
    /// Entries about this user's account or made by them.
    Mine(&'a UserId),
    /// Every entry (admins).
    All,
}

/// The newest [`AUDIT_PAGE`] entries of `scope` before `before` (unix ms; `None`: from now).
pub async fn list(db: &Db, scope: Scope<'_>, before: Option<i64>) -> AppResult<Vec<AuditEntry>> {
    let before = before.unwrap_or(i64::MAX);
    let select = "SELECT a.at, a.action, a.detail, a.ip, a.user_agent,
                         actor.email, subject.email, a.actor_id, a.subject_id
                  FROM audit_log a
                  LEFT JOIN users actor ON actor.id = a.actor_id
                  LEFT JOIN users subject ON subject.id = a.subject_id";
    let rows: Vec<AuditRow> = match scope {
        Scope::Mine(user_id) => {
            let sql = format!(
                "{select} WHERE (a.subject_id = $1 OR a.actor_id = $1) AND a.at < $2
                 ORDER BY a.at DESC, a.id DESC LIMIT $3"
            );
            sqlx::query_as(&sql)
                .bind(user_id)
                .bind(before)
                .bind(AUDIT_PAGE)
                .fetch_all(db.pool())
                .await?
        }
        Scope::All => {
            let sql = format!("{select} WHERE a.at < $1 ORDER BY a.at DESC, a.id DESC LIMIT $2");
            sqlx::query_as(&sql)
                .bind(before)
                .bind(AUDIT_PAGE)
                .fetch_all(db.pool())
                .await?
        }
    };
    Ok(rows.into_iter().map(entry_from).collect())
}

type AuditRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn entry_from(row: AuditRow) -> AuditEntry {
    let (at, action, detail, ip, user_agent, actor, subject, actor_id, subject_id) = row;
    // An account erased since keeps its entries as ids only.
    let name = |email: Option<String>, id: Option<String>, none: &str| match (email, id) {
        (Some(email), _) => email,
        (None, Some(_)) => "a deleted account".to_string(),
        (None, None) => none.to_string(),
    };
    AuditEntry {
        at,
        action: Action::parse(&action)
            .map(Action::label)
            .unwrap_or("Other")
            .to_string(),
        actor: name(actor, actor_id, "someone not signed in"),
        subject: name(subject, subject_id, ""),
        detail,
        ip,
        device: crate::device::describe(&user_agent),
    }
}

/// Drops entries older than [`KEEP_MS`], a bounded batch at a time (no long write lock);
/// answers how many went.
pub async fn purge_old(db: &Db) -> AppResult<u64> {
    let cutoff = now_ms() - KEEP_MS;
    let mut purged = 0;
    loop {
        let done = sqlx::query(
            "DELETE FROM audit_log WHERE id IN
                 (SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT 1000)",
        )
        .bind(cutoff)
        .execute(db.pool())
        .await?;
        purged += done.rows_affected();
        if done.rows_affected() < 1000 {
            return Ok(purged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_from_its_name() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            assert!(!action.label().is_empty());
        }
        assert_eq!(Action::parse("dropped_tables"), None);
    }

    #[test]
    fn long_details_are_cut_on_a_character_boundary() {
        assert_eq!(cut("ééé", 2), "éé");
        assert_eq!(cut("ab", 5), "ab");
    }
}
