//! Typed domain values for the server layer: ids of different things can't be passed for one
//! another (the compiler, not a test, catches a swapped argument), and a phone number is
//! parsed to E.164 once, where it comes in. They are stored as TEXT.

/// An id of one kind of row. Any string may be one (an unknown id is "not found" where it is
/// looked up); what the type carries is which kind of row it names.
macro_rules! id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id!(
    /// A person's account (`users.id`).
    UserId
);
id!(
    /// A phone number someone owns (`phone_numbers.id`).
    NumberId
);
id!(
    /// A conversation between an owned number and one peer (`conversations.id`).
    ConversationId
);
id!(
    /// A text, in or out (`messages.id`).
    MessageId
);
id!(
    /// A signed-in device (`sessions.id`).
    SessionId
);
id!(
    /// A stored picture (`media.id`).
    MediaId
);
id!(
    /// A queued piece of background work (`jobs.id`).
    JobId
);
id!(
    /// An invitation to join (`invitations.id`).
    InviteId
);
id!(
    /// One of a user's contacts (`contacts.id`).
    ContactId
);
id!(
    /// One device's push subscription (`push_subscriptions.id`).
    PushSubscriptionId
);

/// A phone number in E.164 (`+12125550123`), as parsed by [`super::phone::parse`] or read
/// back from our own rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct E164(String);

impl E164 {
    /// What a person typed, read as in `default_region` (an ISO country code).
    pub fn parse(input: &str, default_region: &str) -> crate::error::AppResult<E164> {
        super::phone::parse(input, default_region).map(E164)
    }

    /// A number already in E.164 (our own rows, a carrier's verified webhook).
    pub fn from_stored(e164: impl Into<String>) -> E164 {
        E164(e164.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
