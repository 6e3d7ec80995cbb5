//! Admin → Carrier as the browser sees it.

crate::types::answers! {
    /// Admin → Carrier as the browser sees it: secrets only as "saved or not".
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
}
