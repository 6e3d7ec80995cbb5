//! Types shared by the server and the browser: what server functions return, by domain.
//! Everything is re-exported here, so `crate::types::X` names any of them.

use serde::{Deserialize, Serialize};

mod accounts;
mod calls;
mod carrier;
mod contacts;
mod messaging;
mod numbers;
mod push;
pub(crate) mod tagged;

pub use accounts::*;
pub use calls::*;
pub use carrier::*;
pub use contacts::*;
pub use messaging::*;
pub use numbers::*;
pub use push::*;

/// A type a server function answers with: the browser reads it with miniserde. `wire`'s
/// `Loaded`, `call` and `FormAction::output` take only these, so an answer type declared
/// outside [`answers!`] (and so without its read-back test) does not compile.
pub trait Answer: miniserde::Deserialize {}

impl Answer for () {}
impl Answer for bool {}
impl Answer for i64 {}
impl Answer for u64 {}
impl Answer for usize {}
impl Answer for String {}
impl<T: Answer> Answer for Vec<T> {}
impl<T: Answer> Answer for Option<T> {}
impl<A: Answer, B: Answer> Answer for (A, B) {}

/// Declares a file's answer types, each in one place: it gets what the wire needs (serde's
/// traits, as the server writes answers and reads arguments with serde; miniserde's
/// `Deserialize`, as the browser reads answers with it: serde_json's decoder per type cost
/// the bundle ~15 KB; `Debug`, `Clone`, `PartialEq`, `Eq`, `Default`; [`Answer`]), and the
/// block gets a test that what serde writes for each of them, miniserde reads back equal
/// (structs by their default, unit enums variant by variant). Both derives read
/// `#[serde(rename = "…")]`; miniserde ignores container attributes such as `rename_all`,
/// so names are given per variant or field. One block per file; other derives (`Copy`)
/// go on the item.
macro_rules! answers {
    (@next [$($done:ident)*]) => {
        #[cfg(test)]
        mod every_answer_type {
            #[test]
            fn reads_back_what_serde_writes() {
                $( $crate::types::reads_back_all::<super::$done>(); )*
            }
        }
    };
    (@next [$($done:ident)*]
        $(#[$meta:meta])* pub struct $name:ident $body:tt
        $($rest:tt)*
    ) => {
        #[derive(
            Debug, Clone, Default, PartialEq, Eq,
            serde::Serialize, serde::Deserialize, miniserde::Deserialize,
        )]
        $(#[$meta])* pub struct $name $body
        impl $crate::types::Answer for $name {}
        #[cfg(test)]
        impl $crate::types::Samples for $name {
            fn samples() -> Vec<Self> {
                vec![Self::default()]
            }
        }
        $crate::types::answers!(@next [$($done)* $name] $($rest)*);
    };
    (@next [$($done:ident)*]
        $(#[$meta:meta])* pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident ),* $(,)? }
        $($rest:tt)*
    ) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq,
            serde::Serialize, serde::Deserialize, miniserde::Deserialize,
        )]
        $(#[$meta])* pub enum $name { $( $(#[$vmeta])* $variant ),* }
        /// The first variant.
        impl Default for $name {
            fn default() -> Self {
                [$(Self::$variant),*][0]
            }
        }
        impl $crate::types::Answer for $name {}
        #[cfg(test)]
        impl $crate::types::Samples for $name {
            fn samples() -> Vec<Self> {
                vec![$(Self::$variant),*]
            }
        }
        $crate::types::answers!(@next [$($done)* $name] $($rest)*);
    };
    ($($items:tt)*) => {
        $crate::types::answers!(@next [] $($items)*);
    };
}
pub(crate) use answers;

/// Sample values of an answer type for its read-back test.
#[cfg(test)]
pub(crate) trait Samples: Sized {
    fn samples() -> Vec<Self>;
}

/// What the server writes with serde for each sample, the browser reads back with miniserde.
#[cfg(test)]
pub(crate) fn reads_back_all<T>()
where
    T: Samples + Serialize + miniserde::Deserialize + PartialEq + std::fmt::Debug,
{
    for value in T::samples() {
        let json = serde_json::to_string(&value).unwrap();
        let read: T = miniserde::json::from_str(&json)
            .unwrap_or_else(|_| panic!("{}: {json}", std::any::type_name::<T>()));
        assert_eq!(read, value, "{json}");
    }
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
    /// A call rang, was answered or ended, or missed calls were seen.
    Calls,
    /// Some events can't be replayed to this tab (purged, or too many): refetch everything.
    /// Never stored; sent to a reconnecting tab in place of what it missed.
    Resync,
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
            must_set_up_two_factor: false,
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
            ring_seconds: 45,
            do_not_disturb: true,
            dnd_outside_hours: false,
            greeting_text: "Ada \"here\" ✓".into(),
            greeting_recorded: true,
            forward_to: "+12025550188".into(),
            forward_after_secs: 20,
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
