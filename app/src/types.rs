//! Types shared by the server and the browser: what server functions return.

use serde::{Deserialize, Serialize};

// Every answer type derives serde's traits (the server encodes answers, and decodes its
// arguments, with serde) and miniserde's `Deserialize` (the browser decodes answers with
// miniserde: serde_json's per-type decoders cost the browser bundle ~15 KB). Both derives
// read `#[serde(rename = "…")]`; miniserde ignores container attributes such as
// `rename_all`, so names are given per variant or field.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub enum Role {
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "user")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub current: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
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

impl crate::tagged::Tagged for InviteLookup {
    fn from_variant(variant: &str, payload: Option<crate::tagged::Value>) -> Option<Self> {
        use crate::tagged::field;
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

crate::tagged::deserialize_tagged!(InviteLookup);

/// What opening a first-admin setup link finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub enum SetupLookup {
    Valid,
    Used,
    Expired,
    Unknown,
    /// An admin exists already; setup links are void.
    AdminExists,
}

/// A user as the admin sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    pub is_self: bool,
    pub number_quota: i64,
}

/// Formats a unix-milliseconds instant the same way on server and browser (so hydration
/// matches): `2026-11-21 21:57 UTC`.
///
/// The date comes from Howard Hinnant's `civil_from_days` (exact for the proleptic
/// Gregorian calendar): a date-time crate's formatting machinery cost the browser bundle
/// ~17 KB of WASM for this one line.
pub fn format_instant(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000);
    let (days, minute_of_day) = (minutes.div_euclid(1440), minutes.rem_euclid(1440));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minute_of_day / 60,
        minute_of_day % 60
    )
}

/// What a number can do.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize,
)]
pub struct Capabilities {
    pub sms: bool,
    pub mms: bool,
    pub voice: bool,
}

impl Capabilities {
    pub const ALL: Capabilities = Capabilities {
        sms: true,
        mms: true,
        voice: true,
    };

    /// Stored as a comma list: `sms,mms,voice`.
    pub fn to_list(self) -> String {
        let mut parts = Vec::new();
        if self.sms {
            parts.push("sms");
        }
        if self.mms {
            parts.push("mms");
        }
        if self.voice {
            parts.push("voice");
        }
        parts.join(",")
    }

    pub fn from_list(list: &str) -> Capabilities {
        let has = |name| list.split(',').any(|p| p.trim() == name);
        Capabilities {
            sms: has("sms"),
            mms: has("mms"),
            voice: has("voice"),
        }
    }

    /// Whether `self` offers everything `needs` asks for.
    pub fn covers(self, needs: Capabilities) -> bool {
        (!needs.sms || self.sms) && (!needs.mms || self.mms) && (!needs.voice || self.voice)
    }

    pub fn label(self) -> String {
        let list = self.to_list().to_ascii_uppercase().replace(',', " · ");
        if list.is_empty() {
            "none".into()
        } else {
            list
        }
    }
}

/// A number on offer from the carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct NumberOffer {
    pub e164: String,
    pub display: String,
    pub locality: String,
    pub capabilities: Capabilities,
}

/// A number someone owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct OwnedNumber {
    pub id: String,
    pub e164: String,
    pub display: String,
    pub name: String,
    pub capabilities: Capabilities,
    pub carrier: String,
    pub created_at: i64,
    /// When an inbound webhook for it last reached us (None: never yet).
    pub last_inbound_at: Option<i64>,
    /// Filled for admins' view of all numbers.
    pub owner_email: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub enum MessageStatus {
    #[serde(rename = "queued")]
    Queued,
    #[serde(rename = "sending")]
    Sending,
    #[serde(rename = "sent")]
    Sent,
    #[serde(rename = "delivered")]
    Delivered,
    #[serde(rename = "failed")]
    Failed,
    #[serde(rename = "received")]
    Received,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 6] = [
        MessageStatus::Queued,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Failed,
        MessageStatus::Received,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Received => "received",
        }
    }

    pub fn parse(s: &str) -> Option<MessageStatus> {
        Some(match s {
            "queued" => MessageStatus::Queued,
            "sending" => MessageStatus::Sending,
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "failed" => MessageStatus::Failed,
            "received" => MessageStatus::Received,
            _ => return None,
        })
    }

    /// Statuses only move forward: a late `sent` never overwrites `delivered`.
    pub fn rank(self) -> u8 {
        match self {
            MessageStatus::Queued => 0,
            MessageStatus::Sending => 1,
            MessageStatus::Sent => 2,
            MessageStatus::Delivered | MessageStatus::Failed | MessageStatus::Received => 3,
        }
    }

    /// The delivery ticks shown under an outgoing bubble.
    pub fn ticks(self) -> &'static str {
        match self {
            MessageStatus::Queued | MessageStatus::Sending => "🕓",
            MessageStatus::Sent => "✓",
            MessageStatus::Delivered => "✓✓",
            MessageStatus::Failed => "!",
            MessageStatus::Received => "",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MessageStatus::Queued => "Queued",
            MessageStatus::Sending => "Sending",
            MessageStatus::Sent => "Sent",
            MessageStatus::Delivered => "Delivered",
            MessageStatus::Failed => "Not delivered",
            MessageStatus::Received => "Received",
        }
    }
}

