//! Messaging benchmarks (figures, not pass/fail; `scripts/bench` runs them):
//! 1. inbound ingest: signed Telnyx `message.received` webhooks over HTTP → verified → stored →
//!    event published, on SQLite, beside the raw SQLite single-row insert rate of the same run;
//! 2. webhook → SSE event latency (p50/p99) on loopback;
//! 3. conversation list and thread page with many messages, on SQLite and PostgreSQL;
//! 4. on that SQLite account: its data export (time, peak memory), then the retention purge
//!    of all its messages while webhooks arrive (their latency).
//!
//! Sizes: BENCH_INGEST (default 20000, per round; BENCH_ROUNDS, default 3), BENCH_MESSAGES (default 1000000, in 10000 conversations).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app::server::carrier::config::{CarrierConfig, TelnyxConfig};
use app::server::{AppState, Db, Settings};
use base64::Engine;
use ed25519_dalek::Signer;

const SECRET_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PUBLIC_B64: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn signing_key() -> ed25519_dalek::SigningKey {
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&SECRET_HEX[2 * i..2 * i + 2], 16).unwrap();
    }
    ed25519_dalek::SigningKey::from_bytes(&key)
}

async fn app(url: &str) -> (AppState, String, Db) {
    let db = Db::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let settings = Settings {
        public_url: url::Url::parse(&base).unwrap(),
        bind_session_to_ip: false,
        session_idle_ms: 86_400_000,
        sandbox_step_ms: 50,
        carrier: CarrierConfig {
            telnyx: TelnyxConfig {
                public_key: Some(PUBLIC_B64.into()),
                ..Default::default()
            },
            ..Default::default()
        },
        push_contact: None,
        media_dir: std::env::temp_dir()
            .join(format!("switchboard-bench-media-{}", std::process::id())),
        fetch_reach: app::server::safe_http::Reach::AlsoLoopback,
        media_quota_bytes: 1_000_000_000,
        trusted_proxies: Vec::new(),
        report_wait_ms: 120_000,
        ice_servers: "[]".into(),
        google_issuer: "https://accounts.google.com".into(),
    };
    let options = leptos::config::LeptosOptions::builder()
        .output_name("switchboard")
        .site_addr(addr)
        .build();
    let vapid = app::server::push::vapid_keys(&db, &[7u8; 32])
        .await
        .unwrap();
    let (state, reports) = AppState::new(db.clone(), settings, [7u8; 32], vapid, options);
    state.start_background_work(reports);
    let router = switchboard::build_router(state.clone());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (state, base, db)
}

