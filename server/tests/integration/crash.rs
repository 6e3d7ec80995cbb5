//! Exactly-once sending through crashes: the real `switchboard` binary sends through Telnyx
//! (a counting mock that answers slowly and reports each message to the status callback it
//! was given, retrying until the report is taken, as Telnyx does) and is killed with SIGKILL
//! several times while it sends. Every text must reach the carrier once: none lost, none
//! twice. The same run with a carrier whose answers never arrive whole (as after a timeout)
//! must not send anything twice either. `scripts/bench` runs the long version (500 texts,
//! 10 kills) through the ignored `crash_loop_figures`.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use base64::Engine;
use ed25519_dalek::Signer;
use serde_json::{json, Value};

/// What the mock carrier has taken, by message text.
#[derive(Clone)]
struct Carrier {
    taken: Arc<Mutex<HashMap<String, usize>>>,
    example: Arc<Value>,
    answer: Answer,
}

/// How the mock carrier answers a send it has taken.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    /// After 400 ms: the window in which a kill lands between acceptance and our record.
    Slowly,
    /// Never whole: the answer breaks off mid-body, as a timeout or a dropped connection
    /// leaves it. The text was taken all the same.
    Broken,
}

fn signing_key() -> ed25519_dalek::SigningKey {
    let hex = common::TELNYX_TEST_SECRET_HEX;
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    ed25519_dalek::SigningKey::from_bytes(&key)
}

