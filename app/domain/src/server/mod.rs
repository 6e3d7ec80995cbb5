// Query rows are read as tuples that mirror their SELECT lists, which clippy finds complex.
#![allow(clippy::type_complexity)]

//! Server-only code (the `ssr` feature): storage, credentials, sessions, request context.
//! Everything that must never be compiled into the browser bundle lives here, in one place.

pub mod accounts;
pub mod audit;
pub mod calls;
pub mod campaigns;
pub mod carrier;
pub mod contacts;
pub mod context;
pub mod crypto;
pub mod db;
pub mod email;
pub mod events;
pub mod export;
#[cfg(test)]
pub(crate) mod fuzzing;
pub mod ids;
pub mod instance_settings;
pub mod jobs;
pub mod media;
pub mod messaging;
pub mod numbers;
pub mod phone;
pub mod push;
pub mod retention;
pub mod safe_http;
pub mod simulator;
pub mod throttle;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::mpsc;

use carrier::config::CarrierConfig;
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
    /// The carrier and its credentials from the server's configuration; settings saved in
    /// Admin → Carrier take their place.
    pub carrier: CarrierConfig,
    /// The VAPID `sub` contact (mailto: or https:); without it no push is sent.
    pub push_contact: Option<String>,
    /// Where MMS pictures are kept (the data directory's `media/`).
    pub media_dir: std::path::PathBuf,
    /// Where the server may send requests made on someone's behalf (push endpoints,
    /// inbound pictures, an API address typed in Admin → Carrier): public https addresses
    /// only; tests also allow loopback, where their mock services listen.
    pub fetch_reach: safe_http::Reach,
    /// Bytes of pictures one user may keep (uploads and inbound MMS together).
    pub media_quota_bytes: i64,
    /// How long a send whose answer never came (a crash, a timeout) waits for the carrier's
    /// delivery report before it is sent again (carriers report within seconds).
    pub report_wait_ms: i64,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` header names the real client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// STUN/TURN servers for calls across networks, as JSON for `RTCPeerConnection`
    /// (`[]`: calls connect on the same network only).
    pub ice_servers: String,
    /// The OpenID provider behind "Sign in with Google" (Google's own; the operator may
    /// point it elsewhere, as the tests do at their local provider). Set by the operator,
    /// never in the app, so requests to it are trusted like the carriers' API addresses.
    pub google_issuer: String,
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

/// The carrier in use, as built from its settings.
struct ActiveCarrier {
    config: CarrierConfig,
    client: Arc<dyn Carrier>,
    /// When an admin saved these settings (None: from the server's configuration).
    saved_at: Option<i64>,
    /// `config.telnyx.public_key`, parsed once rather than on every webhook.
    telnyx_key: Option<ed25519_dalek::VerifyingKey>,
}

impl ActiveCarrier {
    fn new(config: CarrierConfig, client: Arc<dyn Carrier>, saved_at: Option<i64>) -> Self {
        let config = config.normalized();
        let telnyx_key = config
            .telnyx
            .public_key
            .as_deref()
            .and_then(carrier::telnyx::parse_public_key);
        ActiveCarrier {
            config,
            client,
            saved_at,
            telnyx_key,
        }
    }
}

/// A push service answers at once; one that doesn't is dropped (and retried later).
const PUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// An inbound picture is at most a few MB.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(30);

/// Shared by every request handler and server function. Cheap to clone (one reference
/// count): axum clones the state for every middleware layer and handler of every request.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// An [`AppState`] that does not keep the app alive: the ingestor holds one, so its queue
/// closes and it stops when the app is dropped (a test's app, say).
pub struct WeakAppState(std::sync::Weak<AppParts>);

impl WeakAppState {
    pub fn upgrade(&self) -> Option<AppState> {
        self.0.upgrade().map(AppState)
    }
}

/// What [`AppState`] holds.
pub struct AppParts {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Instance secret (32 bytes): keys the HMAC behind invitation links.
    pub secret: Arc<[u8; 32]>,
    pub leptos_options: LeptosOptions,
    pub bus: EventBus,
    /// The instance's Web Push key pair.
    pub vapid: push::VapidKeys,
    /// For requests to push services; see [`AppState::push_http`].
    push_http: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// For inbound pictures; see [`AppState::media_http`].
    media_http: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// For carrier APIs; see [`AppState::carrier_http`].
    carrier_http: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// Wakes the job lanes when work is queued.
    pub jobs_waker: Arc<jobs::Waker>,
    /// Set when the process is shutting down: background work stops taking new work.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The job lanes and housekeeping, awaited on shutdown.
    workers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Where MMS picture bytes live.
    pub media: Arc<dyn media::MediaStore>,
    carrier: Arc<std::sync::RwLock<ActiveCarrier>>,
    /// The sandbox carrier, for the admin's Simulator (which only exists for the sandbox).
    pub sandbox: Arc<carrier::sandbox::Sandbox>,
    /// Where carriers' reports that don't come by webhook (the sandbox's) enter ingestion.
    carrier_events: mpsc::UnboundedSender<CarrierEvent>,
    /// Events waiting to be stored by the ingestor (see `messaging::ingest`).
    ingest_queue: mpsc::UnboundedSender<messaging::PendingIngest>,
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
        let (ingest_queue, to_ingest) = mpsc::unbounded_channel();
        let step = Duration::from_millis(settings.sandbox_step_ms);
        let jobs_waker = Arc::new(jobs::Waker::default());
        let sandbox = Arc::new(carrier::sandbox::Sandbox::new(
            db.clone(),
            carrier_events.clone(),
            step,
            jobs_waker.clone(),
        ));
        let carrier_http = Arc::new(std::sync::OnceLock::new());
        let carrier = ActiveCarrier::new(
            settings.carrier.clone(),
            settings.carrier.build(&sandbox, &settings.base_url(), || {
                carrier_http.get_or_init(carrier::api_client).clone()
            }),
            None,
        );
        let media: Arc<dyn media::MediaStore> =
            Arc::new(media::FileStore::new(settings.media_dir.clone()));
        let state = AppState(Arc::new(AppParts {
            db,
            settings: Arc::new(settings),
            secret: Arc::new(secret),
            leptos_options,
            bus: EventBus::default(),
            vapid,
            push_http: Arc::new(std::sync::OnceLock::new()),
            media_http: Arc::new(std::sync::OnceLock::new()),
            carrier_http,
            jobs_waker,
            stopping: tokio::sync::watch::channel(false).0,
            workers: std::sync::Mutex::new(Vec::new()),
            media,
            carrier: Arc::new(std::sync::RwLock::new(carrier)),
            sandbox,
            carrier_events,
            ingest_queue,
        }));
        // Ingestion runs even while background work is held back (tests start paused).
        // On SQLite a group is a chain of round trips to sqlx's SQLite thread; woken from
        // there, a task of the main runtime waits in its shared queue behind the requests
        // being served, while a thread of its own is scheduled by the OS at once (ingest
        // bench: ~+25 %). PostgreSQL connections belong to the main runtime: it stays there.
        let ingestor = messaging::run_ingestor(WeakAppState(Arc::downgrade(&state.0)), to_ingest);
        let own_runtime = match state.db.backend() {
            Backend::Sqlite => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok(),
            Backend::Postgres => None,
        };
        match own_runtime {
            Some(runtime) => {
                std::thread::Builder::new()
                    .name("ingestor".into())
                    .spawn(move || runtime.block_on(ingestor))
                    .expect("starting the ingestor thread");
            }
            None => {
                tokio::spawn(ingestor);
            }
        }
        (state, receiver)
    }

    /// The HTTP client for push services: public addresses only (a browser names the
    /// endpoint), and a short timeout, since a push service answers at once and a slow one
    /// must not hold a lane. Built on first use: building one loads the system's CA
    /// certificates (about 100 ms here), which start-up should not wait for.
    pub fn push_http(&self) -> reqwest::Client {
        self.push_http
            .get_or_init(|| safe_http::client(self.settings.fetch_reach, PUSH_TIMEOUT))
            .clone()
    }

    /// Where `carrier` sends this instance's webhooks (texts, delivery reports, calls).
    pub fn webhook_url(&self, carrier: carrier::config::CarrierKind) -> String {
        format!("{}/webhooks/{}", self.settings.base_url(), carrier.as_str())
    }

    /// The HTTP client for carrier APIs, shared by every carrier client (a number's own
    /// carrier other than the active one is built for each command; with a client of its
    /// own each time, it loaded the CA bundle and opened a connection each time).
    pub fn carrier_http(&self) -> reqwest::Client {
        self.carrier_http.get_or_init(carrier::api_client).clone()
    }

    /// The HTTP client for inbound pictures: public addresses only (a carrier's webhook names
    /// the URL), redirects checked hop by hop.
    pub fn media_http(&self) -> reqwest::Client {
        self.media_http
            .get_or_init(|| safe_http::client(self.settings.fetch_reach, MEDIA_TIMEOUT))
            .clone()
    }

    /// The client for the carrier `kind` (a number's own carrier, which may no longer be the
    /// active one): its credentials and nobody else's go with its requests.
    pub fn carrier_of(&self, kind: carrier::config::CarrierKind) -> Arc<dyn Carrier> {
        let (config, _) = self.carrier_config();
        if config.active == kind {
            return self.carrier();
        }
        let config = CarrierConfig {
            active: kind,
            ..config
        };
        config.build(&self.sandbox, &self.settings.base_url(), || {
            self.carrier_http()
        })
    }

    /// The carrier in use. Features never ask which one it is.
    pub fn carrier(&self) -> Arc<dyn Carrier> {
        self.carrier
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .client
            .clone()
    }

    /// The key Telnyx webhooks are signed with, when Telnyx is configured.
    pub fn telnyx_webhook_key(&self) -> Option<ed25519_dalek::VerifyingKey> {
        self.carrier
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .telnyx_key
    }

    /// The carrier settings in use (with secrets: server-side only), and when an admin saved
    /// them (None: from the server's configuration).
    pub fn carrier_config(&self) -> (CarrierConfig, Option<i64>) {
        let active = self.carrier.read().unwrap_or_else(|e| e.into_inner());
        (active.config.clone(), active.saved_at)
    }

    /// Switches to the settings saved in Admin → Carrier when they are newer than the ones
    /// in use. Run at start, after a save, and every few seconds (so every instance sharing
    /// the database follows a change).
    pub async fn reload_carrier(&self) -> crate::error::AppResult<()> {
        let Some((config, saved_at)) = carrier::config::load_saved(&self.db, &self.secret).await?
        else {
            return Ok(());
        };
        if self.carrier_config().1 == Some(saved_at) {
            return Ok(());
        }
        let client = config.build(&self.sandbox, &self.settings.base_url(), || {
            self.carrier_http()
        });
        tracing::info!(carrier = client.kind().as_str(), "carrier settings loaded");
        *self.carrier.write().unwrap_or_else(|e| e.into_inner()) =
            ActiveCarrier::new(config, client, Some(saved_at));
        Ok(())
    }

    /// Says whether the process is shutting down (see [`AppState::stop_background_work`]).
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// For shutdown (SIGTERM): the job lanes stop claiming work and finish the jobs in hand
    /// (a send in flight completes and is recorded, so nothing is sent twice after a
    /// restart), waiting at most `grace`. Close the database only after this.
    pub async fn stop_background_work(&self, grace: Duration) {
        let _ = self.stopping.send(true);
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        let all = futures::future::join_all(workers);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                "jobs still running at shutdown; their leases will let another worker retry them"
            );
        }
    }

    /// Feeds a carrier event into ingestion as if it had come by webhook (sandbox, simulator).
    pub fn report(&self, event: CarrierEvent) {
        let _ = self.carrier_events.send(event);
    }

    /// Starts the job worker, the carrier-event consumer and (on PostgreSQL) the
    /// cross-instance event listener.
    pub fn start_background_work(&self, mut reports: mpsc::UnboundedReceiver<CarrierEvent>) {
        let workers = jobs::spawn_workers(self.clone());
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(workers);
        let state = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                if let Err(e) = state.reload_carrier().await {
                    tracing::warn!(error = ?e, "could not reload the carrier settings");
                }
            }
        });
        if self.db.backend() == Backend::Postgres {
            self.bus.listen_to_postgres(self.db.clone());
        }
        let state = self.clone();
        tokio::spawn(async move {
            if let Err(e) = numbers::route_calls_of_earlier_numbers(&state).await {
                tracing::warn!(error = ?e, "could not point earlier numbers' calls at this instance");
            }
        });
        let state = self.clone();
        tokio::spawn(async move {
            while let Some(event) = reports.recv().await {
                let state = state.clone();
                let carrier = state.carrier().kind();
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