/// A user with one number; returns (user id, number e164, session cookie).
async fn owner(state: &AppState, base: &str) -> (String, String, String) {
    let user_id = app::server::accounts::setup::create_admin(
        &state.db,
        "bench@example.com",
        "Bench",
        "bench password 1",
    )
    .await
    .unwrap();
    sqlx::query("INSERT INTO phone_numbers (id, user_id, e164, carrier, carrier_ref, capabilities, created_at) VALUES ('n1', $1, '+12125550100', 'sandbox', 'x', 'sms', 0)")
        .bind(&user_id)
        .execute(state.db.pool())
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .user_agent("bench")
        .build()
        .unwrap();
    let res = client
        .post(format!("{base}/api/sign_in"))
        .header("origin", base)
        .form(&[
            ("email", "bench@example.com"),
            ("password", "bench password 1"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (user_id.into_string(), "+12125550100".into(), cookie)
}

/// Event ids for the answering number's texts start here (each id is taken once).
const ANSWERED_IDS: usize = 10_000_000;

/// A second number of the bench's owner with 20 keyword rules and an away message.
async fn answering_number(state: &AppState) -> String {
    use app::server::ids::{NumberId, UserId};
    use app::server::messaging::auto_reply;
    let (user_id,): (String,) = sqlx::query_as("SELECT user_id FROM phone_numbers WHERE id = 'n1'")
        .fetch_one(state.db.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO phone_numbers (id, user_id, e164, carrier, carrier_ref, capabilities, created_at) VALUES ('n2', $1, '+12125550101', 'sandbox', 'y', 'sms', 0)")
        .bind(&user_id)
        .execute(state.db.pool())
        .await
        .unwrap();
    let (user_id, number_id) = (UserId::new(user_id), NumberId::new("n2"));
    let rules = (0..20)
        .map(|i| app::types::ReplyRule {
            matching: if i % 2 == 0 { "exact" } else { "contains" }.into(),
            keyword: format!("keyword{i}"),
            reply: format!("Reply {i}"),
        })
        .collect();
    auto_reply::set_rules(state, &user_id, &number_id, rules)
        .await
        .unwrap();
    let away = auto_reply::AwayInput {
        mode: "always",
        text: "Away until Monday.",
        days: &[],
        opens: "09:00",
        closes: "17:00",
        time_zone: "UTC",
    };
    auto_reply::set_away(state, &user_id, &number_id, away)
        .await
        .unwrap();
    "+12125550101".into()
}

fn webhook(i: usize, to: &str) -> String {
    serde_json::json!({"data": {"event_type": "message.received", "id": format!("evt-{i}"), "occurred_at": "2026-01-01T00:00:00Z",
        "payload": {"id": format!("msg-{i}"), "text": format!("bench message {i}"), "from": {"phone_number": format!("+1202555{:04}", i % 10000)},
        "to": [{"phone_number": to}], "errors": []}}})
    .to_string()
}

/// A webhook as Telnyx sends it: body, timestamp, Ed25519 signature.
struct Signed {
    body: String,
    ts: String,
    sig: String,
}

fn sign(key: &ed25519_dalek::SigningKey, body: String) -> Signed {
    let ts = (app::server::now_ms() / 1000).to_string();
    let sig = base64::engine::general_purpose::STANDARD
        .encode(key.sign(format!("{ts}|{body}").as_bytes()).to_bytes());
    Signed { body, ts, sig }
}

async fn post_signed(
    client: &reqwest::Client,
    base: &str,
    key: &ed25519_dalek::SigningKey,
    body: String,
) {
    post(client, base, sign(key, body)).await
}

async fn post(client: &reqwest::Client, base: &str, Signed { body, ts, sig }: Signed) {
    let res = client
        .post(format!("{base}/webhooks/telnyx"))
        .header("telnyx-timestamp", ts)
        .header("telnyx-signature-ed25519", sig)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// A signed webhook as the bytes of an HTTP/1.1 request.
fn raw_request(host: &str, Signed { body, ts, sig }: &Signed) -> Vec<u8> {
    format!(
        "POST /webhooks/telnyx HTTP/1.1\r\nhost: {host}\r\ntelnyx-timestamp: {ts}\r\n\
         telnyx-signature-ed25519: {sig}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Writes one request on a keep-alive connection and reads its whole answer; returns the
/// status.
async fn exchange(
    connection: &mut tokio::net::TcpStream,
    request: &[u8],
    buffer: &mut Vec<u8>,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    connection.write_all(request).await.unwrap();
    buffer.clear();
    loop {
        if let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if buffer.len() >= head_end + 4 + length {
                return head[9..12].parse().unwrap();
            }
        }
        let mut chunk = [0u8; 1024];
        let read = connection.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the server closed the connection");
        buffer.extend_from_slice(&chunk[..read]);
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Single-row autocommit inserts into a plain table, 16 at a time, through the app's pool.
async fn raw_insert_rate(db: &Db, ids: std::ops::Range<usize>) -> f64 {
    let count = ids.len();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (db, ids) = (db.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            for i in ids.skip(w).step_by(16) {
                sqlx::query("INSERT INTO bench_raw (id, body, at) VALUES ($1, $2, $3)")
                    .bind(format!("r{i}"))
                    .bind("bench message")
                    .bind(i as i64)
                    .execute(db.pool())
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// Webhooks signed beforehand (signing is the carrier's work, not ours) and written as
/// ready-made HTTP/1.1 requests over 16 keep-alive connections, like `wrk` would: a full
/// HTTP client would spend a good part of the two cores the server needs.
async fn ingest_rate(base: &str, number: &str, ids: std::ops::Range<usize>) -> f64 {
    let key = signing_key();
    let host = base.trim_start_matches("http://").to_string();
    let count = ids.len();
    let mut batches: Vec<Vec<Vec<u8>>> = (0..16).map(|_| Vec::new()).collect();
    for i in ids {
        batches[i % 16].push(raw_request(&host, &sign(&key, webhook(i, number))));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for batch in batches {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let mut connection = tokio::net::TcpStream::connect(&host).await.unwrap();
            connection.set_nodelay(true).unwrap();
            let mut buffer = Vec::with_capacity(1024);
            for request in batch {
                assert_eq!(exchange(&mut connection, &request, &mut buffer).await, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    count as f64 / started.elapsed().as_secs_f64()
}

async fn ingest_and_latency() {
    let dir = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let (state, base, db) = app(&url).await;
    let (_user, number, cookie) = owner(&state, &base).await;
    let n = env_usize("BENCH_INGEST", 20_000);

    let rounds = env_usize("BENCH_ROUNDS", 3);
    sqlx::query(
        "CREATE TABLE bench_raw (id TEXT PRIMARY KEY, body TEXT NOT NULL, at BIGINT NOT NULL)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    // A second number answers for its owner: 20 keyword rules (none matching the bench's
    // texts, so every rule is tried) and an away message that answers always (once per peer).
    let answering = answering_number(&state).await;
    // Rounds alternate raw inserts and ingest, so a slow spell of this shared machine
    // weighs on both; the medians are reported.
    let (mut raw_rates, mut ingest_rates, mut answered_rates) =
        (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        raw_rates.push(raw_insert_rate(&db, round * n..(round + 1) * n).await);
        ingest_rates.push(ingest_rate(&base, &number, round * n..(round + 1) * n).await);
        let answered = ANSWERED_IDS + round * n..ANSWERED_IDS + (round + 1) * n;
        answered_rates.push(ingest_rate(&base, &answering, answered).await);
    }
    let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE direction = 'in'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(stored as usize, 2 * rounds * n);
    let (away_sent,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE automatic = 1")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let median = |rates: &mut Vec<f64>| {
        rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
        percentile(rates, 0.5)
    };
    let round_list = |rates: &[f64]| {
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "ingest (SQLite, {rounds} rounds of {n} signed Telnyx webhooks over HTTP, 16 connections):"
    );
    println!(
        "    raw single-row inserts: rounds {}",
        round_list(&raw_rates)
    );
    println!(
        "    webhook ingest:         rounds {}",
        round_list(&ingest_rates)
    );
    println!(
        "    with 20 rules + away:   rounds {}  ({away_sent} away messages sent, all in round 1)",
        round_list(&answered_rates)
    );
    // Each round's answering rate against the plain rate of the same round (rounds alternate,
    // and the database grows between them, so a round is compared with its own plain run).
    // Round 1 is the first contact: every one of its 10,000 peers gets the away message,
    // 10,000 texts queued and sent; later rounds are the steady state, peers answered lately.
    let ratios: Vec<f64> = answered_rates
        .iter()
        .zip(&ingest_rates)
        .map(|(answered, plain)| 100.0 * answered / plain)
        .collect();
    let (raw_rate, ingest_rate) = (median(&mut raw_rates), median(&mut ingest_rates));
    println!("    medians: raw {raw_rate:.0}/s, ingest {ingest_rate:.0}/s = {:.0}% of raw  (targets: >= 5000/s, >= 40%)", 100.0 * ingest_rate / raw_rate);
    println!(
        "    answered / plain, per round: {}",
        ratios
            .iter()
            .map(|r| format!("{r:.0}%"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The lowest of the steady rounds (with two of them, a median would be the higher).
    if let Some(steady) = ratios.iter().skip(1).copied().reduce(f64::min) {
        println!("    with 20 keyword rules and an away message: {steady:.0}% of plain ingest once peers have had it (lowest of rounds 2..; target: >= 80%); first contact, each text answered: {:.0}%", ratios[0]);
    }

    // Latency: webhook posted → event read from an open SSE stream.
    let key = signing_key();
    let client = reqwest::Client::new();
    let sse_client = reqwest::Client::builder()
        .user_agent("bench")
        .build()
        .unwrap();
    let mut stream = sse_client
        .get(format!("{base}/events"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let mut samples = Vec::new();
    for i in 0..500 {
        let body = webhook(rounds * n + i, &number);
        let started = Instant::now();
        post_signed(&client, &base, &key, body).await;
        let mut seen = String::new();
        while !seen.contains("\"conversations\"") {
            let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "webhook -> SSE event (SQLite, loopback, 500 runs): p50 {:.2} ms, p99 {:.2} ms  (target: p99 < 50 ms)",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99)
    );
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Fills `messages` conversations × per_conversation rows fast (multi-row inserts in one
/// transaction), then times the conversation list and a thread page through the real queries.
async fn list_and_thread(label: &str, url: &str) {
    let db = Db::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    let total = env_usize("BENCH_MESSAGES", 1_000_000);
    let conversations = 10_000.min(total.max(1));
    let user_id = app::server::accounts::setup::create_admin(
        &db,
        "bench@example.com",
        "Bench",
        "bench password 1",
    )
    .await
    .unwrap();
    sqlx::query("INSERT INTO phone_numbers (id, user_id, e164, carrier, carrier_ref, capabilities, created_at) VALUES ('n1', $1, '+12125550100', 'sandbox', 'x', 'sms', 0)")
        .bind(&user_id)
        .execute(db.pool())
        .await
        .unwrap();
    let started = Instant::now();
    let mut tx = db.begin().await.unwrap();
    for chunk in (0..conversations).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|c| {
                format!(
                    "('c{c}', '{user_id}', 'n1', '+1202{:07}', {c}, 'preview {c}', 0)",
                    c
                )
            })
            .collect();
        sqlx::query(&format!("INSERT INTO conversations (id, user_id, number_id, peer, last_at, last_preview, unread) VALUES {}", values.join(",")))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let ids: Vec<usize> = (0..total).collect();
    for chunk in ids.chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|m| {
                let c = m % conversations;
                format!("('m{m}', 'c{c}', '{user_id}', 'in', 'message body {m}', 'received', 1, {m}, {m})")
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO messages (id, conversation_id, user_id, direction, body, status, segments, created_at, updated_at) VALUES {}",
            values.join(",")
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // Fresh bulk data has no planner statistics or visibility map yet; in service autovacuum
    // keeps both, and left to itself here it would run in the middle of the measurements.
    // Likewise the bulk fill leaves hundreds of MB of dirty pages that a checkpoint (SQLite's
    // background one, PostgreSQL's timed one) would be writing out during the measurements;
    // in service each checkpoint writes a little.
    let settle: &[&str] = match db.backend() {
        app::server::Backend::Postgres => &["VACUUM ANALYZE", "CHECKPOINT"],
        app::server::Backend::Sqlite => &["PRAGMA wal_checkpoint(TRUNCATE)"],
    };
    for statement in settle {
        sqlx::query(statement).execute(db.pool()).await.unwrap();
    }
    let fill = started.elapsed();
    let mut list = Vec::new();
    let mut thread = Vec::new();
    for i in 0..300 {
        let t = Instant::now();
        let convs = app::server::messaging::list(&db, &user_id).await.unwrap();
        list.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(convs.len(), 200);
        let t = Instant::now();
        let page = app::server::messaging::thread(
            &db,
            &user_id,
            &app::server::ids::ConversationId::new(format!("c{}", (i * 37) % conversations)),
        )
        .await
        .unwrap();
        thread.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!page.messages.is_empty());
    }
    list.sort_by(|a, b| a.partial_cmp(b).unwrap());
    thread.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{label}: {total} messages in {conversations} conversations (filled in {:.1} s)\n    conversation list (200 rows): p50 {:.2} ms, p99 {:.2} ms\n    thread page (200 messages):   p50 {:.2} ms, p99 {:.2} ms  (targets: p99 < 5 ms)",
        fill.as_secs_f64(),
        percentile(&list, 0.5),
        percentile(&list, 0.99),
        percentile(&thread, 0.5),
        percentile(&thread, 0.99)
    );
    db.close().await;
}

/// VmHWM and VmRSS of this process, in MB.
fn memory_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// On the SQLite database `list_and_thread` filled (one account, 1M messages): the account's
/// export (time, peak memory), then the retention purge of every message (all are older
/// than 90 days) while signed webhooks keep arriving (their latency).
async fn export_and_purge(url: &str) {
    // Kept forever until the purge below: the hourly housekeeping runs once at start, and
    // must not purge while the export is measured.
    {
        let db = Db::connect(url).await.unwrap();
        app::server::instance_settings::put(&db, "retention_days", "0")
            .await
            .unwrap();
        db.close().await;
    }
    let (state, base, db) = app(url).await;
    let (user_id,): (String,) =
        sqlx::query_as("SELECT id FROM users WHERE email = 'bench@example.com'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let user_id = app::server::ids::UserId::new(user_id);
    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages")
        .fetch_one(db.pool())
        .await
        .unwrap();

    // Export: the zip is written to a counting sink (the network's part is the client's).
    // The peak is measured from here: writing 5 to clear_refs resets VmHWM (Linux).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (_, before) = memory_mb();
    let (sink, mut reader) = tokio::io::duplex(64 * 1024);
    let counting = tokio::spawn(async move {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut bytes = 0usize;
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut reader, &mut buffer)
                .await
                .unwrap();
            if n == 0 {
                return bytes;
            }
            bytes += n;
        }
    });
    let started = Instant::now();
    app::server::export::write_zip(&state, &user_id, sink)
        .await
        .unwrap();
    let took = started.elapsed();
    let bytes = counting.await.unwrap();
    let (peak, _) = memory_mb();
    println!(
        "export (SQLite, one account with {total} messages): {:.1} s, zip {:.0} MB; peak RSS {peak:.0} MB, {:.0} MB over the {before:.0} MB before it  (target: streamed, < 100 MB)",
        took.as_secs_f64(),
        bytes as f64 / 1e6,
        peak - before
    );

    // Retention purge of everything while texts arrive, 100 a second, one at a time.
    app::server::instance_settings::put(&db, "retention_days", "90")
        .await
        .unwrap();
    let purging = {
        let state = state.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let purged = app::server::retention::purge(&state).await.unwrap();
            (purged.messages, started.elapsed())
        })
    };
    let key = signing_key();
    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    let mut i = 20_000_000;
    while !purging.is_finished() {
        let signed = sign(&key, webhook(i, "+12125550100"));
        let t = Instant::now();
        post(&client, &base, signed).await;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        i += 1;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (purged, took) = purging.await.unwrap();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "retention purge (SQLite): {purged} messages in {:.1} s ({} batches of {}) while {} texts arrived: ingest p50 {:.2} ms, p99 {:.2} ms  (target: p99 < 50 ms)",
        took.as_secs_f64(),
        (purged as i64 + app::server::retention::BATCH - 1) / app::server::retention::BATCH,
        app::server::retention::BATCH,
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    state
        .stop_background_work(std::time::Duration::from_secs(5))
        .await;
    db.close().await;
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; nothing to list.
    }
    // BENCH_ONLY=ingest, lists or export: a quicker loop while working on one of them.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only != "lists" && only != "export" {
        ingest_and_latency().await;
    }
    if only == "ingest" {
        return;
    }
    let dir = std::env::temp_dir().join(format!("switchboard-bench-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite_url = format!("sqlite://{}", dir.join("list.db").display());
    list_and_thread("SQLite", &sqlite_url).await;
    if only != "lists" {
        export_and_purge(&sqlite_url).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if only == "export" {
        return;
    }

    let admin_url = std::env::var("SWITCHBOARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("sb_bench_{}", std::process::id());
    let admin = Db::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    list_and_thread("PostgreSQL", url.as_str()).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(admin.pool())
        .await
        .unwrap();
}
