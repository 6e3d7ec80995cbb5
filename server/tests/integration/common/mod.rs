//! Test harness: the real router on a random loopback port, over a throwaway database
//! (a fresh SQLite file, or a fresh PostgreSQL database created and dropped per test, copied
//! from one this process migrated once).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use app::error::AppError;
use app::server::carrier::config::{CarrierConfig, TelnyxConfig, TwilioConfig};
use app::server::{AppState, Db, Settings};
use reqwest::header::{HeaderMap, HeaderValue, ORIGIN, USER_AGENT};
use reqwest::redirect::Policy;
use serde::de::DeserializeOwned;

pub const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 TestBrowser";
pub const PASSWORD: &str = "correct horse battery";
/// RFC 8032 §7.1 test 1 key pair (the one the Telnyx vectors use).
pub const TELNYX_TEST_SECRET_HEX: &str =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
pub const TELNYX_TEST_PUBLIC_KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
pub const TWILIO_TEST_TOKEN: &str = "12345";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `$scenario(app)` once on each backend, as two tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        on_both_backends_with!(|_| {}; $($scenario),*);
    };
}

/// [`on_both_backends`] with the settings changed by `$tweak` (a `FnOnce(&mut Settings)`).
macro_rules! on_both_backends_with {
    ($tweak:expr; $($scenario:ident),* $(,)?) => {
        scenarios_on!(sqlite, Sqlite, |backend| $crate::common::TestApp::start_with(backend, $tweak); $($scenario),*);
        scenarios_on!(postgres, Postgres, |backend| $crate::common::TestApp::start_with(backend, $tweak); $($scenario),*);
    };
}

/// [`on_both_backends`] with no background work (jobs, housekeeping, carrier events): for
/// scenarios that run it themselves, or that what it would do at start-up would disturb.
#[macro_export]
macro_rules! paused_on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        scenarios_on!(paused_sqlite, Sqlite, |backend| $crate::common::TestApp::start_paused(backend); $($scenario),*);
        scenarios_on!(paused_postgres, Postgres, |backend| $crate::common::TestApp::start_paused(backend); $($scenario),*);
    };
}

/// One test per scenario in `mod $module`, each on an app started by `$start` (a future,
/// given `$backend`) on that backend, within the time limit, finished after.
macro_rules! scenarios_on {
    ($module:ident, $backend:ident, |$given:ident| $start:expr; $($scenario:ident),*) => {
        mod $module {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let $given = $crate::common::Backend::$backend;
                let app = $start.await;
                $crate::common::within_limit(stringify!($scenario), super::$scenario(&app)).await;
                app.finish().await;
            })*
        }
    };
}

pub mod passkey;

/// The real router for `state`, served on `listener` until aborted.
fn serve(listener: tokio::net::TcpListener, state: &AppState) -> tokio::task::JoinHandle<()> {
    let router = switchboard::build_router(state.clone());
    tokio::spawn(switchboard::serving::serve(
        listener,
        router,
        switchboard::serving::ConnectionLimits {
            header_read_timeout: std::time::Duration::from_secs(2),
            ..Default::default()
        },
        std::future::pending(),
        std::time::Duration::from_secs(1),
    ))
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    /// Carrier reports waiting for `resume_work` (only when started paused).
    reports: std::sync::Mutex<
        Option<tokio::sync::mpsc::UnboundedReceiver<app::server::carrier::CarrierEvent>>,
    >,
    dir: PathBuf,
    db_url: String,
    pg_database: Option<String>,
    server: tokio::task::JoinHandle<()>,
}

