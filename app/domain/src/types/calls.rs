//! Calls: the ones ringing or under way (what a tab's call panel needs) and the call log.

crate::types::answers! {
    /// What the caller of an unanswered call hears before leaving a voicemail: the number's
    /// greeting words, and its recorded greeting (a link) if it has one.
    pub struct VoicemailGreeting {
        pub text: String,
        pub audio_url: Option<String>,
    }

    /// What a call to a number would find (the dialer says it as the number is typed).
    pub enum Presence {
        /// Not a number of this Switchboard: the call goes out to the phone network.
        #[serde(rename = "outside")]
        Outside,
        /// Someone here with a tab open now: it rings there.
        #[serde(rename = "online")]
        Online,
        /// Someone here with no tab open: their devices' alerts ring, or voicemail.
        #[serde(rename = "offline")]
        Offline,
        /// Someone here whose number is on do-not-disturb: straight to voicemail.
        #[serde(rename = "do_not_disturb")]
        DoNotDisturb,
    }

    /// A call that is ringing or under way, as one party sees it from one tab.
    pub struct LiveCall {
        /// The call (both parties' legs share it).
        pub id: String,
        /// `in` or `out`, for this party.
        pub direction: String,
        pub peer: String,
        pub peer_display: String,
        /// The peer's name in the user's contacts ('' when they are not one).
        pub peer_name: String,
        /// This party's own number on the call.
        pub number_display: String,
        /// `ringing`, `answered`, or `ended` (a call that ended in the last few seconds,
        /// so the tab can say how).
        pub state: String,
        /// How it ended, in plain words, once it has.
        pub outcome: Option<String>,
        /// Whether the asking tab holds this party's audio (placed or answered it there).
        pub here: bool,
        /// The caller's session description, for an incoming call while it rings.
        pub offer: Option<String>,
        /// The answering browser's, for the tab that placed the call, once answered.
        pub answer: Option<String>,
        pub answered_at: Option<i64>,
        /// Whether the caller may leave a voicemail if nobody answers (the person called
        /// is here, not an outside phone).
        pub can_leave_voicemail: bool,
        /// The carrier whose SDK carries this call's audio (`telnyx`: a call from the phone
        /// network that rings here; the tab that answers is called by the carrier), or
        /// None for a call between browsers.
        pub carrier: Option<String>,
    }

    /// What a browser signs in to its carrier's calling SDK with (`browser_phone`): the
    /// carrier, and a short-lived token for this browser's own credential.
    pub struct BrowserPhoneSignIn {
        pub carrier: String,
        pub token: String,
    }

    /// A call with a party outside this Switchboard, as the sandbox Simulator's outside
    /// phone plays that party.
    pub struct OutsideCall {
        pub id: String,
        /// The outside party's: `out` when it called one of our numbers, `in` when someone
        /// here called it, `forwarded` when a call to one of our numbers is forwarded to
        /// it (as the forwarding phone: `outside_display` its number, `ours_display` the
        /// number shown calling; no sound, the caller being an outside phone too).
        pub direction: String,
        pub outside_display: String,
        /// Our number on the call.
        pub ours_display: String,
        /// `ringing`, `answered`, or `ended` (in the last few seconds).
        pub state: String,
        /// How it ended, in plain words, from the outside party's side.
        pub outcome: Option<String>,
        /// Our caller's session description, while a call to the outside phone rings.
        pub offer: Option<String>,
        /// Our answering browser's, for a call the outside phone placed.
        pub answer: Option<String>,
        pub answered_at: Option<i64>,
        /// Whether the outside phone may leave a voicemail now (its call was declined or
        /// not answered, and none was left).
        pub voicemail_possible: bool,
        /// What a forwarded call says once answered, waiting for a key (1 takes it).
        pub whisper: Option<String>,
    }

    /// One line of the call log.
    pub struct CallLogEntry {
        pub id: String,
        pub direction: String,
        pub peer: String,
        /// The peer's contact name, else their number.
        pub peer_display: String,
        /// The own number used (None once released).
        pub number_id: Option<String>,
        pub number_display: String,
        /// What became of it, in plain words ("Answered", "Missed", "No answer" …).
        pub outcome: String,
        pub created_at: i64,
        /// How long it lasted once answered.
        pub duration_secs: Option<i64>,
        /// The texts with this person on this number, when there are any.
        pub conversation_id: Option<String>,
        /// The voicemail the caller left (played from `/media/<id>`), for calls to you.
        pub voicemail_id: Option<String>,
        /// Its words, where the carrier transcribed it.
        pub transcript: Option<String>,
        /// Why it went as it did, in plain words, where there is more to say than the
        /// outcome ("Answered on your forwarding phone", "The carrier could not place the
        /// call").
        pub reason: Option<String>,
    }
}