/// `POST /v2/messages`: counted on arrival, reported to `webhook_url`, answered slowly.
async fn send(
    State(carrier): State<Carrier>,
    Json(request): Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    // Taken on arrival: from here the text goes out whatever happens to the sender.
    let text = request["text"].as_str().unwrap_or_default().to_string();
    let id = uuid::Uuid::new_v4().to_string();
    *carrier.taken.lock().unwrap().entry(text).or_default() += 1;
    let callback = request["webhook_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut report = (*carrier.example).clone();
    report["data"]["id"] = json!(uuid::Uuid::new_v4().to_string());
    report["data"]["payload"]["id"] = json!(id);
    tokio::spawn(async move {
        // The report follows a moment later, and is retried until it is taken.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let http = crate::common::http();
        let body = serde_json::to_vec(&report).unwrap();
        for _ in 0..600 {
            let timestamp = (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs())
            .to_string();
            let mut signed = timestamp.as_bytes().to_vec();
            signed.push(b'|');
            signed.extend_from_slice(&body);
            let signature = base64::engine::general_purpose::STANDARD
                .encode(signing_key().sign(&signed).to_bytes());
            let delivered = http
                .post(&callback)
                .header("telnyx-timestamp", &timestamp)
                .header("telnyx-signature-ed25519", signature)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if delivered {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    // … and answers slowly: the window in which a kill lands between the carrier's
    // acceptance and our record of it.
    tokio::time::sleep(Duration::from_millis(400)).await;
    match carrier.answer {
        Answer::Slowly => Json(json!({ "data": { "id": id } })).into_response(),
        Answer::Broken => {
            let broken = futures::stream::iter([
                Ok(axum::body::Bytes::from_static(b"{\"data\": {\"id\"")),
                Err(std::io::Error::other("connection lost")),
            ]);
            (
                [("content-type", "application/json")],
                axum::body::Body::from_stream(broken),
            )
                .into_response()
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Instance {
    env: Vec<(String, String)>,
    base: String,
}

impl Instance {
    fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .envs(self.env.iter().cloned())
            .env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    }

    async fn start(&self) -> tokio::process::Child {
        let child = self.command().spawn().expect("start switchboard");
        let http = crate::common::http();
        for _ in 0..200 {
            if http
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return child;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("switchboard did not start");
    }
}

/// What a run ended with: texts the carrier never took, and texts it took more than once.
#[derive(Debug, PartialEq)]
struct Outcome {
    lost: Vec<usize>,
    twice: Vec<usize>,
}

/// What every run must end with: each text at the carrier exactly once.
const EVERY_TEXT_ONCE: Outcome = Outcome {
    lost: Vec::new(),
    twice: Vec::new(),
};

/// Queues `texts` texts to the mock carrier and kills the server `kills` times, `kill_every`
/// apart, restarting it each time; waits until nothing is left queued.
async fn run(texts: usize, kills: u32, kill_every: Duration, answer: Answer) -> Outcome {
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::carrier_data().join("telnyx/examples/webhooks/message.sent.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let carrier = Carrier {
        example: Arc::new(example),
        taken: Default::default(),
        answer,
    };
    let mock = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock_base = format!("http://{}/v2", mock.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/v2/messages", post(send))
        .with_state(carrier.clone());
    tokio::spawn(async move { axum::serve(mock, router).await.unwrap() });

    let dir = std::env::temp_dir().join(format!("switchboard-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let instance = Instance {
        base: format!("http://127.0.0.1:{port}"),
        env: [
            ("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}")),
            (
                "SWITCHBOARD_DATA_DIR",
                dir.join("data").display().to_string(),
            ),
            ("SWITCHBOARD_SITE_ROOT", dir.display().to_string()),
            ("SWITCHBOARD_LOG", "warn".into()),
            ("SWITCHBOARD_CARRIER", "telnyx".into()),
            ("SWITCHBOARD_TELNYX_API_KEY", "KEYtest".into()),
            ("SWITCHBOARD_TELNYX_API_BASE", mock_base),
            (
                "SWITCHBOARD_TELNYX_MESSAGING_PROFILE_ID",
                "profile-1".into(),
            ),
            (
                "SWITCHBOARD_TELNYX_PUBLIC_KEY",
                common::TELNYX_TEST_PUBLIC_KEY.into(),
            ),
            ("SWITCHBOARD_ADMIN_PASSWORD", common::PASSWORD.into()),
            ("SWITCHBOARD_DELIVERY_REPORT_WAIT_SECS", "8".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    };
    let created = instance
        .command()
        .args(["admin", "create", "--email", "ada@example.com"])
        .status()
        .await
        .unwrap();
    assert!(created.success());
    // Ada's Telnyx numbers (bought earlier, as far as this test cares): several, so
    // the per-number pace of one text a second doesn't make the test slow.
    let db = app::server::Db::connect(&format!(
        "sqlite://{}",
        dir.join("data/switchboard.db").display()
    ))
    .await
    .unwrap();
    let (user_id,): (String,) = sqlx::query_as("SELECT id FROM users")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let mut numbers = Vec::new();
    for i in 0..10 {
        let id = format!("number-{i}");
        sqlx::query(
                "INSERT INTO phone_numbers (id, user_id, e164, carrier, carrier_ref, capabilities, created_at)
                 VALUES ($1, $2, $3, 'telnyx', $1, 'sms', 0)",
            )
            .bind(&id)
            .bind(&user_id)
            .bind(format!("+1212555010{i}"))
            .execute(db.pool())
            .await
            .unwrap();
        numbers.push(id);
    }

    let mut server = instance.start().await;
    let ada = crate::common::client_builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let signed_in = ada
        .post(format!("{}/api/sign_in", instance.base))
        .header("origin", &instance.base)
        .form(&[("email", "ada@example.com"), ("password", common::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(signed_in.status().is_success(), "{signed_in:?}");
    for i in 0..texts {
        let sent = ada
            .post(format!("{}/api/send_message", instance.base))
            .header("origin", &instance.base)
            .form(&[
                ("number_id", numbers[i % numbers.len()].as_str()),
                ("to", "+12025550142"),
                ("body", &format!("text {i}")),
            ])
            .send()
            .await
            .unwrap();
        assert!(sent.status().is_success(), "{sent:?}");
    }
    // Kill it mid-send, again and again, restarting each time (a little off the beat,
    // so the kills land at different points of a send).
    for kill in 0..kills {
        tokio::time::sleep(kill_every + Duration::from_millis(170 * u64::from(kill % 5))).await;
        server.start_kill().unwrap();
        server.wait().await.unwrap();
        server = instance.start().await;
    }
    // Every text leaves the queue …
    let deadline = std::time::Instant::now() + Duration::from_secs(90 + texts as u64);
    loop {
        let left: Vec<(String, String, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT body, status, error_code, submitted_at FROM messages
                 WHERE status = 'queued' OR status = 'failed' ORDER BY body",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        if left.is_empty() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let jobs: Vec<(String, i64, Option<String>)> =
                sqlx::query_as("SELECT payload, attempts, last_error FROM jobs")
                    .fetch_all(db.pool())
                    .await
                    .unwrap();
            panic!(
                "texts not handed over: {left:?}\njobs: {jobs:?}\ncarrier took: {:?}",
                carrier.taken.lock().unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // … having reached the carrier how many times?
    let taken = carrier.taken.lock().unwrap().clone();
    let times = |i: usize| taken.get(&format!("text {i}")).copied().unwrap_or(0);
    server.start_kill().unwrap();
    let _ = server.wait().await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Outcome {
        lost: (0..texts).filter(|&i| times(i) == 0).collect(),
        twice: (0..texts).filter(|&i| times(i) > 1).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_reach_the_carrier_once_through_kill_9() {
    common::within_limit("kill -9 while sending", async {
        let outcome = run(40, 5, Duration::from_millis(900), Answer::Slowly).await;
        assert_eq!(outcome, EVERY_TEXT_ONCE);
    })
    .await;
}

/// A send whose answer never arrives whole (a timeout, a dropped connection) may have been
/// taken: it waits for the carrier's report instead of going out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_whose_answer_never_comes_goes_out_once() {
    common::within_limit("answers that never come", async {
        let outcome = run(10, 0, Duration::ZERO, Answer::Broken).await;
        assert_eq!(outcome, EVERY_TEXT_ONCE);
    })
    .await;
}

/// The bench's crash loop (`scripts/bench`): `CRASH_TEXTS` texts (500), `CRASH_KILLS` kills
/// (10) spread over the run; prints what was lost and what was sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/bench runs it"]
async fn crash_loop_figures() {
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (texts, kills) = (number("CRASH_TEXTS", 500), number("CRASH_KILLS", 10));
    // Sends go out about one per 400 ms (the mock's answer time): spread the kills over that.
    let kill_every = Duration::from_millis((texts as u64 * 400 / (kills as u64 + 1)).max(900));
    let started = std::time::Instant::now();
    let outcome = run(texts, kills as u32, kill_every, Answer::Slowly).await;
    println!(
        "crash loop: {texts} texts, {kills} kills (every ~{:.1} s) in {:.0} s -> lost {} (target 0), sent twice {} (target 0)",
        kill_every.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        outcome.lost.len(),
        outcome.twice.len()
    );
    assert_eq!(outcome, EVERY_TEXT_ONCE);
}

/// A connection left inside a transaction sqlx can't roll back (here: ended behind its back,
/// as SQLite ends one on some errors) is not handed out again. It was: SQLite's one writer
/// connection then refused every later BEGIN ("begin_with at non-zero transaction depth"),
/// jobs included, until a restart (seen in the end-to-end tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_left_inside_a_transaction_is_not_reused() {
    let app = common::TestApp::start(common::Backend::Sqlite).await;
    let db = &app.state.db;
    let mut transaction = db.begin().await.unwrap();
    sqlx::query("COMMIT")
        .execute(&mut *transaction)
        .await
        .unwrap();
    drop(transaction); // its ROLLBACK fails: sqlx still counts a transaction open
    let transaction = tokio::time::timeout(Duration::from_secs(10), db.begin())
        .await
        .expect("the writer is free")
        .expect("the next transaction begins");
    transaction.rollback().await.unwrap();
    app.finish().await;
}