/// A second server process's worth of state on the same database (its own pool, event bus,
/// worker and router on its own port), as when several instances share PostgreSQL.
pub struct OtherInstance {
    pub base: String,
    pub state: AppState,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for OtherInstance {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A client builder for the tests' HTTP clients, with one TLS set-up for all: each client
/// that makes its own loads the system's CA bundle (OpenSSL parses every certificate),
/// which cost the suite more CPU than the tests themselves. (They reach only loopback,
/// over plain http.)
pub fn client_builder() -> reqwest::ClientBuilder {
    static TLS: std::sync::OnceLock<native_tls::TlsConnector> = std::sync::OnceLock::new();
    let tls = TLS.get_or_init(|| native_tls::TlsConnector::new().unwrap());
    // Idle connections are let go before the server's header read timeout (10 s) closes
    // them: a request sent on one just as the server closed it failed (IncompleteMessage,
    // a POST reqwest does not retry), once in a CI run under load.
    reqwest::Client::builder()
        .use_preconfigured_tls(tls.clone())
        .pool_idle_timeout(std::time::Duration::from_secs(5))
}

/// An HTTP client that keeps no cookies (a carrier's webhook, a stranger), shared by every
/// test. No idle connections kept: each test has its own runtime, and a connection made in
/// one that has ended can't serve the next test (which may get the same port).
pub fn http() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| client_builder().pool_max_idle_per_host(0).build().unwrap())
        .clone()
}

fn pg_admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_database(url: &str, name: &str) -> String {
    let mut url = url::Url::parse(url).expect("SWITCHBOARD_TEST_POSTGRES is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The PostgreSQL database this test process migrates once and copies for each test
/// (`CREATE DATABASE … TEMPLATE`): running the migrations for every test cost PostgreSQL
/// about half a second each time. The app still migrates on start, finding nothing to do.
static PG_TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Runs `work` to completion on a runtime of its own, on a thread of its own: the template
/// is made for whichever test asks first (others wait) and dropped at the process's exit,
/// where no test's runtime is left.
fn on_own_runtime<F: std::future::Future<Output = ()> + Send + 'static>(work: F) {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    })
    .join()
    .expect("PostgreSQL template work");
}

/// Runs `statements` (CREATE/ALTER/DROP DATABASE) on the PostgreSQL the tests use.
async fn as_pg_admin(statements: &[String]) -> Result<(), sqlx::Error> {
    let admin = Db::connect(&pg_admin_url()).await?;
    for statement in statements {
        sqlx::query(statement).execute(admin.pool()).await?;
    }
    admin.close().await;
    Ok(())
}

fn pg_template() -> &'static str {
    PG_TEMPLATE.get_or_init(|| {
        let name = format!("sb_template_{}", uuid::Uuid::new_v4().simple());
        let made = name.clone();
        on_own_runtime(async move {
            as_pg_admin(&[format!("CREATE DATABASE {made}")])
                .await
                .expect("PostgreSQL reachable for tests");
            let template = Db::connect(&with_database(&pg_admin_url(), &made))
                .await
                .unwrap();
            template.migrate().await.unwrap();
            // A template may have no one connected while it is copied.
            template.close().await;
        });
        // SAFETY: registers a plain function to run at exit; nothing else is passed.
        unsafe { libc::atexit(drop_pg_template) };
        name
    })
}

