//! People, sessions, invitations and first-admin setup, as pages see them.

use serde::{Deserialize, Serialize};

/// Where a fresh session lands (the server's sign-in paths and the pages agree on it).
pub const HOME: &str = "/inbox";

/// Where a sign-in with two-factor sign-in on asks for the code.
pub const CODE_PAGE: &str = "/signin/code";

crate::types::answers! {
    pub enum Role {
        #[serde(rename = "admin")]
        Admin,
        #[serde(rename = "user")]
        User,
    }

    /// The signed-in person, as the shell shows them.
    pub struct CurrentUser {
        pub id: String,
        pub email: String,
        pub display_name: String,
        pub role: Role,
        /// An admin requires two-factor sign-in and this person hasn't set it up: only
        /// Settings is open to them (the server redirects page loads; the app's own
        /// navigation goes back to Settings too).
        pub must_set_up_two_factor: bool,
    }

    /// How long texts and calls are kept, in days (0: forever for the instance and what
    /// applies; "the instance's" for the user's own).
    pub struct RetentionView {
        pub instance_days: i64,
        pub own_days: i64,
        pub kept_days: i64,
    }

    /// Settings → Two-factor sign-in.
    pub struct TwoFactorStatus {
        /// A second factor is set up (the app, a passkey, or both).
        pub on: bool,
        /// The authenticator app is set up.
        pub app: bool,
        pub passkeys: i64,
        pub recovery_codes_left: i64,
    }

    /// Google sign-in as Admin → Sign-in shows it (the secret is never sent back).
    pub struct GoogleSettings {
        pub on: bool,
        pub client_id: String,
        /// What to register as the authorized redirect URI in Google's console.
        pub redirect_uri: String,
        pub issuer: String,
    }

    /// What the sign-in and invitation pages offer of Google sign-in.
    pub struct GoogleOffer {
        pub available: bool,
        /// Why the last Google sign-in came back refused, in words (from its code).
        pub refusal: Option<String>,
    }

    /// The user's Google link, as Settings shows it.
    pub struct GoogleLink {
        /// An admin has set Google sign-in up.
        pub available: bool,
        pub linked_email: Option<String>,
    }

    /// One of the user's passkeys, as Settings lists it.
    pub struct PasskeyInfo {
        pub id: String,
        pub name: String,
        pub created_at: i64,
        pub last_used_at: Option<i64>,
    }

    /// What the browser's passkey prompt needs (`options`: WebAuthn's JSON, binary fields
    /// in base64url), and the token that brings its answer back to the same ceremony.
    pub struct PasskeyOptions {
        pub token: String,
        pub options: String,
    }

    /// What an authenticator app needs: the secret as a QR code (an SVG image), as an
    /// `otpauth://` link, and as text to type.
    pub struct TwoFactorSetup {
        pub secret: String,
        pub url: String,
        pub qr_svg: String,
    }

    /// One audit log entry, as Settings → Account activity and Admin → Audit log show it.
    pub struct AuditEntry {
        pub at: i64,
        /// What happened, in plain words ("Signed in", "Role changed").
        pub action: String,
        /// Who did it: an email, or "someone not signed in".
        pub actor: String,
        /// Whose account it concerns (empty when none).
        pub subject: String,
        pub detail: String,
        pub ip: String,
        pub device: String,
    }

    /// One signed-in device, for Settings → Sessions.
    pub struct SessionInfo {
        pub id: String,
        pub device: String,
        pub ip: String,
        pub created_at: i64,
        pub last_seen_at: i64,
        pub current: bool,
    }

    pub enum InviteStatus {
        #[serde(rename = "pending")]
        Pending,
        #[serde(rename = "accepted")]
        Accepted,
        #[serde(rename = "expired")]
        Expired,
        #[serde(rename = "revoked")]
        Revoked,
    }

    /// An invitation as the admin sees it.
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

    /// What opening a first-admin setup link finds.
    pub enum SetupLookup {
        Valid,
        Used,
        Expired,
        Unknown,
        /// An admin exists already; setup links are void.
        AdminExists,
    }

    /// A user as the admin sees them.
    pub struct UserInfo {
        pub id: String,
        pub email: String,
        pub display_name: String,
        pub role: Role,
        pub disabled: bool,
        pub created_at: i64,
        pub is_self: bool,
        pub number_quota: i64,
        /// Being deleted: when it will be erased.
        pub erase_at: Option<i64>,
    }
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

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
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

/// What opening an invitation link finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteLookup {
    Valid { email: Option<String>, role: Role },
    Accepted,
    Expired,
    Revoked,
    Unknown,
}

impl crate::types::tagged::Tagged for InviteLookup {
    fn from_variant(variant: &str, payload: Option<crate::types::tagged::Value>) -> Option<Self> {
        use crate::types::tagged::field;
        Some(match variant {
            "Valid" => InviteLookup::Valid {
                email: field(&payload, "email")?,
                role: Role::parse(&field(&payload, "role")??)?,
            },
            "Accepted" => InviteLookup::Accepted,
            "Expired" => InviteLookup::Expired,
            "Revoked" => InviteLookup::Revoked,
            "Unknown" => InviteLookup::Unknown,
            _ => return None,
        })
    }
}

crate::types::tagged::deserialize_tagged!(InviteLookup);
impl crate::types::Answer for InviteLookup {}

/// Most audit entries one page of the log shows.
pub const AUDIT_PAGE: i64 = 100;
