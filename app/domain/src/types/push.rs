//! Push alerts: the settings page and its devices.

crate::types::answers! {
    /// What Settings → Notifications needs to know.
    pub struct PushConfig {
        /// The VAPID public key (base64url), the browser's `applicationServerKey`.
        pub public_key: String,
        /// False when the operator has not set a push contact.
        pub enabled: bool,
        pub previews_hidden: bool,
    }

    /// One device that gets alerts.
    pub struct PushDevice {
        pub id: String,
        pub device: String,
        pub created_at: i64,
        pub last_used_at: Option<i64>,
    }
}