extern "C" fn drop_pg_template() {
    let Some(name) = PG_TEMPLATE.get().cloned() else {
        return;
    };
    on_own_runtime(async move {
        // At exit nothing can report a failure: a template left behind is the only harm.
        let _ = as_pg_admin(&[format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")]).await;
    });
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        let app = TestApp::start_paused(backend).await;
        app.resume_work();
        app
    }

    /// Starts the job worker and carrier-event consumer (as a restart would).
    pub fn resume_work(&self) {
        if let Some(reports) = self.reports.lock().unwrap().take() {
            self.state.start_background_work(reports);
        }
    }

    /// Starts with settings changed by `tweak` (a blank secret, a trusted proxy …).
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let app = TestApp::start_paused_with(backend, tweak).await;
        app.resume_work();
        app
    }

    /// The router runs, but no background work (jobs stay queued) until `resume_work`.
    pub async fn start_paused(backend: Backend) -> TestApp {
        TestApp::start_paused_with(backend, |_| {}).await
    }

    pub async fn start_paused_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("switchboard-test-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (url, pg_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.join("test.db").display()), None),
            Backend::Postgres => {
                let name = format!("sb_test_{id}");
                let template = pg_template();
                as_pg_admin(&[
                    format!("CREATE DATABASE {name} TEMPLATE {template}"),
                    // A throwaway database need not wait for the disk at each commit: the
                    // tests' hundreds of small transactions took twice SQLite's time.
                    format!("ALTER DATABASE {name} SET synchronous_commit = off"),
                ])
                .await
                .expect("PostgreSQL reachable for tests");
                (with_database(&pg_admin_url(), &name), Some(name))
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let (state, reports) = TestApp::open(&url, &dir, addr, tweak).await;
        let server = serve(listener, &state);
        TestApp {
            base,
            state,
            reports: std::sync::Mutex::new(Some(reports)),
            dir,
            db_url: url,
            pg_database,
            server,
        }
    }

    /// Another instance on this app's database, running (worker and event listener too).
    pub async fn another_instance(&self) -> OtherInstance {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let listening_before = self.postgres_listeners().await;
        let (state, reports) = TestApp::open(&self.db_url, &self.dir, addr, |_| {}).await;
        state.start_background_work(reports);
        // On PostgreSQL its tabs hear other instances' events once its LISTEN is in place:
        // an event sent before that is not for it (a test racing it failed once the suite
        // got faster).
        if let Some(before) = listening_before {
            eventually(10, "the other instance listening", || async {
                let now = self.postgres_listeners().await.unwrap_or(0);
                (now > before).then_some(())
            })
            .await;
        }
        let server = serve(listener, &state);
        OtherInstance {
            base: format!("http://{addr}"),
            state,
            server,
        }
    }

    /// How many connections LISTEN for live events on this app's PostgreSQL database (None
    /// on SQLite).
    async fn postgres_listeners(&self) -> Option<i64> {
        self.pg_database.as_ref()?;
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        )
        .fetch_one(self.state.db.pool())
        .await
        .unwrap();
        Some(n)
    }

    /// The app through the start-up the binary uses (`startup::open`), with test settings.
    async fn open(
        db_url: &str,
        dir: &std::path::Path,
        addr: SocketAddr,
        tweak: impl FnOnce(&mut Settings),
    ) -> (
        AppState,
        tokio::sync::mpsc::UnboundedReceiver<app::server::carrier::CarrierEvent>,
    ) {
        let base = format!("http://{addr}");
        let mut settings = Settings {
            public_url: url::Url::parse(&base).unwrap(),
            bind_session_to_ip: false,
            session_idle_ms: 30 * 24 * 60 * 60 * 1000,
            sandbox_step_ms: 50,
            // The sandbox is in use; both real carriers' webhook credentials are known.
            carrier: CarrierConfig {
                telnyx: TelnyxConfig {
                    public_key: Some(TELNYX_TEST_PUBLIC_KEY.into()),
                    ..Default::default()
                },
                twilio: TwilioConfig {
                    auth_token: Some(TWILIO_TEST_TOKEN.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            push_contact: Some("mailto:ops@switchboard.example".into()),
            media_dir: dir.join("media"),
            // The mock push services and carriers listen on loopback.
            fetch_reach: app::server::safe_http::Reach::AlsoLoopback,
            media_quota_bytes: 1_000_000_000,
            trusted_proxies: Vec::new(),
            report_wait_ms: 5_000,
            ice_servers: "[]".into(),
            google_issuer: "https://accounts.google.com".into(),
        };
        tweak(&mut settings);
        let options = leptos::config::LeptosOptions::builder()
            .output_name("switchboard")
            .site_root(dir.join("site").display().to_string())
            .site_addr(addr)
            .build();
        switchboard::startup::open(db_url, settings, [7u8; 32], options)
            .await
            .unwrap()
    }

    pub async fn finish(self) {
        self.server.abort();
        // Connections still held by in-flight work (a live stream, a request the aborted server
        // was finishing) must not keep the test waiting: the database is dropped by force below.
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), self.state.db.close()).await;
        if let Some(name) = self.pg_database {
            as_pg_admin(&[format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
                .await
                .unwrap();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// A browser: keeps cookies, sends a fixed user agent and our own Origin, never follows
    /// redirects (tests look at them).
    pub fn browser(&self) -> reqwest::Client {
        self.browser_with(UA, Some(&self.base))
    }

    pub fn browser_with(&self, user_agent: &str, origin: Option<&str>) -> reqwest::Client {
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_str(user_agent).unwrap());
        if let Some(origin) = origin {
            headers.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        client_builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .default_headers(headers)
            .build()
            .unwrap()
    }

    /// Calls the server function `F` with its arguments the way the hydrated app does (a
    /// form-encoded POST to its own path): a renamed function, or an argument renamed,
    /// added or retyped, fails to compile here.
    pub async fn call<F: server_fn::ServerFn + serde::Serialize>(
        &self,
        client: &reqwest::Client,
        arguments: F,
    ) -> Reply {
        // Encoded as the browser's own call encodes it (server_fn's URL encoding is serde_qs).
        let body = serde_qs::to_string(&arguments).expect("server function arguments encode");
        let path = path::<F>();
        answered(&format!("POST {path}"), async {
            let res = client
                .post(format!("{}{path}", self.base))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body)
                .send()
                .await
                .unwrap();
            Reply::read(res).await
        })
        .await
    }

    /// Calls `F` with a hand-made form: what a broken or hostile client may send (fields
    /// missing, one form sent to several functions), which its argument type can't express.
    pub async fn call_form<F: server_fn::ServerFn>(
        &self,
        client: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> Reply {
        self.call_path(client, path::<F>(), form).await
    }

    /// [`TestApp::call`] for tests that walk several functions (their [`path`]s).
    pub async fn call_path(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> Reply {
        answered(&format!("POST {path}"), async {
            let res = client
                .post(format!("{}{path}", self.base))
                .form(form)
                .send()
                .await
                .unwrap();
            Reply::read(res).await
        })
        .await
    }

    /// Posts raw bytes to `path` (uploads: pictures, voicemails), as the browser does.
    pub async fn post_bytes(&self, client: &reqwest::Client, path: &str, bytes: &[u8]) -> Reply {
        answered(&format!("POST {path}"), async {
            let res = client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/octet-stream")
                .body(bytes.to_vec())
                .send()
                .await
                .unwrap();
            Reply::read(res).await
        })
        .await
    }

    pub async fn get(&self, client: &reqwest::Client, path: &str) -> Reply {
        answered(&format!("GET {path}"), async {
            let res = client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap();
            Reply::read(res).await
        })
        .await
    }

    /// Creates an admin directly and returns a signed-in browser for them.
    pub async fn admin(&self, email: &str) -> reqwest::Client {
        app::server::accounts::setup::create_admin(&self.state.db, email, "Ada Admin", PASSWORD)
            .await
            .unwrap();
        self.signed_in(email, PASSWORD).await
    }

    /// Signs in as `email` with the shared test password on a new browser; answers the
    /// browser (holding the second step's challenge, when two-factor sign-in is on) and the
    /// reply.
    pub async fn password_step(&self, email: &str) -> (reqwest::Client, Reply) {
        let browser = self.browser();
        let sign_in = app::api::accounts::sign_in::SignIn {
            email: email.to_string(),
            password: PASSWORD.to_string(),
        };
        let reply = self.call(&browser, sign_in).await;
        (browser, reply)
    }

    pub async fn signed_in(&self, email: &str, password: &str) -> reqwest::Client {
        let client = self.browser();
        let reply = self
            .call(
                &client,
                app::api::accounts::sign_in::SignIn {
                    email: email.to_string(),
                    password: password.to_string(),
                },
            )
            .await;
        assert!(reply.is_ok(), "sign in as {email} failed: {reply:?}");
        client
    }

    /// Invites `email` as `role` (via `admin`) and accepts; returns the invitee's browser.
    pub async fn invited_user(
        &self,
        admin: &reqwest::Client,
        email: &str,
        role: &str,
    ) -> reqwest::Client {
        let token = self.invite(admin, "", role).await;
        let client = self.browser();
        let reply = self
            .call(
                &client,
                app::api::accounts::sign_in::AcceptInvite {
                    token: token.to_string(),
                    email: email.to_string(),
                    display_name: "Bea".into(),
                    password: PASSWORD.to_string(),
                },
            )
            .await;
        assert!(reply.is_ok(), "accepting invite failed: {reply:?}");
        client
    }

    /// Buys the first number `search` offers, as `client`.
    pub async fn buy(
        &self,
        client: &reqwest::Client,
        search: app::api::numbers::SearchNumbers,
    ) -> app::types::OwnedNumber {
        let area = search.area_code.clone();
        let offers: Vec<app::types::NumberOffer> = self.call(client, search).await.json();
        assert!(!offers.is_empty(), "the sandbox offers numbers in {area}");
        self.call(
            client,
            app::api::numbers::BuyNumber {
                e164: offers[0].e164.clone(),
            },
        )
        .await
        .json()
    }

    /// The id of the user with `email`, as an admin's user list shows it.
    pub async fn user_id(&self, admin: &reqwest::Client, email: &str) -> String {
        let users: Vec<app::types::UserInfo> = self
            .call(admin, app::api::accounts::admin::ListUsers {})
            .await
            .json();
        users
            .into_iter()
            .find(|u| u.email == email)
            .unwrap_or_else(|| panic!("no user {email}"))
            .id
    }

    /// Waits until `count` pictures (or voicemails) are kept in the media store.
    pub async fn media_stored(&self, count: i64) {
        eventually(10, "the media kept", || async {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM media WHERE state = 'stored'")
                .fetch_one(self.state.db.pool())
                .await
                .unwrap();
            (n == count).then_some(())
        })
        .await;
    }

    /// Creates an invitation; returns its token (the last path segment of its link).
    pub async fn invite(&self, admin: &reqwest::Client, email: &str, role: &str) -> String {
        let invite: app::types::InviteInfo = self
            .call(
                admin,
                app::api::accounts::admin::CreateInvite {
                    email: email.to_string(),
                    role: role.to_string(),
                    expires_in_days: 7,
                },
            )
            .await
            .json();
        invite.link.unwrap().rsplit('/').next().unwrap().to_string()
    }
}

/// A search for numbers in `area_code` (US), whatever they can do: the usual start of a
/// purchase. Narrow it with struct update syntax (`SearchNumbers { voice: true, ..numbers_in("212") }`).
pub fn numbers_in(area_code: &str) -> app::api::numbers::SearchNumbers {
    app::api::numbers::SearchNumbers {
        country: "US".into(),
        area_code: area_code.into(),
        contains: String::new(),
        sms: false,
        mms: false,
        voice: false,
    }
}

/// Where the server function `F` is reached (`/api/<endpoint>`).
pub fn path<F: server_fn::ServerFn>() -> &'static str {
    F::PATH
}

#[derive(Debug)]
pub struct Reply {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub async fn read(res: reqwest::Response) -> Reply {
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.text().await.unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status.is_success()
    }

    pub fn json<T: DeserializeOwned>(&self) -> T {
        assert!(self.is_ok(), "expected success, got {self:?}");
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", self.body))
    }

    /// The server function's error (panics if the call succeeded).
    pub fn error(&self) -> AppError {
        assert!(!self.is_ok(), "expected an error, got {self:?}");
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not an AppError ({e}): {self:?}"))
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }
}

/// Polls `check` until it returns Some, or panics after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if std::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// The carriers' published specs, signature vectors and examples: the repository's own copy
/// in `testdata/carriers` (or `SWITCHBOARD_CARRIER_DATA`). Missing data fails the test rather
/// than skipping it.
pub fn carrier_data() -> PathBuf {
    let dir = std::env::var("SWITCHBOARD_CARRIER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/carriers"));
    assert!(
        dir.join("telnyx").is_dir(),
        "carrier reference data not found at {} (set SWITCHBOARD_CARRIER_DATA)",
        dir.display()
    );
    dir
}

/// Waits for one request's answer, failing with the request's name when none comes: a hung
/// scenario says what it was waiting on.
pub async fn answered<T>(what: &str, request: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(30), request)
        .await
        .unwrap_or_else(|_| panic!("{what} got no answer within 30 s"))
}

/// Runs a scenario, failing it (rather than hanging the suite) after two minutes.
pub async fn within_limit(name: &str, scenario: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(std::time::Duration::from_secs(120), scenario)
        .await
        .is_err()
    {
        panic!("scenario {name} did not finish within 120 s");
    }
}
