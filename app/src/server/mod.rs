// Query rows are read as tuples that mirror their SELECT lists, which clippy finds complex.
#![allow(clippy::type_complexity)]

//! Server-only code (the `ssr` feature): storage, credentials, sessions, request context.
//! Everything that must never be compiled into the browser bundle lives here, in one place.

pub mod accounts;
pub mod auth;
pub mod carrier;
pub mod context;
pub mod crypto;
pub mod db;
pub mod events;
pub mod invites;
pub mod jobs;
pub mod media;
pub mod messaging;
pub mod numbers;
pub mod phone;
pub mod push;
pub mod setup;
pub mod throttle;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::{mpsc, Notify};

use carrier::{Carrier, CarrierEvent};
pub use db::{Backend, Db};
use events::EventBus;

/// Runtime settings the app layer needs (the server binary builds these from its config).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where people (and carriers, and push links) reach this instance.
    pub public_url: url::Url,
    /// Bind sessions to the client IP as well as the user agent.
    pub bind_session_to_ip: bool,
    /// A session ends after this long without use (sliding expiry).
    pub session_idle_ms: i64,
    /// The sandbox carrier's pause between simulated delivery statuses.
    pub sandbox_step_ms: u64,
    /// Which carrier numbers and texts go through.
    pub carrier: CarrierChoice,
    /// Telnyx's webhook public key (base64): enables `/webhooks/telnyx`.
    pub telnyx_public_key: Option<String>,
    /// Twilio's auth token: enables `/webhooks/twilio`.
    pub twilio_auth_token: Option<String>,
    /// The VAPID `sub` contact (mailto: or https:); without it no push is sent.
    pub push_contact: Option<String>,
    /// Where MMS pictures are kept (the data directory's `media/`).
    pub media_dir: std::path::PathBuf,
}

impl Settings {
    /// Cookies get `Secure` and the `__Host-` prefix only when served over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// `public_url` without a trailing slash, for building links.
    pub fn base_url(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_string()
    }
}

#[derive(Debug, Clone, Default)]
pub enum CarrierChoice {
    /// The built-in offline carrier.
    #[default]
    Sandbox,
    Telnyx {
        api_base: String,
        api_key: String,
        messaging_profile_id: Option<String>,
    },
    Twilio {
        api_base: String,
        account_sid: String,
        auth_token: String,
    },
}

/// Shared by every request handler and server function.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Instance secret (32 bytes): keys the HMAC behind invitation links.
    pub secret: Arc<[u8; 32]>,
    pub leptos_options: LeptosOptions,
    pub bus: EventBus,
    /// The instance's Web Push key pair.
    pub vapid: push::VapidKeys,
    /// For outgoing HTTP that is not a carrier's API (push services).
    pub http: reqwest::Client,
    /// Wakes the job worker when work is queued.
    pub jobs_waker: Arc<Notify>,
    /// Where MMS picture bytes live.
    pub media: Arc<dyn media::MediaStore>,
    carrier: Arc<dyn Carrier>,
    /// The sandbox carrier, for the admin's Simulator (which only exists for the sandbox).
    pub sandbox: Arc<carrier::sandbox::Sandbox>,
    /// Where carriers' reports that don't come by webhook (the sandbox's) enter ingestion.
    carrier_events: mpsc::UnboundedSender<CarrierEvent>,
}

impl AppState {
    /// Assembles the state; returns the receiving end of the carrier-event channel, which
    /// [`AppState::start_background_work`] consumes.
    pub fn new(
        db: Db,
        settings: Settings,
        secret: [u8; 32],
        vapid: push::VapidKeys,
        leptos_options: LeptosOptions,
    ) -> (AppState, mpsc::UnboundedReceiver<CarrierEvent>) {
        let (carrier_events, receiver) = mpsc::unbounded_channel();
        let step = Duration::from_millis(settings.sandbox_step_ms);
        let sandbox = Arc::new(carrier::sandbox::Sandbox::new(
            db.clone(),
            carrier_events.clone(),
            step,
        ));
        let carrier: Arc<dyn Carrier> = match &settings.carrier {
            CarrierChoice::Sandbox => sandbox.clone(),
            CarrierChoice::Telnyx {
                api_base,
                api_key,
                messaging_profile_id,
            } => Arc::new(carrier::telnyx_api::Telnyx::new(
                api_base,
                api_key,
                messaging_profile_id.clone(),
            )),
            CarrierChoice::Twilio {
                api_base,
                account_sid,
                auth_token,
            } => Arc::new(carrier::twilio_api::Twilio::new(
                api_base,
                account_sid,
                auth_token,
                &format!("{}/webhooks/twilio", settings.base_url()),
            )),
        };
        let media: Arc<dyn media::MediaStore> =
            Arc::new(media::FileStore::new(settings.media_dir.clone()));
        let state = AppState {
            db,
            settings: Arc::new(settings),
            secret: Arc::new(secret),
            leptos_options,
            bus: EventBus::default(),
            vapid,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("HTTP client"),
            jobs_waker: Arc::new(Notify::new()),
            media,
            carrier,
            sandbox,
            carrier_events,
        };
        (state, receiver)
    }

    /// The carrier in use. Features never ask which one it is.
    pub fn carrier(&self) -> Arc<dyn Carrier> {
        self.carrier.clone()
    }

    /// Feeds a carrier event into ingestion as if it had come by webhook (sandbox, simulator).
    pub fn report(&self, event: CarrierEvent) {
        let _ = self.carrier_events.send(event);
    }

    /// Starts the job worker, the carrier-event consumer and (on PostgreSQL) the
    /// cross-instance event listener.
    pub fn start_background_work(&self, mut reports: mpsc::UnboundedReceiver<CarrierEvent>) {
        jobs::spawn_worker(self.clone());
        if self.db.backend() == Backend::Postgres {
            self.bus.listen_to_postgres(self.db.clone());
        }
        let state = self.clone();
        tokio::spawn(async move {
            while let Some(event) = reports.recv().await {
                let state = state.clone();
                let carrier = state.carrier().name();
                tokio::spawn(async move {
                    // A status can beat the send's own bookkeeping; give it a few tries.
                    for attempt in 0..20u64 {
                        match messaging::ingest(&state, carrier, &event).await {
                            Ok(messaging::Ingested::UnknownMessage) => {
                                tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await
                            }
                            Ok(_) => return,
                            Err(e) => {
                                tracing::error!(error = ?e, "ingesting a carrier event failed");
                                tokio::time::sleep(Duration::from_millis(500)).await;
                            }
                        }
                    }
                });
            }
        });
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Milliseconds since the unix epoch: every timestamp in storage uses this.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