/// A row of the conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct ConversationSummary {
    pub id: String,
    pub number_id: String,
    pub number_display: String,
    pub number_name: String,
    pub peer: String,
    pub peer_display: String,
    pub last_at: i64,
    pub preview: String,
    pub unread: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct MessageView {
    pub id: String,
    pub outgoing: bool,
    pub body: String,
    pub status: MessageStatus,
    /// Plain words for a failure: what it means and what to do.
    pub failure: Option<String>,
    pub created_at: i64,
    /// MMS pictures, in the order sent.
    pub media: Vec<MediaView>,
}

/// A picture of an MMS, served to its owner at `/media/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct MediaView {
    pub id: String,
    pub content_type: String,
    pub state: MediaState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub enum MediaState {
    /// Inbound: still being fetched from the carrier.
    Pending,
    Stored,
    /// Inbound: the carrier's copy could not be fetched.
    Failed,
}

impl MediaState {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaState::Pending => "pending",
            MediaState::Stored => "stored",
            MediaState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> MediaState {
        match s {
            "stored" => MediaState::Stored,
            "pending" => MediaState::Pending,
            _ => MediaState::Failed,
        }
    }
}

/// What an outbound MMS may carry with the carrier in use (checked before sending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct MediaLimits {
    pub max_files: usize,
    /// Per picture.
    pub max_file_bytes: usize,
    /// All pictures of one message together.
    pub max_total_bytes: usize,
}

/// The picture formats every carrier delivers as MMS.
pub const MMS_IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/gif"];

impl MediaLimits {
    /// Twilio's Messages `MediaUrl`: up to ten, 5 MB each for jpeg/png/gif. Twilio states no
    /// total, but its MMS guide keeps a message to 5 MB for carriers to deliver it.
    pub const TWILIO: MediaLimits = MediaLimits {
        max_files: 10,
        max_file_bytes: 5_000_000,
        max_total_bytes: 5_000_000,
    };

    /// Why these pictures can't go in one MMS, in plain words; None when they can.
    pub fn check(&self, sizes: &[usize]) -> Option<String> {
        if sizes.len() > self.max_files {
            return Some(format!(
                "Attach at most {} pictures to one message.",
                self.max_files
            ));
        }
        if sizes.iter().any(|&n| n > self.max_file_bytes) {
            return Some(format!(
                "Each picture can be at most {}.",
                human_bytes(self.max_file_bytes)
            ));
        }
        if sizes.iter().sum::<usize>() > self.max_total_bytes {
            return Some(format!(
                "The pictures of one message can be at most {} together.",
                human_bytes(self.max_total_bytes)
            ));
        }
        None
    }
}

/// 1_000_000 → "1 MB", 500_000 → "500 KB" (decimal units, as carriers state their limits).
pub fn human_bytes(n: usize) -> String {
    if n >= 1_000_000 {
        // Tenths of a megabyte, rounded, in whole numbers: printing a float would put the
        // float formatter (~4 KB compressed) into the browser bundle for this one line.
        let tenths = (n + 50_000) / 100_000;
        match tenths % 10 {
            0 => format!("{} MB", tenths / 10),
            tenth => format!("{}.{tenth} MB", tenths / 10),
        }
    } else {
        format!("{} KB", n.div_ceil(1000))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct Thread {
    pub conversation: ConversationSummary,
    pub messages: Vec<MessageView>,
}

/// A message found by search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SearchHit {
    pub conversation_id: String,
    pub peer_display: String,
    pub body: String,
    pub created_at: i64,
}

/// What the live stream (SSE) tells a tab. The tab refetches what it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A message was added or changed status in this conversation.
    Message {
        conversation_id: String,
        message_id: String,
    },
    /// Conversations or unread counts changed.
    Conversations,
    /// Numbers changed (bought, renamed, released, inbound seen).
    Numbers,
    /// Some events can't be replayed to this tab (purged, or too many): refetch everything.
    /// Never stored; sent to a reconnecting tab in place of what it missed.
    Resync,
}

/// What Settings → Notifications needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct PushConfig {
    /// The VAPID public key (base64url), the browser's `applicationServerKey`.
    pub public_key: String,
    /// False when the operator has not set a push contact.
    pub enabled: bool,
    pub previews_hidden: bool,
}

