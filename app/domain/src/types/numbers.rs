//! Phone numbers: on offer, owned, and what they can do.

crate::types::answers! {
    /// What a number can do.
    #[derive(Copy)]
    pub struct Capabilities {
        pub sms: bool,
        pub mms: bool,
        pub voice: bool,
    }

    /// A number on offer from the carrier.
    pub struct NumberOffer {
        pub e164: String,
        pub display: String,
        pub locality: String,
        pub capabilities: Capabilities,
    }

    /// A number someone owns.
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
        /// How long a call to it rings before it counts as missed.
        pub ring_seconds: i64,
        /// Calls go straight to voicemail; nothing rings.
        pub do_not_disturb: bool,
        /// The same, outside the number's business hours (its weekly schedule, set with
        /// its away message under Numbers → Answering texts).
        pub dnd_outside_hours: bool,
        /// The voicemail greeting's words ('' for the default) and whether a recorded one
        /// plays instead.
        pub greeting_text: String,
        pub greeting_recorded: bool,
        /// The phone calls from the phone network ring instead (E.164; '' when off).
        pub forward_to: String,
        /// With a forwarding phone: how long the user's browsers ring first (one of
        /// [`FORWARD_AFTER_CHOICES`]; 0: the phone rings at once, browsers don't;
        /// [`FORWARD_WITH_BROWSERS`]: the phone and the browsers ring together).
        pub forward_after_secs: i64,
    }

    /// How one of the user's numbers answers texts by itself (public/numbers.js shows it).
    pub struct NumberTexting {
        pub number_id: String,
        pub display: String,
        pub name: String,
        /// What a HELP text is answered with ('' for the default).
        pub help_text: String,
        /// The default, for the form to show what '' means.
        pub default_help_text: String,
        /// Keyword rules, tried in this order.
        pub rules: Vec<ReplyRule>,
        /// When the away message answers: `off`, `always`, `outside_hours`, `do_not_disturb`.
        pub away_mode: String,
        pub away_text: String,
        /// Business hours: the days open (0 = Monday … 6 = Sunday), "09:00" to "17:00".
        pub business_days: Vec<i64>,
        pub opens: String,
        pub closes: String,
        /// An IANA time zone, e.g. America/New_York.
        pub time_zone: String,
        /// Where inbound texts are forwarded by email ('' for nowhere).
        pub forward_email: String,
    }

    /// A keyword rule: a text that is (`exact`) or contains (`contains`) the keyword, in any
    /// case, is answered with `reply`.
    pub struct ReplyRule {
        pub matching: String,
        pub keyword: String,
        pub reply: String,
    }
}

/// How long a call to a number may ring before it counts as missed, in seconds: the
/// choices offered (and the only ones taken).
pub const RING_CHOICES: [i64; 7] = [10, 20, 30, 45, 60, 90, 120];

/// How long a call rings the user's browsers before it goes to their forwarding phone, in
/// seconds: the choices offered (0: at once, and browsers don't ring;
/// [`FORWARD_WITH_BROWSERS`]: the phone rings at the same time as the browsers).
pub const FORWARD_AFTER_CHOICES: [i64; 7] = [FORWARD_WITH_BROWSERS, 0, 10, 20, 30, 45, 60];

/// The forwarding phone rings together with the user's browsers; the first to take the
/// call has it.
pub const FORWARD_WITH_BROWSERS: i64 = -1;

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
