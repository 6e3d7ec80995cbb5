//! Safe on the open internet: each rule here is tested with the attack it stops, against the
//! real router on both backends.

use crate::common;

use app::error::AppError;
use app::server::safe_http::Reach;
use app::server::{throttle, Settings};
use app::types::{PushDevice, SessionInfo};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{eventually, path, TestApp, PASSWORD};

/// Runs each `scenario` on both backends with settings changed by `tweak`.
macro_rules! tweaked_on_both_backends {
    ($($scenario:ident => $tweak:ident),* $(,)?) => {
        mod tweaked_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let app = $crate::common::TestApp::start_with($crate::common::Backend::Sqlite, super::$tweak).await;
                $crate::common::within_limit(stringify!($scenario), super::$scenario(&app)).await;
                app.finish().await;
            })*
        }
        mod tweaked_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let app = $crate::common::TestApp::start_with($crate::common::Backend::Postgres, super::$tweak).await;
                $crate::common::within_limit(stringify!($scenario), super::$scenario(&app)).await;
                app.finish().await;
            })*
        }
    };
}

fn blank_secrets(settings: &mut Settings) {
    settings.carrier.twilio.auth_token = Some(String::new());
    settings.carrier.telnyx.public_key = Some("  ".into());
}

fn public_only(settings: &mut Settings) {
    settings.fetch_reach = Reach::Public;
}