/// One device that gets alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct PushDevice {
    pub id: String,
    pub device: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Admin → Carrier as the browser sees it: secrets only as "saved or not".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct CarrierSettingsView {
    /// `sandbox`, `telnyx` or `twilio`.
    pub active: String,
    /// When an admin saved these (None: from the server's configuration).
    pub saved_at: Option<i64>,
    pub telnyx_api_key_saved: bool,
    pub telnyx_public_key: String,
    pub telnyx_messaging_profile_id: String,
    pub telnyx_api_base: String,
    pub twilio_account_sid: String,
    pub twilio_auth_token_saved: bool,
    pub twilio_api_base: String,
    /// Where each carrier's webhooks must point (set up automatically when buying numbers).
    pub telnyx_webhook_url: String,
    pub twilio_webhook_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    /// What the server writes with serde, the browser reads back with miniserde.
    fn reads_back<T>(value: T)
    where
        T: Serialize + miniserde::Deserialize + PartialEq + std::fmt::Debug,
    {
        let json = serde_json::to_string(&value).unwrap();
        let read: T = miniserde::json::from_str(&json).unwrap_or_else(|_| panic!("{json}"));
        assert_eq!(read, value, "{json}");
    }

    #[test]
    fn answers_written_by_serde_read_back_with_miniserde() {
        for role in [Role::Admin, Role::User] {
            reads_back(role);
        }
        for status in [
            InviteStatus::Pending,
            InviteStatus::Accepted,
            InviteStatus::Expired,
            InviteStatus::Revoked,
        ] {
            reads_back(status);
        }
        for status in MessageStatus::ALL {
            reads_back(status);
        }
        for state in [MediaState::Pending, MediaState::Stored, MediaState::Failed] {
            reads_back(state);
        }
        for lookup in [
            SetupLookup::Valid,
            SetupLookup::Used,
            SetupLookup::Expired,
            SetupLookup::Unknown,
            SetupLookup::AdminExists,
        ] {
            reads_back(lookup);
        }
        for lookup in [
            InviteLookup::Valid {
                email: Some("a@example.com".into()),
                role: Role::Admin,
            },
            InviteLookup::Valid {
                email: None,
                role: Role::User,
            },
            InviteLookup::Accepted,
            InviteLookup::Expired,
            InviteLookup::Revoked,
            InviteLookup::Unknown,
        ] {
            reads_back(lookup);
        }
        reads_back(Some(CurrentUser {
            id: "u1".into(),
            email: "a@example.com".into(),
            display_name: "Ada \"the\" admin ✓".into(),
            role: Role::Admin,
        }));
        reads_back(None::<CurrentUser>);
        reads_back(vec![OwnedNumber {
            id: "n1".into(),
            e164: "+15551234567".into(),
            display: "(555) 123-4567".into(),
            name: "Work".into(),
            capabilities: Capabilities {
                sms: true,
                mms: false,
                voice: true,
            },
            carrier: "sandbox".into(),
            created_at: -1,
            last_inbound_at: Some(1_795_305_420_000),
            owner_email: None,
        }]);
        reads_back(MessageView {
            id: "m1".into(),
            outgoing: true,
            body: "line one\nline two\t😀".into(),
            status: MessageStatus::Failed,
            failure: Some("The carrier refused it.".into()),
            created_at: 0,
            media: vec![MediaView {
                id: "p1".into(),
                content_type: "image/png".into(),
                state: MediaState::Stored,
            }],
        });
        reads_back(vec![("+15550000001".to_string(), "hi".to_string())]);
        reads_back(i64::MIN);
        reads_back(u64::MAX);
    }

    #[test]
    fn errors_read_and_write_as_serde_does() {
        for error in [
            AppError::Unauthorized,
            AppError::Forbidden,
            AppError::NotFound("The number".into()),
            AppError::Invalid("Say \"hello\"\n\\ then ✓".into()),
            AppError::Throttled("Wait a minute.".into()),
            AppError::Internal {
                reference: "req-1".into(),
            },
            AppError::Transport("offline".into()),
        ] {
            let json = serde_json::to_string(&error).unwrap();
            assert_eq!(AppError::from_json(&json).as_ref(), Some(&error), "{json}");
            let written: serde_json::Value = serde_json::from_str(&error.to_json()).unwrap();
            assert_eq!(written, serde_json::to_value(&error).unwrap());
        }
        for bad in [
            "",
            "null",
            "\"Nope\"",
            r#"{"Invalid":1}"#,
            r#"{"Invalid":"a","Forbidden":"b"}"#,
        ] {
            assert_eq!(AppError::from_json(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes_read_in_decimal_units() {
        for (bytes, shown) in [
            (1, "1 KB"),
            (999_999, "1000 KB"),
            (1_000_000, "1 MB"),
            (1_040_000, "1 MB"),
            (1_050_000, "1.1 MB"),
            (1_500_000, "1.5 MB"),
            (2_960_000, "3 MB"),
            (5_000_000, "5 MB"),
        ] {
            assert_eq!(human_bytes(bytes), shown, "{bytes}");
        }
    }

    #[test]
    fn instants_read_as_utc_calendar_dates() {
        for (ms, shown) in [
            (0, "1970-01-01 00:00 UTC"),
            (-1, "1969-12-31 23:59 UTC"),
            (951_782_400_000, "2000-02-29 00:00 UTC"),
            (1_709_210_096_000, "2024-02-29 12:34 UTC"),
            (1_735_689_599_999, "2024-12-31 23:59 UTC"),
            (1_795_305_420_000, "2026-11-21 23:57 UTC"),
            (253_402_300_799_000, "9999-12-31 23:59 UTC"),
        ] {
            assert_eq!(format_instant(ms), shown, "{ms}");
        }
    }
}
