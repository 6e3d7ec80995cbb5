//! Types shared by the server and the browser: what server functions return.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::User => "User",
        }
    }
}

/// The signed-in person, as the shell shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// One signed-in device, for Settings → Sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub current: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InviteStatus {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

impl InviteStatus {
    pub fn label(self) -> &'static str {
        match self {
            InviteStatus::Pending => "Pending",
            InviteStatus::Accepted => "Accepted",
            InviteStatus::Expired => "Expired",
            InviteStatus::Revoked => "Revoked",
        }
    }
}

/// An invitation as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub id: String,
    pub email: Option<String>,
    pub role: Role,
    pub status: InviteStatus,
    /// The link to hand to the invitee (only while pending).
    pub link: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_by: Option<String>,
}

/// What opening an invitation link finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteLookup {
    Valid { email: Option<String>, role: Role },
    Accepted,
    Expired,
    Revoked,
    Unknown,
}

/// What opening a first-admin setup link finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetupLookup {
    Valid,
    Used,
    Expired,
    Unknown,
    /// An admin exists already; setup links are void.
    AdminExists,
}

/// A user as the admin sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    pub is_self: bool,
}

/// Formats a unix-milliseconds instant the same way on server and browser (so hydration
/// matches): `2026-11-21 21:57 UTC`.
pub fn format_instant(ms: i64) -> String {
    use time::macros::format_description;
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "—".into())
}