fn behind_a_proxy(settings: &mut Settings) {
    settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

fn small_media_quota(settings: &mut Settings) {
    settings.media_quota_bytes = 10_000;
}

async fn blank_secrets_switch_no_webhook_on(app: &TestApp) {
    let http = crate::common::http();
    let url = format!("{}/webhooks/twilio", app.base);
    let form = vec![("MessageSid".to_string(), "SM1".to_string())];
    // A signature under the empty key is one anyone can compute.
    let forged = app::server::carrier::twilio::compute("", &url, &form);
    let res = http
        .post(&url)
        .header("x-twilio-signature", forged)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "a blank auth token must not enable the webhook"
    );
    let res = http
        .post(format!("{}/webhooks/telnyx", app.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

async fn sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> common::Reply {
    app.call(
        client,
        app::api::accounts::sign_in::SignIn {
            email: email.to_string(),
            password: password.to_string(),
        },
    )
    .await
}

async fn parallel_guesses_check_at_most_the_limit(app: &TestApp) {
    app.admin("ada@example.com").await;
    let guesses = (0..60).map(|i| {
        let client = app.browser();
        async move {
            sign_in(
                app,
                &client,
                "ada@example.com",
                &format!("guess number {i}"),
            )
            .await
            .status
            .as_u16()
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 400).count() as i64;
    let refused = statuses.iter().filter(|s| **s == 429).count() as i64;
    assert_eq!(checked + refused, 60, "{statuses:?}");
    assert!(
        checked <= throttle::PER_ACCOUNT,
        "{checked} parallel guesses were checked; the limit is {}",
        throttle::PER_ACCOUNT
    );
    let (peak, permits) = app::server::crypto::hashing_peak();
    assert!(
        peak <= permits,
        "{peak} password hashes ran at once (permits: {permits})"
    );
    // A delay, not a lock-out: once it has passed, the owner gets in.
    sqlx::query("UPDATE sign_in_failures SET at = at - $1")
        .bind(throttle::ACCOUNT_MAX_DELAY_MS)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let owner = sign_in(app, &app.browser(), "ada@example.com", PASSWORD).await;
    assert!(owner.is_ok(), "{owner:?}");
}

async fn costly_actions_are_throttled(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    // Password changes: each checks a password, so a stolen session can't guess with them.
    let mut last = None;
    for _ in 0..=throttle::PASSWORD_CHANGES.per_window {
        last = Some(
            app.call(
                &ada,
                app::api::accounts::settings::ChangePassword {
                    current_password: "not it at all".into(),
                    new_password: "another good password".into(),
                    confirm_password: "another good password".into(),
                },
            )
            .await,
        );
    }
    let last = last.unwrap();
    assert_eq!(last.status, 429, "{last:?}");
    assert!(matches!(last.error(), AppError::Throttled(_)));
    // Test alerts.
    let mut statuses = Vec::new();
    for _ in 0..=throttle::TEST_ALERTS.per_window {
        statuses.push(
            app.call(&ada, app::api::push::PushTest {})
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // Invitations.
    for _ in 0..throttle::INVITATIONS.per_window {
        app.invite(&ada, "", "user").await;
    }
    let over = app
        .call(
            &ada,
            app::api::accounts::admin::CreateInvite {
                email: "".into(),
                role: "user".into(),
                expires_in_days: 7,
            },
        )
        .await;
    assert_eq!(over.status, 429, "{over:?}");
    // Uploads: a plain route answers a throttled request as a server function does (429
    // and the error's JSON), not 500.
    let png = include_bytes!("../../../public/icons/icon-192.png");
    let mut last = None;
    for _ in 0..=throttle::UPLOADS.per_window {
        last = Some(
            ada.post(format!("{}/media", app.base))
                .body(png.to_vec())
                .send()
                .await
                .unwrap(),
        );
    }
    let last = last.unwrap();
    assert_eq!(last.status(), 429);
    let error = AppError::from_json(&last.text().await.unwrap());
    assert!(matches!(error, Some(AppError::Throttled(_))), "{error:?}");
}

fn device_keys() -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode([4u8; 65]),
        URL_SAFE_NO_PAD.encode([5u8; 16]),
    )
}

async fn subscribe(app: &TestApp, client: &reqwest::Client, endpoint: &str) -> common::Reply {
    let (p256dh, auth) = device_keys();
    app.call(
        client,
        app::api::push::PushSubscribe {
            endpoint: endpoint.to_string(),
            p256dh: p256dh.to_string(),
            auth: auth.to_string(),
        },
    )
    .await
}

async fn push_endpoints_must_be_public(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    for endpoint in [
        "http://127.0.0.1:9/push",
        "https://127.0.0.1:9/push",
        "https://localhost:9/push",
        "https://10.0.0.7/push",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/push",
        "https://[fd00::1]/push",
        "https://100.64.0.1/push",
        "ftp://push.example/x",
    ] {
        let reply = subscribe(app, &ada, endpoint).await;
        assert!(
            matches!(reply.error(), AppError::Invalid(_)),
            "{endpoint} was accepted: {reply:?}"
        );
    }
    let devices: Vec<PushDevice> = app.call(&ada, app::api::push::PushDevices {}).await.json();
    assert!(devices.is_empty());
}

async fn push_devices_are_capped(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    for i in 0..app::server::push::MAX_DEVICES_PER_USER {
        let reply = subscribe(app, &ada, &format!("http://127.0.0.1:9/device-{i}")).await;
        assert!(reply.is_ok(), "{reply:?}");
    }
    let over = subscribe(app, &ada, "http://127.0.0.1:9/one-too-many").await;
    assert!(matches!(over.error(), AppError::Invalid(m) if m.contains("devices")));
    // The same device again is no new device.
    assert!(subscribe(app, &ada, "http://127.0.0.1:9/device-0")
        .await
        .is_ok());
}

async fn subscriptions(app: &TestApp) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM push_subscriptions")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .0
}

async fn a_session_takes_its_alerts_with_it(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let laptop = app.signed_in("ada@example.com", PASSWORD).await;
    subscribe(app, &ada, "http://127.0.0.1:9/phone").await;
    subscribe(app, &laptop, "http://127.0.0.1:9/laptop").await;
    assert_eq!(subscriptions(app).await, 2);
    // "Sign out other devices" from the phone: the laptop's alerts stop.
    assert!(app
        .call(&ada, app::api::accounts::settings::RevokeOtherSessions {})
        .await
        .is_ok());
    assert_eq!(subscriptions(app).await, 1);
    // Signing out: the phone's too.
    app.call(&ada, app::api::accounts::sign_in::SignOut {})
        .await;
    assert_eq!(subscriptions(app).await, 0);

    // A password change ends the other sessions, and their alerts.
    let phone = app.signed_in("ada@example.com", PASSWORD).await;
    let laptop = app.signed_in("ada@example.com", PASSWORD).await;
    subscribe(app, &laptop, "http://127.0.0.1:9/laptop").await;
    let changed = app
        .call(
            &phone,
            app::api::accounts::settings::ChangePassword {
                current_password: PASSWORD.to_string(),
                new_password: "a brand new password".into(),
                confirm_password: "a brand new password".into(),
            },
        )
        .await;
    assert!(changed.is_ok(), "{changed:?}");
    assert_eq!(subscriptions(app).await, 0);

    // Disabling an account ends its alerts.
    let bea = app.invited_user(&phone, "bea@example.com", "user").await;
    subscribe(app, &bea, "http://127.0.0.1:9/bea").await;
    assert_eq!(subscriptions(app).await, 1);
    let users: Vec<app::types::UserInfo> = app
        .call(&phone, app::api::accounts::admin::ListUsers {})
        .await
        .json();
    let bea_id = users
        .iter()
        .find(|u| u.email == "bea@example.com")
        .unwrap()
        .id
        .clone();
    let disabled = app
        .call(
            &phone,
            app::api::accounts::admin::SetUserDisabled {
                user_id: bea_id.to_string(),
                disabled: true,
            },
        )
        .await;
    assert!(disabled.is_ok(), "{disabled:?}");
    assert_eq!(subscriptions(app).await, 0);
}

async fn sign_out_closes_the_live_stream(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let mut stream = ada
        .get(format!("{}/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    app.call(&ada, app::api::accounts::sign_in::SignOut {})
        .await;
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match stream.chunk().await {
                Ok(Some(_)) => continue, // a keep-alive or an event
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the live stream stayed open after sign-out");
}

async fn live_streams_per_user_are_capped(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let mut open = Vec::new();
    for _ in 0..app::server::events::MAX_STREAMS_PER_USER {
        let res = ada
            .get(format!("{}/events", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        open.push(res);
    }
    let over = ada
        .get(format!("{}/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), 429);
    // Closing one makes room again.
    drop(open.pop());
    eventually(5, "a freed stream slot", || async {
        let res = ada
            .get(format!("{}/events", app.base))
            .send()
            .await
            .unwrap();
        (res.status() == 200).then_some(())
    })
    .await;
}

async fn session_ips(app: &TestApp, client: &reqwest::Client) -> Vec<String> {
    let sessions: Vec<SessionInfo> = app
        .call(client, app::api::accounts::settings::ListSessions {})
        .await
        .json();
    sessions.into_iter().map(|s| s.ip).collect()
}

async fn sign_in_from(app: &TestApp, forwarded_for: &str) -> reqwest::Client {
    let client = app.browser();
    let res = client
        .post(format!("{}/api/sign_in", app.base))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{res:?}"
    );
    client
}

async fn forwarded_addresses_count_only_from_trusted_proxies(app: &TestApp) {
    app::server::accounts::setup::create_admin(&app.state.db, "ada@example.com", "Ada", PASSWORD)
        .await
        .unwrap();
    let ada = sign_in_from(app, "198.51.100.7, 203.0.113.9").await;
    // This app trusts 127.0.0.1 (the test's own connection) as its proxy.
    assert_eq!(
        session_ips(app, &ada).await,
        vec!["203.0.113.9".to_string()]
    );
}

async fn forwarded_addresses_from_anyone_else_are_ignored(app: &TestApp) {
    app::server::accounts::setup::create_admin(&app.state.db, "ada@example.com", "Ada", PASSWORD)
        .await
        .unwrap();
    let ada = sign_in_from(app, "203.0.113.9").await;
    assert_eq!(session_ips(app, &ada).await, vec!["127.0.0.1".to_string()]);
}

/// Behind a proxy, one client's bad sign-ins throttle that client, not everyone.
async fn behind_a_proxy_one_clients_failures_are_its_own(app: &TestApp) {
    app::server::accounts::setup::create_admin(&app.state.db, "ada@example.com", "Ada", PASSWORD)
        .await
        .unwrap();
    let attacker = app.browser();
    for i in 0..throttle::PER_IP {
        attacker
            .post(format!("{}/api/sign_in", app.base))
            .header("x-forwarded-for", "198.51.100.66")
            .form(&[
                ("email", format!("user{i}@example.com")),
                ("password", "guess".into()),
            ])
            .send()
            .await
            .unwrap();
    }
    // The attacker's address is paused …
    let res = attacker
        .post(format!("{}/api/sign_in", app.base))
        .header("x-forwarded-for", "198.51.100.66")
        .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // … everyone else behind the same proxy is not.
    sign_in_from(app, "203.0.113.9").await;
}

async fn pictures_stop_at_the_users_quota(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let png = include_bytes!("../../../public/icons/icon-192.png");
    let upload = || async {
        ada.post(format!("{}/media", app.base))
            .body(png.to_vec())
            .send()
            .await
            .unwrap()
    };
    let mut statuses = Vec::new();
    for _ in 0..(10_000 / png.len() + 2) {
        statuses.push(upload().await.status().as_u16());
    }
    assert_eq!(statuses.first(), Some(&201));
    assert_eq!(statuses.last(), Some(&400), "{statuses:?}");
}

async fn uploads_need_a_session_before_their_body_is_read(app: &TestApp) {
    let anon = app.browser();
    let res = anon
        .post(format!("{}/media", app.base))
        .body(vec![0u8; 5_000_000])
        .send()
        .await;
    // Refused (401) without reading the body: the server may even close the connection
    // while the client is still sending.
    if let Ok(res) = res {
        assert_eq!(res.status(), 401);
    }
}

/// A stranger's sandbox webhook is refused on its headers: the server does not wait for (or
/// buffer) the megabytes it announces.
async fn unsigned_sandbox_bodies_are_refused_before_they_are_read(app: &TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    for signature in ["forged", "t=1,permit=AAAA,body=AAAA"] {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let head = format!(
            "POST /webhooks/sandbox HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
             x-sandbox-signature: {signature}\r\ncontent-length: 6000000\r\n\r\n{{\"type\":"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // The rest of the 6 MB never comes: an answer can only come from the headers.
        let mut answer = vec![0u8; 64];
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
                .await
                .expect("answered without waiting for the body")
                .unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.starts_with("HTTP/1.1 401"), "{signature}: {answer}");
    }
}

/// Building a router once listed the app's routes with resource loading switched off for
/// the whole process, so a page rendering meanwhile (on any router) never finished: the
/// suite's once-in-seven hang. Pages must render while other routers are being built.
async fn pages_render_while_other_routers_are_built(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let builder = {
        let state = app.state.clone();
        tokio::task::spawn_blocking(move || {
            for _ in 0..200 {
                drop(switchboard::build_router(state.clone()));
            }
        })
    };
    for _ in 0..40 {
        let page = app.get(&ada, "/inbox").await;
        assert_eq!(page.status, 200);
        let page = app.get(&app.browser(), "/invite/nonsense").await;
        assert!(page.body.contains("<html"), "{page:?}");
    }
    builder.await.unwrap();
}

async fn pages_carry_the_security_headers(app: &TestApp) {
    let page = app.get(&app.browser(), "/signin").await;
    assert_eq!(page.status, 200);
    let header = |name: &str| {
        page.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let csp = header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("object-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // Every inline script carries this response's nonce, and only this response's.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");
    let inline_scripts =
        page.body.matches("<script").count() - page.body.matches("<script src=").count();
    assert!(inline_scripts >= 1, "{}", page.body);
    assert_eq!(
        page.body.matches(&format!("nonce=\"{nonce}\"")).count(),
        inline_scripts,
        "an inline script without the nonce: {}",
        page.body
    );
    let again = app.get(&app.browser(), "/signin").await;
    assert!(!again.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(nonce));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "same-origin");
    assert!(header("permissions-policy").contains("microphone=(self)"));
    assert_eq!(header("cache-control"), "no-store");
    assert!(
        page.headers.get("strict-transport-security").is_none(),
        "HSTS over plain http"
    );
    // Answers that are not pages are covered too.
    let api = app
        .call(&app.browser(), app::api::accounts::sign_in::SignedInUser {})
        .await;
    assert_eq!(api.headers["x-content-type-options"], "nosniff");
}

async fn the_client_is_served_compressed_and_kept(app: &TestApp) {
    let pkg = std::path::Path::new(&*app.state.leptos_options.site_root).join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let name = "switchboard.0123456789abcdef.js";
    let js = "export function hydrate() {}\n".repeat(200);
    std::fs::write(pkg.join(name), &js).unwrap();
    std::fs::write(pkg.join(format!("{name}.br")), b"pretend brotli").unwrap();
    std::fs::write(pkg.join(format!("{name}.gz")), b"pretend gzip").unwrap();
    let http = crate::common::http();
    let get = |encoding: &'static str| {
        let http = http.clone();
        let url = format!("{}/pkg/{name}", app.base);
        async move {
            http.get(url)
                .header("accept-encoding", encoding)
                .send()
                .await
                .unwrap()
        }
    };
    let br = get("gzip, br").await;
    assert_eq!(br.status(), 200);
    assert_eq!(br.headers()["content-encoding"], "br");
    // Never a document: it runs nothing and is framed by nobody, and carries no
    // document-only headers (bytes on every first visit).
    assert_eq!(br.headers()["x-content-type-options"], "nosniff");
    assert!(br.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(br.headers().get("permissions-policy").is_none());
    assert_eq!(
        br.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(br.bytes().await.unwrap().as_ref(), b"pretend brotli");
    let gz = get("gzip").await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let plain = get("identity").await;
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), js);
    // Pages are compressed on the fly; the service worker is always revalidated.
    let page = http
        .get(format!("{}/signin", app.base))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["content-encoding"], "br");
    std::fs::write(
        std::path::Path::new(&*app.state.leptos_options.site_root).join("sw.js"),
        "self.addEventListener('push', () => {});",
    )
    .unwrap();
    let sw = http
        .get(format!("{}/sw.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(sw.headers()["cache-control"], "no-cache");
    // The service worker lives under its script's policy: its fetches must be allowed.
    let worker_policy = sw.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        worker_policy.starts_with("default-src 'self'"),
        "{worker_policy}"
    );
    // Files that are revalidated (no-cache) cost a second visit only their headers: the
    // browser's If-Modified-Since reaches the file server, which answers 304.
    let modified = sw.headers()["last-modified"].clone();
    let again = http
        .get(format!("{}/sw.js", app.base))
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

/// Sends `bytes` on a connection of its own and then nothing: answers whether the server
/// closed it within 10 s, what it sent, and how long after the bytes it closed.
async fn sent_then_silent(app: &TestApp, bytes: &[u8]) -> (bool, String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    let sent = std::time::Instant::now();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut buf),
    )
    .await
    .is_ok();
    (closed, String::from_utf8_lossy(&buf).into(), sent.elapsed())
}

/// Slow-loris: a client that never finishes its headers is disconnected.
async fn unfinished_headers_are_cut_off(app: &TestApp) {
    let (closed, _, _) =
        sent_then_silent(app, b"GET /signin HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    assert!(
        closed,
        "the connection stayed open without ever finishing its headers"
    );
}

/// A client that keeps its connection after a request and then sends nothing is cut off
/// too (the same header timeout bounds the wait for the next request), so idle connections
/// can't pile up; but not at once, so a kept-alive connection is worth keeping. (The
/// README's Caddy settings keep its idle connections for less than the deployed 10 s.)
async fn idle_kept_alive_connections_are_closed(app: &TestApp) {
    let (closed, reply, after) =
        sent_then_silent(app, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(closed, "an idle kept-alive connection stayed open for 10 s");
    // The tests' header timeout is 2 s (common::serve).
    assert!(
        after >= std::time::Duration::from_millis(1_500),
        "closed after {after:?}: too soon for a kept-alive connection to be reused"
    );
}

/// A user whose push devices never answer can't hold back anyone's texts.
async fn a_tarpit_push_device_does_not_delay_another_users_send(app: &TestApp) {
    // Accepts connections and never answers.
    let tarpit = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tarpit_addr = tarpit.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = tarpit.accept().await {
            held.push(tcp);
        }
    });
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    for i in 0..app::server::push::MAX_DEVICES_PER_USER {
        let reply = subscribe(app, &bea, &format!("http://{tarpit_addr}/device-{i}")).await;
        assert!(reply.is_ok(), "{reply:?}");
    }
    let buy = |client: reqwest::Client, area: &'static str| async move {
        let offers: Vec<app::types::NumberOffer> =
            app.call(&client, common::numbers_in(area)).await.json();
        let number: app::types::OwnedNumber = app
            .call(
                &client,
                app::api::numbers::BuyNumber {
                    e164: offers[0].e164.to_string(),
                },
            )
            .await
            .json();
        number
    };
    let bea_number = buy(bea.clone(), "415").await;
    let ada_number = buy(ada.clone(), "212").await;
    // Texts to Bea queue alerts to her ten tarpit devices …
    for i in 0..3 {
        app::server::messaging::ingest(
            &app.state,
            app::server::carrier::config::CarrierKind::Sandbox,
            &app::server::carrier::CarrierEvent::Inbound {
                event_id: format!("tarpit-{i}"),
                carrier_message_id: format!("tarpit-{i}"),
                from: "+12025550199".into(),
                to: bea_number.e164.clone(),
                body: "hello".into(),
                media: Vec::new(),
            },
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // … and Ada's text still leaves at once.
    app.call(
        &ada,
        app::api::messaging::SendMessage {
            number_id: ada_number.id.to_string(),
            to: "+12025550142".into(),
            body: "on my way".into(),
            media: vec![],
        },
    )
    .await
    .json::<String>();
    eventually(4, "Ada's text handed to the carrier", || async {
        let (status,): (String,) =
            sqlx::query_as("SELECT status FROM messages WHERE body = 'on my way'")
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        (status != "queued").then_some(())
    })
    .await;
}

/// A tab back after its events were purged is told to refetch rather than left stale.
async fn a_tab_back_after_the_replay_window_refetches(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let offers: Vec<app::types::NumberOffer> =
        app.call(&ada, common::numbers_in("212")).await.json();
    app.call(
        &ada,
        app::api::numbers::BuyNumber {
            e164: offers[0].e164.to_string(),
        },
    )
    .await
    .json::<app::types::OwnedNumber>();
    sqlx::query("DELETE FROM events")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    for (header, query) in [(Some("0"), ""), (None, "?after=0")] {
        let mut request = ada.get(format!("{}/events{query}", app.base));
        if let Some(id) = header {
            request = request.header("last-event-id", id);
        }
        let mut stream = request.send().await.unwrap();
        assert_eq!(stream.status(), 200);
        let first = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk())
            .await
            .expect("a first event")
            .unwrap()
            .unwrap();
        let first = String::from_utf8_lossy(&first);
        assert!(first.contains("resync"), "{first}");
    }
}

/// Each purchase is a billed number: parallel buys must not get past the quota.
async fn parallel_purchases_stay_within_the_quota(app: &TestApp) {
    // Several rounds: a purchase finishing while another checks the quota was once counted
    // twice (its number and its place), refusing a purchase with a place to spare.
    for round in 0..8 {
        let ada = app.admin(&format!("ada{round}@example.com")).await;
        let offers: Vec<app::types::NumberOffer> =
            app.call(&ada, common::numbers_in("212")).await.json();
        assert!(offers.len() >= 8, "{offers:?}");
        let buys = offers[..8].iter().map(|offer| {
            let ada = ada.clone();
            async move {
                app.call(
                    &ada,
                    app::api::numbers::BuyNumber {
                        e164: offer.e164.to_string(),
                    },
                )
                .await
            }
        });
        let replies = futures::future::join_all(buys).await;
        let bought = replies.iter().filter(|r| r.is_ok()).count();
        let owned: Vec<app::types::OwnedNumber> =
            app.call(&ada, app::api::numbers::MyNumbers {}).await.json();
        assert_eq!(bought, owned.len());
        assert_eq!(owned.len(), 3, "the default quota is 3: {replies:?}");
    }
}

/// The Simulator lists sandbox texts only: texts on real carriers are nobody else's.
async fn the_simulator_shows_no_real_carriers_texts(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let (user_id,): (String,) = sqlx::query_as("SELECT id FROM users")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let pool = app.state.db.pool();
    // Written now: texts dated 1970 are past retention, and housekeeping (running as the app
    // starts) could purge them between these inserts.
    let now = app::server::now_ms();
    sqlx::query("INSERT INTO phone_numbers (id, user_id, e164, carrier, carrier_ref, capabilities, created_at) VALUES ('n1', $1, '+12125550100', 'telnyx', 'r1', 'sms', $2)")
        .bind(&user_id).bind(now).execute(pool).await.unwrap();
    sqlx::query("INSERT INTO conversations (id, user_id, number_id, peer, last_at) VALUES ('c1', $1, 'n1', '+12025550142', $2)")
        .bind(&user_id).bind(now).execute(pool).await.unwrap();
    sqlx::query("INSERT INTO messages (id, conversation_id, user_id, direction, body, status, segments, created_at, updated_at, carrier_message_id) VALUES ('m1', 'c1', $1, 'out', 'private words', 'sent', 1, $2, $2, 'telnyx-1')")
        .bind(&user_id).bind(now).execute(pool).await.unwrap();
    let listed: Vec<(String, String)> = app
        .call(&ada, app::api::simulator::RecentOutbound {})
        .await
        .json();
    assert!(listed.is_empty(), "{listed:?}");
}

/// A picture URL a webhook names is fetched only from a public https address.
async fn inbound_pictures_from_private_addresses_are_refused(app: &TestApp) {
    // Something on loopback that would count any request made to it.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let probe_addr = probe.local_addr().unwrap();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let hits = hits.clone();
        tokio::spawn(async move {
            while let Ok(_conn) = probe.accept().await {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    let ada = app.admin("ada@example.com").await;
    let offers: Vec<app::types::NumberOffer> =
        app.call(&ada, common::numbers_in("212")).await.json();
    let number: app::types::OwnedNumber = app
        .call(
            &ada,
            app::api::numbers::BuyNumber {
                e164: offers[0].e164.to_string(),
            },
        )
        .await
        .json();
    for (i, url) in [
        format!("http://{probe_addr}/metadata"),
        format!("https://{probe_addr}/metadata"),
        "https://169.254.169.254/latest/meta-data".to_string(),
    ]
    .into_iter()
    .enumerate()
    {
        app::server::messaging::ingest(
            &app.state,
            app::server::carrier::config::CarrierKind::Sandbox,
            &app::server::carrier::CarrierEvent::Inbound {
                event_id: format!("ssrf-{i}"),
                carrier_message_id: format!("ssrf-{i}"),
                from: "+12025550199".into(),
                to: number.e164.clone(),
                body: "look".into(),
                media: vec![app::server::carrier::MediaRef {
                    url,
                    content_type: "image/png".into(),
                }],
            },
        )
        .await
        .unwrap();
    }
    eventually(10, "the pictures refused", || async {
        let (pending,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM media WHERE state = 'pending'")
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        (pending == 0).then_some(())
    })
    .await;
    let (failed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM media WHERE state = 'failed'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(failed, 3);
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a private address was fetched"
    );
}

/// An API address typed in Admin → Carrier is public https, and saved secrets stay with
/// the address they were saved with.
async fn carrier_addresses_are_checked_and_secrets_stay_home(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let form = |base: &'static str, key: &'static str| {
        vec![
            ("active", "telnyx"),
            ("telnyx_api_key", key),
            ("telnyx_public_key", common::TELNYX_TEST_PUBLIC_KEY),
            ("telnyx_messaging_profile_id", ""),
            ("telnyx_api_base", base),
            ("twilio_account_sid", ""),
            ("twilio_auth_token", ""),
            ("twilio_api_base", ""),
        ]
    };
    for base in [
        "http://api.telnyx.com/v2",
        "https://10.1.2.3/v2",
        "https://localhost/v2",
    ] {
        for name in [
            path::<app::api::carrier::TestCarrier>(),
            path::<app::api::carrier::SaveCarrier>(),
        ] {
            let reply = app.call_path(&ada, name, &form(base, "KEY123")).await;
            assert!(
                matches!(reply.error(), AppError::Invalid(ref m) if m.contains("API address")),
                "{name} with {base}: {reply:?}"
            );
        }
    }
    // A key saved for the default address …
    let saved = app
        .call_form::<app::api::carrier::SaveCarrier>(&ada, &form("", "KEY123"))
        .await;
    assert!(saved.is_ok(), "{saved:?}");
    // … is not sent to a new one unless typed again.
    let moved = app
        .call_form::<app::api::carrier::TestCarrier>(&ada, &form("https://1.1.1.1/v2", ""))
        .await;
    assert!(
        matches!(moved.error(), AppError::Invalid(ref m) if m.contains("again")),
        "{moved:?}"
    );
}

/// A tab's first stream replays what happened since its page was asked for (`age`, by the
/// tab's clock): a number bought in between shows without waiting for the next change.
/// Without an age, or long before, nothing is replayed.
async fn a_first_stream_replays_what_came_after_its_page(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let offers: Vec<app::types::NumberOffer> =
        app.call(&ada, common::numbers_in("212")).await.json();
    let first_chunk = |query: &'static str| {
        let ada = ada.clone();
        async move {
            let mut stream = ada
                .get(format!("{}/events{query}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(stream.status(), 200);
            let chunk =
                tokio::time::timeout(std::time::Duration::from_millis(700), stream.chunk()).await;
            chunk
                .ok()
                .map(|c| String::from_utf8_lossy(&c.unwrap().unwrap()).to_string())
        }
    };
    app.call(
        &ada,
        app::api::numbers::BuyNumber {
            e164: offers[0].e164.to_string(),
        },
    )
    .await
    .json::<app::types::OwnedNumber>();
    let replayed = first_chunk("?age=3000")
        .await
        .expect("the purchase replayed");
    assert!(replayed.contains("numbers"), "{replayed}");
    for query in [""] {
        let nothing = first_chunk(query).await;
        assert!(
            nothing.as_deref().is_none_or(|c| !c.contains("numbers")),
            "{query}: {nothing:?}"
        );
    }
    // Older than the look-back: not replayed.
    sqlx::query("UPDATE events SET created_at = created_at - 120000")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let old = first_chunk("?age=3000").await;
    assert!(
        old.as_deref().is_none_or(|c| !c.contains("numbers")),
        "{old:?}"
    );
}

/// A carrier event's id is remembered while a carrier may deliver it again (acted on once),
/// then forgotten: the table does not keep every event ever received.
async fn old_carrier_events_are_forgotten(app: &TestApp) {
    use app::server::webhooks::{purge_old_events, EVENTS_KEPT_MS};
    let now = app::server::now_ms();
    for (id, age) in [
        ("old", EVENTS_KEPT_MS + 1),
        ("recent", EVENTS_KEPT_MS - 60_000),
    ] {
        sqlx::query(
            "INSERT INTO webhook_events (carrier, event_id, received_at) VALUES ('telnyx', $1, $2)",
        )
        .bind(id)
        .bind(now - age)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    }
    // (The hourly housekeeping, which runs this too, may have come first.)
    assert!(purge_old_events(&app.state.db, now).await.unwrap() <= 1);
    let kept: Vec<(String,)> = sqlx::query_as("SELECT event_id FROM webhook_events")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(kept, vec![("recent".to_string(),)]);
}

on_both_backends!(
    old_carrier_events_are_forgotten,
    a_first_stream_replays_what_came_after_its_page,
    parallel_purchases_stay_within_the_quota,
    the_simulator_shows_no_real_carriers_texts,
    a_tab_back_after_the_replay_window_refetches,
    pages_carry_the_security_headers,
    the_client_is_served_compressed_and_kept,
    unfinished_headers_are_cut_off,
    idle_kept_alive_connections_are_closed,
    a_tarpit_push_device_does_not_delay_another_users_send,
    pages_render_while_other_routers_are_built,
    parallel_guesses_check_at_most_the_limit,
    costly_actions_are_throttled,
    push_devices_are_capped,
    a_session_takes_its_alerts_with_it,
    sign_out_closes_the_live_stream,
    live_streams_per_user_are_capped,
    forwarded_addresses_from_anyone_else_are_ignored,
    uploads_need_a_session_before_their_body_is_read,
    unsigned_sandbox_bodies_are_refused_before_they_are_read,
);

tweaked_on_both_backends!(
    blank_secrets_switch_no_webhook_on => blank_secrets,
    push_endpoints_must_be_public => public_only,
    inbound_pictures_from_private_addresses_are_refused => public_only,
    carrier_addresses_are_checked_and_secrets_stay_home => public_only,
    forwarded_addresses_count_only_from_trusted_proxies => behind_a_proxy,
    behind_a_proxy_one_clients_failures_are_its_own => behind_a_proxy,
    pictures_stop_at_the_users_quota => small_media_quota,
);
