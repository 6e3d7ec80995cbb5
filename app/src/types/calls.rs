//! Calls: the ones ringing or under way (what a tab's call panel needs) and the call log.

crate::types::answers! {
    /// A call that is ringing or under way, as one party sees it from one tab.
    pub struct LiveCall {
        /// The call (both parties' legs share it).
        pub id: String,
        /// `in` or `out`, for this party.
        pub direction: String,
        pub peer: String,
        pub peer_display: String,
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
    }

    /// One line of the call log.
    pub struct CallLogEntry {
        pub id: String,
        pub direction: String,
        pub peer: String,
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
    }
}
