//! Conversations, messages, their statuses and pictures.

crate::types::answers! {
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

    /// A row of the conversation list.
    pub struct ConversationSummary {
        pub id: String,
        pub number_id: String,
        pub number_display: String,
        pub number_name: String,
        pub peer: String,
        pub peer_display: String,
        /// The peer's name in the user's contacts ('' when they are not one).
        pub peer_name: String,
        pub last_at: i64,
        pub preview: String,
        pub unread: i64,
    }

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
    pub struct MediaView {
        pub id: String,
        pub content_type: String,
        pub state: MediaState,
    }

    pub enum MediaState {
        /// Inbound: still being fetched from the carrier.
        Pending,
        Stored,
        /// Inbound: the carrier's copy could not be fetched.
        Failed,
    }

    /// What an outbound MMS may carry with the carrier in use (checked before sending).
    #[derive(Copy)]
    pub struct MediaLimits {
        pub max_files: usize,
        /// Per picture.
        pub max_file_bytes: usize,
        /// All pictures of one message together.
        pub max_total_bytes: usize,
    }

    pub struct Thread {
        pub conversation: ConversationSummary,
        pub messages: Vec<MessageView>,
        /// The peer texted STOP to this number: nothing more can be sent until they text START.
        pub opted_out: bool,
    }

    /// A saved snippet, inserted into the composer by name or by typing `/shortcut`.
    pub struct CannedReply {
        pub id: String,
        pub shortcut: String,
        pub body: String,
    }

    /// Admin → Email: the SMTP server texts are forwarded through (never its password).
    pub struct EmailSettingsView {
        pub host: String,
        pub port: i64,
        /// `starttls`, `tls` or `none` (a server on this machine only).
        pub security: String,
        pub username: String,
        pub password_saved: bool,
        pub from: String,
    }

    /// Admin → Email: where replies to forwarded texts come in (empty when off), the key
    /// the mail server presents, and the URL it posts them to.
    pub struct EmailRepliesView {
        pub address: String,
        pub key: String,
        pub webhook: String,
    }

    /// A message found by search.
    pub struct SearchHit {
        pub conversation_id: String,
        /// The peer's contact name, else their number.
        pub peer_display: String,
        pub body: String,
        pub created_at: i64,
    }
}

use super::human_bytes;

impl ConversationSummary {
    /// How the peer is shown: their contact name, else their number.
    pub fn peer_label(&self) -> &str {
        if self.peer_name.is_empty() {
            &self.peer_display
        } else {
            &self.peer_name
        }
    }
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
