//! Calls through a carrier: signed call webhooks go in; commands come out, to a stand-in for
//! Telnyx's API that records them (their shape against the published spec is
//! `carrier_apis`'s test), or as the TwiML answering Twilio. A call to one of our numbers is
//! answered by voicemail: greeting, recording copied, transcript kept, for the number's
//! owner only.

use std::sync::{Arc, Mutex};

use base64::Engine;
use ed25519_dalek::Signer;
use serde_json::{json, Value};

use crate::calls::{buy, log};
use crate::common::{self, Backend, TestApp};
use app::api::calls::{BrowserPhone, CallLog, CallOut, CallRoute, PickUpCall, SetGreeting};
use app::api::numbers::{MyNumbers, SetCallRouting};
use app::error::AppError;
use app::server::calls::browser_phone;
use app::types::{BrowserPhoneSignIn, CallLogEntry, OwnedNumber};

const CALLER: &str = "+13125550123";
/// Ada's own phone, where her calls may be forwarded.
const PHONE: &str = "+12025550188";
/// A phone Telnyx refuses to call (the stand-in answers 422).
const UNREACHABLE: &str = "+12025550100";

/// The API key the stand-in for Twilio makes, and its secret (which signs browsers' tokens).
const TWILIO_KEY: &str = "SK0123456789abcdef0123456789abcd01";
const TWILIO_KEY_SECRET: &str = "twilio-key-secret";

/// What the stand-in for Telnyx's API was asked: (path, JSON body).
type Asked = Arc<Mutex<Vec<(String, Value)>>>;

/// A recording as Telnyx serves it: an MP3 (ID3 tag first).
fn mp3() -> Vec<u8> {
    let mut bytes = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    bytes.extend(std::iter::repeat_n(0x55u8, 4000));
    bytes
}

/// Telnyx's API on loopback: takes any call command (failing the first one for a call id
/// holding "flaky", as a carrier that took it but whose answer was lost), and serves a
/// recording at `/recordings/vm.mp3`.
async fn telnyx_stand_in() -> (String, Asked) {
    use axum::extract::{Path, State};
    use axum::routing::{get, post};
    let asked: Asked = Arc::default();
    async fn command(
        State(asked): State<Asked>,
        Path((call, action)): Path<(String, String)>,
        axum::Json(body): axum::Json<Value>,
    ) -> (axum::http::StatusCode, axum::Json<Value>) {
        let path = format!("/calls/{call}/actions/{action}");
        let mut asked = asked.lock().unwrap();
        let first = !asked.iter().any(|(p, _)| *p == path);
        asked.push((path, body));
        if call.contains("flaky") && first {
            return (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"errors": [{"code": "90000", "detail": "try again"}]})),
            );
        }
        (
            axum::http::StatusCode::OK,
            axum::Json(json!({"data": {"result": "ok"}})),
        )
    }
    async fn dial(
        State(asked): State<Asked>,
        axum::Json(body): axum::Json<Value>,
    ) -> (axum::http::StatusCode, axum::Json<Value>) {
        let mut asked = asked.lock().unwrap();
        let refused = body["to"] == UNREACHABLE;
        asked.push(("/calls".into(), body));
        if refused {
            return (
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({"errors": [{"code": "10015", "detail": "Invalid destination"}]})),
            );
        }
        // The placed calls are v3:leg-1, v3:leg-2, … in order.
        let n = asked.iter().filter(|(path, _)| path == "/calls").count();
        let leg = format!("v3:leg-{n}");
        (
            axum::http::StatusCode::OK,
            axum::Json(json!({"data": {"call_control_id": leg, "result": "ok"}})),
        )
    }
    async fn recording(State(asked): State<Asked>) -> Vec<u8> {
        asked
            .lock()
            .unwrap()
            .push(("GET /recordings/vm.mp3".into(), Value::Null));
        mp3()
    }
    // Browser phones: the connection for browsers (none yet), credentials gencred1, 2, …,
    // a token for each, and deleting one.
    async fn credentials(
        State(asked): State<Asked>,
        method: axum::http::Method,
        uri: axum::http::Uri,
        body: String,
    ) -> (axum::http::StatusCode, String) {
        let mut asked = asked.lock().unwrap();
        let path = uri.path().to_string();
        asked.push((
            format!("{method} {path}"),
            serde_json::from_str(&body).unwrap_or(Value::Null),
        ));
        let made = asked
            .iter()
            .filter(|(p, _)| p == "POST /telephony_credentials")
            .count();
        let answer = match (method.as_str(), path.as_str()) {
            ("GET", "/credential_connections" | "/call_control_applications") => {
                json!({"data": []})
            }
            ("POST", "/call_control_applications") => json!({"data": {"id": "cc-app-9"}}),
            ("POST", "/credential_connections") => json!({"data": {"id": "browsers-1"}}),
            ("POST", "/telephony_credentials") => json!({"data": {
                "id": format!("cred-{made}"),
                "sip_username": format!("gencred{made}"),
            }}),
            ("POST", p) if p.ends_with("/token") => {
                return (
                    axum::http::StatusCode::CREATED,
                    format!("eyJh.eyJ{made}.sig"),
                )
            }
            _ => json!({"data": {}}),
        };
        (axum::http::StatusCode::OK, answer.to_string())
    }
    // Twilio's live-call updates (form posts): recorded as "twilio <CallSid>" with the form.
    async fn twilio_call(
        State(asked): State<Asked>,
        Path((_account, call)): Path<(String, String)>,
        body: String,
    ) -> axum::Json<Value> {
        let form: serde_json::Map<String, Value> = url::form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        asked
            .lock()
            .unwrap()
            .push((format!("twilio {call}"), Value::Object(form)));
        axum::Json(json!({"sid": call.trim_end_matches(".json")}))
    }
    // Twilio's API keys and calls placed: recorded as "twilio <resource>" with the form;
    // the key SK…01 (secret TWILIO_KEY_SECRET), the calls placed CAplaced1, 2, ….
    async fn twilio_made(
        State(asked): State<Asked>,
        Path((_account, resource)): Path<(String, String)>,
        body: String,
    ) -> (axum::http::StatusCode, axum::Json<Value>) {
        let form: serde_json::Map<String, Value> = url::form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        let mut asked = asked.lock().unwrap();
        asked.push((format!("twilio {resource}"), Value::Object(form)));
        let n = asked
            .iter()
            .filter(|(p, _)| *p == format!("twilio {resource}"))
            .count();
        let made = match resource.as_str() {
            "Keys.json" => json!({"sid": TWILIO_KEY, "secret": TWILIO_KEY_SECRET}),
            _ => json!({"sid": format!("CAplaced{n}")}),
        };
        (axum::http::StatusCode::CREATED, axum::Json(made))
    }
    // An API key asked after: there until the test deletes it ("twilio key deleted").
    async fn twilio_key(
        State(asked): State<Asked>,
        Path((_account, key)): Path<(String, String)>,
    ) -> (axum::http::StatusCode, axum::Json<Value>) {
        let mut asked = asked.lock().unwrap();
        asked.push((format!("twilio GET Keys/{key}"), Value::Null));
        if asked.iter().any(|(p, _)| p == "twilio key deleted") {
            let gone = json!({"code": 20404, "message": "The requested resource was not found"});
            return (axum::http::StatusCode::NOT_FOUND, axum::Json(gone));
        }
        let sid = key.trim_end_matches(".json");
        (axum::http::StatusCode::OK, axum::Json(json!({"sid": sid})))
    }
    let router = axum::Router::new()
        .route("/2010-04-01/Accounts/{account}/Keys/{key}", get(twilio_key))
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{call}",
            post(twilio_call),
        )
        .route(
            "/2010-04-01/Accounts/{account}/{resource}",
            post(twilio_made),
        )
        .route("/credential_connections", axum::routing::any(credentials))
        .route(
            "/call_control_applications",
            axum::routing::any(credentials),
        )
        .route("/telephony_credentials", axum::routing::any(credentials))
        .route(
            "/telephony_credentials/{id}",
            axum::routing::any(credentials),
        )
        .route(
            "/telephony_credentials/{id}/token",
            axum::routing::any(credentials),
        )
        .route("/calls", post(dial))
        .route("/calls/{call}/actions/{action}", post(command))
        .route("/recordings/vm.mp3", get(recording))
        .with_state(asked.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, asked)
}

/// The commands sent for `call_id` so far: (action, body).
fn commands(asked: &Asked, call_id: &str) -> Vec<(String, Value)> {
    let prefix = format!("/calls/{call_id}/actions/");
    asked
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(path, body)| {
            path.strip_prefix(&prefix)
                .map(|action| (action.to_string(), body.clone()))
        })
        .collect()
}

async fn commands_reach(asked: &Asked, call_id: &str, n: usize) -> Vec<(String, Value)> {
    common::eventually(10, "the call commands", || async {
        let sent = commands(asked, call_id);
        (sent.len() >= n).then_some(sent)
    })
    .await
}

fn state(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A Telnyx call event as its webhooks deliver it.
fn event(id: &str, event_type: &str, payload: Value) -> String {
    json!({
        "data": {
            "event_type": event_type,
            "id": id,
            "occurred_at": "2026-12-04T10:00:00.000000Z",
            "payload": payload,
            "record_type": "event",
        }
    })
    .to_string()
}

/// Delivers `body` signed, as Telnyx does, and checks it was taken.
async fn accepted(app: &TestApp, body: &str) {
    assert_eq!(deliver(app, body, true).await, 200, "{body}");
}

/// Posts `body` to our Telnyx webhook, signed with the test key (or not).
async fn deliver(app: &TestApp, body: &str, signed: bool) -> u16 {
    let key = ed25519_dalek::SigningKey::from_bytes(&crate::messaging::hex_key(
        common::TELNYX_TEST_SECRET_HEX,
    ));
    let ts = (app::server::now_ms() / 1000).to_string();
    let signature = base64::engine::general_purpose::STANDARD
        .encode(key.sign(format!("{ts}|{body}").as_bytes()).to_bytes());
    crate::common::http()
        .post(format!("{}/webhooks/telnyx", app.base))
        .header("telnyx-timestamp", ts)
        .header(
            "telnyx-signature-ed25519",
            if signed { signature } else { "AAAA".into() },
        )
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn incoming(id: &str, call_id: &str, session: &str, to: &str) -> String {
    event(
        id,
        "call.initiated",
        json!({
            "call_control_id": call_id,
            "call_leg_id": session,
            "call_session_id": session,
            "connection_id": "7267xxxxxxxxxxxxxx",
            "direction": "incoming",
            "from": CALLER,
            "to": to,
            "state": "parked",
        }),
    )
}

fn step(id: &str, event_type: &str, call_id: &str, session: &str, client_state: &str) -> String {
    event(
        id,
        event_type,
        json!({
            "call_control_id": call_id,
            "call_leg_id": session,
            "call_session_id": session,
            "client_state": state(client_state),
        }),
    )
}

async fn search(app: &TestApp, client: &reqwest::Client, words: &str) -> Vec<CallLogEntry> {
    app.call(
        client,
        CallLog {
            search: words.into(),
            keep_unseen: false,
        },
    )
    .await
    .json()
}

async fn a_telnyx_call_is_answered_by_voicemail(app: &TestApp, asked: Asked, base: String) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    assert!(app
        .call(
            &ada,
            SetGreeting {
                number_id: number.id.clone(),
                text: "Ada's line. Say your piece.".into(),
            },
        )
        .await
        .is_ok());
    let (call, session) = ("v3:ada-call_1", "5e55-1");

    // Unsigned: refused, nothing opened or commanded.
    assert_eq!(
        deliver(app, &incoming("e1", call, session, &number.e164), false).await,
        401
    );
    assert!(log(app, &ada).await.is_empty());

    // The call arrives: logged for Ada as missed, to voicemail; Telnyx is told to answer.
    accepted(app, &incoming("e1", call, session, &number.e164)).await;
    let sent = commands_reach(&asked, call, 1).await;
    assert_eq!(sent[0].0, "answer");
    assert_eq!(sent[0].1["client_state"], state("voicemail"));
    let answer_id = sent[0].1["command_id"].as_str().unwrap().to_string();
    assert!(!answer_id.is_empty());
    // Telnyx delivers it again: nothing opens or is sent twice.
    accepted(app, &incoming("e1", call, session, &number.e164)).await;
    let calls = log(app, &ada).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (
            calls[0].direction.as_str(),
            calls[0].peer.as_str(),
            calls[0].outcome.as_str()
        ),
        ("in", CALLER, "Missed")
    );

    // Answered → the greeting is said; said → the caller is recorded.
    let answered = step("e2", "call.answered", call, session, "voicemail");
    accepted(app, &answered).await;
    let sent = commands_reach(&asked, call, 2).await;
    assert_eq!(sent[1].0, "speak");
    assert_eq!(sent[1].1["payload"], "Ada's line. Say your piece.");
    let spoken = step("e3", "call.speak.ended", call, session, "voicemail");
    accepted(app, &spoken).await;
    let sent = commands_reach(&asked, call, 3).await;
    assert_eq!(sent[2].0, "record_start");
    assert_eq!(
        (
            &sent[2].1["format"],
            &sent[2].1["max_length"],
            &sent[2].1["transcription"]
        ),
        (&json!("mp3"), &json!(120), &json!(true))
    );
    // A step another application on the account took (its own client_state) is not ours.
    let theirs = step("e4", "call.answered", call, session, "someone-else");
    accepted(app, &theirs).await;
    // And every command had its own id.
    let ids: std::collections::HashSet<_> = sent
        .iter()
        .map(|(_, b)| b["command_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);

    // The recording is copied at once and becomes Ada's voicemail; nobody else's.
    let recorded = event(
        "e5",
        "call.recording.saved",
        json!({
            "call_leg_id": session,
            "call_session_id": session,
            "channels": "single",
            "recording_urls": { "mp3": format!("{base}/recordings/vm.mp3"), "wav": null },
        }),
    );
    accepted(app, &recorded).await;
    // Kept as a file first, then put on the call: wait for the call to show it.
    let voicemail = common::eventually(10, "the voicemail in the log", || async {
        log(app, &ada).await.remove(0).voicemail_id
    })
    .await;
    let played = app.get(&ada, &format!("/media/{voicemail}")).await;
    assert_eq!(played.status, 200);
    assert_eq!(played.headers["content-type"], "audio/mpeg");
    assert_eq!(played.body.len(), mp3().len());
    let bob = app.invited_user(&ada, "bob@example.com", "user").await;
    assert_eq!(
        app.get(&bob, &format!("/media/{voicemail}")).await.status,
        404
    );
    assert!(log(app, &bob).await.is_empty());

    // A transcription that failed leaves no words.
    let failed = event(
        "e6f",
        "call.recording.transcription.saved",
        json!({ "call_control_id": call, "call_session_id": session, "status": "failed" }),
    );
    accepted(app, &failed).await;
    assert_eq!(log(app, &ada).await[0].transcript, None);

    // Its words come later, beside it, and the log's search finds them.
    // A transcript is cut at its cap, however long the carrier's is.
    let long = event(
        "e6l",
        "call.recording.transcription.saved",
        json!({
            "call_control_id": call,
            "call_session_id": session,
            "status": "completed",
            "transcription_text": "blah ".repeat(3_000),
        }),
    );
    accepted(app, &long).await;
    let kept = log(app, &ada).await.remove(0).transcript.unwrap();
    assert_eq!(
        kept.chars().count(),
        app::server::calls::carrier::TRANSCRIPT_MAX_CHARS
    );

    let words = event(
        "e6",
        "call.recording.transcription.saved",
        json!({
            "call_control_id": call,
            "call_session_id": session,
            "recording_id": "r1",
            "status": "completed",
            "transcription_text": "Call me back about the lease.",
        }),
    );
    accepted(app, &words).await;
    let entry = log(app, &ada).await.remove(0);
    assert_eq!(
        entry.transcript.as_deref(),
        Some("Call me back about the lease.")
    );
    assert_eq!(search(app, &ada, "lease").await.len(), 1);
    assert!(search(app, &ada, "zebra").await.is_empty());

    assert_eq!(commands(&asked, call).len(), 3, "nothing sent twice");
}

async fn calls_to_numbers_not_ours_and_bad_events_do_nothing_here(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;

    // A call to a number nobody here owns is hung up.
    accepted(app, &incoming("n1", "v3:stray", "s-stray", "+12125550999")).await;
    let sent = commands_reach(&asked, "v3:stray", 1).await;
    assert_eq!(sent[0].0, "hangup");
    assert!(log(app, &ada).await.is_empty());

    // A call id that is not Telnyx's kind (it would go into a URL) is refused whole.
    assert_eq!(
        deliver(app, &incoming("n2", "../../x", "s-bad", &number.e164), true).await,
        400
    );
    assert!(log(app, &ada).await.is_empty());

    // A recording link that is no web address is not fetched; one for a call that is not
    // ours is not either.
    accepted(app, &incoming("n3", "v3:ada-2", "s-ada-2", &number.e164)).await;
    for (id, session, url) in [
        ("n4", "s-ada-2", "file:///etc/passwd"),
        ("n5", "s-unknown", "http://127.0.0.1:9/vm.mp3"),
    ] {
        let recorded = event(
            id,
            "call.recording.saved",
            json!({ "call_session_id": session, "recording_urls": { "mp3": url } }),
        );
        accepted(app, &recorded).await;
    }
    common::eventually(10, "the refused fetch to finish", || async {
        let (jobs,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE kind = 'fetch_voicemail'")
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        (jobs == 0).then_some(())
    })
    .await;
    let (kept,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM media")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(kept, 0);
    assert!(log(app, &ada).await[0].voicemail_id.is_none());
}

/// The carrier took a command but its answer was lost: it is sent again with the same
/// command id, which Telnyx ignores the second time, so the caller hears nothing twice.
async fn a_command_whose_answer_was_lost_is_repeated_with_its_id(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let call = "v3:flaky-1";
    accepted(app, &incoming("f1", call, "s-flaky", &number.e164)).await;
    let sent = commands_reach(&asked, call, 2).await;
    assert_eq!(
        (sent[0].0.as_str(), sent[1].0.as_str()),
        ("answer", "answer")
    );
    assert_eq!(sent[0].1["command_id"], sent[1].1["command_id"]);
}

/// The calls placed so far (POST /calls): their bodies.
fn dials(asked: &Asked) -> Vec<Value> {
    asked
        .lock()
        .unwrap()
        .iter()
        .filter(|(path, _)| path == "/calls")
        .map(|(_, body)| body.clone())
        .collect()
}

/// Waits until the carrier's id for the phone called for held call `held` is known.
async fn placed(app: &TestApp, held: &str) -> String {
    common::eventually(10, "the forwarded call's id", || async {
        let (phone,): (Option<String>,) =
            sqlx::query_as("SELECT forward_call FROM call_sessions WHERE carrier_call = $1")
                .bind(held)
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        phone
    })
    .await
}

fn hangup(id: &str, call_id: &str, session: &str, client_state: &str) -> String {
    step(id, "call.hangup", call_id, session, client_state)
}

fn gathered(id: &str, call_id: &str, client_state: &str, digits: &str) -> String {
    event(
        id,
        "call.gather.ended",
        json!({
            "call_control_id": call_id,
            "call_session_id": "s-leg",
            "client_state": state(client_state),
            "digits": digits,
            "status": "valid",
        }),
    )
}

async fn forward_to(
    app: &TestApp,
    client: &reqwest::Client,
    number: &OwnedNumber,
    phone: &str,
) -> common::Reply {
    forward_after(app, client, number, phone, 0).await
}

/// Forwards `number`'s calls to `phone` after ringing browsers `secs` (0: at once).
async fn forward_after(
    app: &TestApp,
    client: &reqwest::Client,
    number: &OwnedNumber,
    phone: &str,
    secs: i64,
) -> common::Reply {
    app.call(
        client,
        SetCallRouting {
            number_id: number.id.clone(),
            ring_seconds: 20,
            do_not_disturb: false,
            outside_hours: false,
            forward_to: phone.into(),
            forward_after_secs: secs,
        },
    )
    .await
}

async fn a_telnyx_call_is_forwarded_and_taken_with_a_key(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let other = buy(app, &ada, "415").await;
    let bob = app.invited_user(&ada, "bob@example.com", "user").await;

    // Forwarding goes to a phone outside: not to a number here (its calls would come back).
    for here in [&number.e164, &other.e164] {
        let refused = forward_to(app, &ada, &number, here).await;
        assert!(refused.body.contains("on this Switchboard"), "{refused:?}");
    }
    assert!(matches!(
        forward_to(app, &bob, &number, PHONE).await.error(),
        AppError::NotFound(_)
    ));
    // … nor abroad (each forwarded call is the instance's to pay), nor a premium-rate line.
    let abroad = forward_to(app, &ada, &number, "+44 20 7946 0018").await;
    assert!(abroad.body.contains("own country"), "{abroad:?}");
    let premium = forward_to(app, &ada, &number, "+1 900 234 5678").await;
    assert!(premium.body.contains("premium-rate"), "{premium:?}");
    assert!(forward_to(app, &ada, &number, "(202) 555-0188")
        .await
        .is_ok());
    let mine: Vec<OwnedNumber> = app.call(&ada, MyNumbers {}).await.json();
    assert_eq!(mine[0].forward_to, PHONE);

    // The call arrives: her phone is called, tied to the held caller, for the ring time.
    let (held, session) = ("v3:held-1", "s-held-1");
    let arrived =
        incoming("w1", held, session, &number.e164).replace("7267xxxxxxxxxxxxxx", "cc-app-1");
    accepted(app, &arrived).await;
    let dialed = common::eventually(10, "the forwarded call", || async {
        dials(&asked).into_iter().next()
    })
    .await;
    assert_eq!(
        (
            &dialed["to"],
            &dialed["from"],
            &dialed["link_to"],
            &dialed["connection_id"],
            &dialed["timeout_secs"]
        ),
        (
            &json!(PHONE),
            &json!(number.e164),
            &json!(held),
            &json!("cc-app-1"),
            &json!(20)
        )
    );
    let forward_state = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(dialed["client_state"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(forward_state.starts_with("forward:"), "{forward_state}");
    assert_eq!(log(app, &ada).await[0].outcome, "In progress");
    // Her tabs don't ring: they can't take a carrier call.
    assert!(crate::calls::live(app, &ada, "ada-tab").await.is_empty());

    // Her phone answers: it hears whom the call is for, and 1 takes it.
    let phone = "v3:leg-1";
    accepted(
        app,
        &step("w2", "call.answered", phone, "s-leg", &forward_state),
    )
    .await;
    let asked_key = commands_reach(&asked, phone, 1).await;
    assert_eq!(asked_key[0].0, "gather_using_speak");
    assert_eq!(
        asked_key[0].1["payload"],
        format!(
            "Call for {}, from (312) 555-0123. Press 1 to take it.",
            number.display
        )
    );
    accepted(app, &gathered("w3", phone, &forward_state, "1")).await;
    // The held caller is answered, then joined with her phone.
    let sent = commands_reach(&asked, held, 1).await;
    assert_eq!(
        (sent[0].0.as_str(), &sent[0].1["client_state"]),
        ("answer", &json!(state(&forward_state)))
    );
    accepted(
        app,
        &step("w4", "call.answered", held, session, &forward_state),
    )
    .await;
    let sent = commands_reach(&asked, held, 2).await;
    assert_eq!(
        (sent[1].0.as_str(), &sent[1].1["call_control_id"]),
        ("bridge", &json!(phone))
    );

    // She hangs up: the call ends for the caller too, answered, in her log.
    accepted(app, &hangup("w5", phone, "s-leg", &forward_state)).await;
    let sent = commands_reach(&asked, held, 3).await;
    assert_eq!(sent[2].0, "hangup");
    assert_eq!(log(app, &ada).await[0].outcome, "Answered");
    // A late hang-up of the caller's side changes nothing.
    accepted(app, &hangup("w6", held, session, &forward_state)).await;
    assert_eq!(commands(&asked, phone).len(), 1);
}

async fn a_forwarded_call_not_taken_goes_to_voicemail(app: &TestApp, asked: Asked, _base: String) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    assert!(forward_to(app, &ada, &number, PHONE).await.is_ok());
    let forward_state = |n: usize| {
        let dialed = dials(&asked).remove(n);
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(dialed["client_state"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };

    // Answered by a voicemail box, or someone who doesn't press 1: the phone is let go and
    // its hang-up sends the caller to the number's voicemail.
    accepted(app, &incoming("v1", "v3:held-2", "s-held-2", &number.e164)).await;
    common::eventually(10, "the forwarded call", || async {
        (dials(&asked).len() == 1).then_some(())
    })
    .await;
    let first = forward_state(0);
    accepted(
        app,
        &step("v2", "call.answered", "v3:leg-1", "s-leg", &first),
    )
    .await;
    commands_reach(&asked, "v3:leg-1", 1).await;
    accepted(app, &gathered("v3", "v3:leg-1", &first, "")).await;
    let sent = commands_reach(&asked, "v3:leg-1", 2).await;
    assert_eq!(sent[1].0, "hangup");
    accepted(app, &hangup("v4", "v3:leg-1", "s-leg", &first)).await;
    let sent = commands_reach(&asked, "v3:held-2", 1).await;
    assert_eq!(
        (sent[0].0.as_str(), &sent[0].1["client_state"]),
        ("answer", &json!(state("voicemail")))
    );
    assert_eq!(log(app, &ada).await[0].outcome, "Missed");

    // Not answered in time: the same.
    accepted(app, &incoming("t1", "v3:held-3", "s-held-3", &number.e164)).await;
    common::eventually(10, "the forwarded call", || async {
        (dials(&asked).len() == 2).then_some(())
    })
    .await;
    let second = forward_state(1);
    accepted(app, &hangup("t2", "v3:leg-2", "s-leg", &second)).await;
    let sent = commands_reach(&asked, "v3:held-3", 1).await;
    assert_eq!(sent[0].0, "answer");

    // The caller gives up while the phone rings: a missed call; the phone answering late is
    // let go, and no voicemail is asked for.
    accepted(app, &incoming("c1", "v3:held-4", "s-held-4", &number.e164)).await;
    common::eventually(10, "the forwarded call", || async {
        (dials(&asked).len() == 3).then_some(())
    })
    .await;
    let third = forward_state(2);
    assert_eq!(placed(app, "v3:held-4").await, "v3:leg-3");
    accepted(app, &hangup("c2", "v3:held-4", "s-held-4", "")).await;
    assert_eq!(log(app, &ada).await[0].outcome, "Missed");
    let sent = commands_reach(&asked, "v3:leg-3", 1).await;
    assert_eq!(sent[0].0, "hangup", "her phone stops ringing");
    accepted(
        app,
        &step("c3", "call.answered", "v3:leg-3", "s-leg", &third),
    )
    .await;
    let sent = commands_reach(&asked, "v3:leg-3", 2).await;
    assert_eq!(sent[1].0, "hangup");
    assert!(commands(&asked, "v3:held-4").is_empty());

    // A phone Telnyx won't call: the caller gets the voicemail at once.
    assert!(forward_to(app, &ada, &number, UNREACHABLE).await.is_ok());
    accepted(app, &incoming("u1", "v3:held-6", "s-held-6", &number.e164)).await;
    let sent = commands_reach(&asked, "v3:held-6", 1).await;
    assert_eq!(
        (sent[0].0.as_str(), &sent[0].1["client_state"]),
        ("answer", &json!(state("voicemail")))
    );
    assert_eq!(log(app, &ada).await[0].outcome, "Missed");
    assert!(forward_to(app, &ada, &number, PHONE).await.is_ok());

    // On do-not-disturb nothing is forwarded: voicemail at once.
    let dnd = SetCallRouting {
        number_id: number.id.clone(),
        ring_seconds: 20,
        do_not_disturb: true,
        outside_hours: false,
        forward_to: PHONE.into(),
        forward_after_secs: 0,
    };
    assert!(app.call(&ada, dnd).await.is_ok());
    accepted(app, &incoming("d1", "v3:held-5", "s-held-5", &number.e164)).await;
    let sent = commands_reach(&asked, "v3:held-5", 1).await;
    assert_eq!(sent[0].0, "answer");
    assert_eq!(dials(&asked).len(), 4);
}

/// A Twilio voice callback: the example's form with `changes`, signed (or not).
async fn twilio_callback(
    app: &TestApp,
    example: &str,
    changes: &[(&str, &str)],
    signed: bool,
) -> common::Reply {
    twilio_callback_to(app, "", example, changes, signed).await
}

/// [`twilio_callback`] to our webhook with `query` (`?…`, or '').
async fn twilio_callback_to(
    app: &TestApp,
    query: &str,
    example: &str,
    changes: &[(&str, &str)],
    signed: bool,
) -> common::Reply {
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::carrier_data().join(format!("twilio/examples/webhooks/{example}")),
        )
        .unwrap(),
    )
    .unwrap();
    let mut form: Vec<(String, String)> = example["form"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    for (name, value) in changes {
        form.retain(|(k, _)| k != name);
        form.push((name.to_string(), value.to_string()));
    }
    let url = format!("{}/webhooks/twilio{query}", app.base);
    let signature = if signed {
        app::server::carrier::twilio::compute(common::TWILIO_TEST_TOKEN, &url, &form)
    } else {
        "bm9wZQ==".into()
    };
    common::Reply::read(
        crate::common::http()
            .post(&url)
            .header("x-twilio-signature", signature)
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn a_twilio_call_is_answered_by_voicemail(app: &TestApp, _asked: Asked, base: String) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    assert!(app
        .call(
            &ada,
            SetGreeting {
                number_id: number.id.clone(),
                text: "Ada & co. <Leave a message>".into(),
            },
        )
        .await
        .is_ok());
    let call = "CA0123456789abcdef0123456789abcdef";
    let ringing = [
        ("To", number.e164.as_str()),
        ("From", CALLER),
        ("CallSid", call),
    ];

    assert_eq!(
        twilio_callback(app, "voice.incoming.json", &ringing, false)
            .await
            .status,
        403
    );
    assert!(log(app, &ada).await.is_empty());

    // The call arrives: TwiML says the greeting (escaped) and records, transcribed, with the
    // callbacks coming back here. Twilio asking again gets the same answer, and one call.
    for _ in 0..2 {
        let reply = twilio_callback(app, "voice.incoming.json", &ringing, true).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers["content-type"], "text/xml");
        assert!(
            reply
                .body
                .contains("<Say>Ada &amp; co. &lt;Leave a message&gt;</Say>"),
            "{}",
            reply.body
        );
        assert!(reply.body.contains("<Record maxLength=\"120\""));
        assert!(reply.body.contains(&format!(
            "recordingStatusCallback=\"{}/webhooks/twilio\"",
            app.base
        )));
        assert!(reply.body.contains("transcribe=\"true\""));
    }
    let calls = log(app, &ada).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].peer.as_str(), calls[0].outcome.as_str()),
        (CALLER, "Missed")
    );

    // A call to a number nobody here owns is hung up.
    let stray = twilio_callback(
        app,
        "voice.incoming.json",
        &[("To", "+12125550999"), ("CallSid", "CA99")],
        true,
    )
    .await;
    assert!(stray.body.contains("<Hangup/>"), "{}", stray.body);

    // The recording (Twilio's link + ".mp3") is copied into Ada's voicemail.
    let recorded = twilio_callback(
        app,
        "voice.recording_status_callback.CONSTRUCTED.json",
        &[
            ("CallSid", call),
            ("RecordingUrl", &format!("{base}/recordings/vm")),
        ],
        true,
    )
    .await;
    assert_eq!(recorded.status, 200);
    // Kept as a file first, then put on the call: wait for the call to show it.
    let voicemail = common::eventually(10, "the voicemail in the log", || async {
        log(app, &ada).await.remove(0).voicemail_id
    })
    .await;
    assert_eq!(
        app.get(&ada, &format!("/media/{voicemail}")).await.headers["content-type"],
        "audio/mpeg"
    );

    // Its words.
    let words = twilio_callback(
        app,
        "voice.recording_status_callback.CONSTRUCTED.json",
        &[
            ("CallSid", call),
            ("TranscriptionSid", "TR0123"),
            ("TranscriptionStatus", "completed"),
            ("TranscriptionText", "It's Bea, about Friday."),
        ],
        true,
    )
    .await;
    assert_eq!(words.status, 200);
    assert_eq!(
        log(app, &ada).await[0].transcript.as_deref(),
        Some("It's Bea, about Friday.")
    );
}

/// The text between `start` and `end` in `body`.
fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {body}"))
        + start.len();
    let to = body[from..].find(end).unwrap() + from;
    &body[from..to]
}

async fn a_twilio_call_is_forwarded_and_taken_with_a_key(
    app: &TestApp,
    _asked: Asked,
    _base: String,
) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    assert!(forward_to(app, &ada, &number, PHONE).await.is_ok());
    let incoming = |call: &str| {
        vec![
            ("To", number.e164.clone()),
            ("From", CALLER.to_string()),
            ("CallSid", call.to_string()),
        ]
    };
    let post = |query: String, changes: Vec<(&'static str, String)>| async move {
        let changes: Vec<(&str, &str)> = changes.iter().map(|(k, v)| (*k, v.as_str())).collect();
        twilio_callback_to(app, &query, "voice.incoming.json", &changes, true).await
    };

    // The call arrives: TwiML rings her phone, showing our number, for the ring time; the
    // phone's whisper and the outcome come back here about our call.
    let reply = post(String::new(), incoming("CA01")).await;
    let body = reply.body.clone();
    assert!(
        body.contains(&format!(
            "<Dial timeout=\"20\" callerId=\"{}\"",
            number.e164
        )),
        "{body}"
    );
    assert!(body.contains(&format!(">{PHONE}</Number>")), "{body}");
    let session = between(&body, "?forward=", "&amp;").to_string();
    let webhook = format!("{}/webhooks/twilio", app.base);
    assert!(body.contains(&format!(
        "action=\"{webhook}?forward={session}&amp;step=dialed\""
    )));
    assert!(body.contains(&format!(
        "url=\"{webhook}?forward={session}&amp;step=whisper\""
    )));
    assert_eq!(log(app, &ada).await[0].outcome, "In progress");
    let step = |name: &str| format!("?forward={session}&step={name}");

    // Forged: a step Twilio did not sign is refused.
    let forged = twilio_callback_to(
        app,
        &step("accept"),
        "voice.incoming.json",
        &[("CallSid", "CA02"), ("Digits", "1")],
        false,
    )
    .await;
    assert_eq!(forged.status, 403);

    // Her phone answers: it hears whom the call is for and is asked for a key.
    let whisper = post(
        step("whisper"),
        vec![
            ("CallSid", "CA02".into()),
            ("Direction", "outbound-dial".into()),
            ("CallStatus", "in-progress".into()),
        ],
    )
    .await;
    assert!(
        whisper.body.contains(&format!(
            "<Say>Call for {}, from (312) 555-0123. Press 1 to take it.</Say>",
            number.display
        )),
        "{}",
        whisper.body
    );
    assert!(whisper.body.contains(&format!(
        "action=\"{webhook}?forward={session}&amp;step=accept\""
    )));
    // 1 puts her through; when the call ends, the caller is let go and the log says answered.
    // Twilio asking again (its first answer lost) gets the same answers, never an empty one
    // (that would put the phone through without its key).
    let again = post(String::new(), incoming("CA01")).await;
    assert!(
        again.body.contains(&format!(">{PHONE}</Number>")),
        "{}",
        again.body
    );
    let whisper_again = post(step("whisper"), vec![("CallSid", "CA02".into())]).await;
    assert!(
        whisper_again.body.contains("<Hangup/>"),
        "{}",
        whisper_again.body
    );
    let accepted = post(
        step("accept"),
        vec![("CallSid", "CA02".into()), ("Digits", "1".into())],
    )
    .await;
    assert_eq!(accepted.body, "<Response/>");
    let accepted_again = post(
        step("accept"),
        vec![("CallSid", "CA02".into()), ("Digits", "1".into())],
    )
    .await;
    assert_eq!(accepted_again.body, "<Response/>");
    let done = post(
        step("dialed"),
        vec![
            ("CallSid", "CA01".into()),
            ("DialCallSid", "CA02".into()),
            ("DialCallStatus", "completed".into()),
        ],
    )
    .await;
    assert!(done.body.contains("<Hangup/>"), "{}", done.body);
    assert_eq!(log(app, &ada).await[0].outcome, "Answered");

    // Another call, not taken (a key other than 1): the caller gets her voicemail.
    let reply = post(String::new(), incoming("CA03")).await;
    let session = between(&reply.body, "?forward=", "&amp;").to_string();
    let step = |name: &str| format!("?forward={session}&step={name}");
    post(step("whisper"), vec![("CallSid", "CA04".into())]).await;
    let refused = post(
        step("accept"),
        vec![("CallSid", "CA04".into()), ("Digits", "9".into())],
    )
    .await;
    assert!(refused.body.contains("<Hangup/>"), "{}", refused.body);
    let dialed = post(
        step("dialed"),
        vec![
            ("CallSid", "CA03".into()),
            ("DialCallSid", "CA04".into()),
            ("DialCallStatus", "completed".into()),
        ],
    )
    .await;
    assert!(dialed.body.contains("<Record "), "{}", dialed.body);
    assert_eq!(log(app, &ada).await[0].outcome, "Missed");
}

/// A greeting as the browser records one now: 8 kHz 16-bit mono WAV.
fn wav() -> Vec<u8> {
    let data = vec![0u8; 1600];
    let mut bytes = b"RIFF".to_vec();
    bytes.extend((36 + data.len() as u32).to_le_bytes());
    bytes.extend(b"WAVEfmt ");
    bytes.extend(16u32.to_le_bytes());
    bytes.extend(1u16.to_le_bytes());
    bytes.extend(1u16.to_le_bytes());
    bytes.extend(8000u32.to_le_bytes());
    bytes.extend(16000u32.to_le_bytes());
    bytes.extend(2u16.to_le_bytes());
    bytes.extend(16u16.to_le_bytes());
    bytes.extend(b"data");
    bytes.extend((data.len() as u32).to_le_bytes());
    bytes.extend(data);
    bytes
}

/// The owner's recorded greeting reaches callers from the phone network too when the
/// carrier can play it (WAV, as the browser records greetings now): Telnyx plays it from a
/// signed link and records after it; Twilio's TwiML plays it. An older WebM one is said as
/// its words instead.
async fn a_recorded_greeting_is_played_to_phone_callers(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let greeting = format!("/numbers/{}/greeting", number.id);
    assert_eq!(app.post_bytes(&ada, &greeting, &wav()).await.status, 201);

    let call = "v3:greeted-1";
    accepted(app, &incoming("g1", call, "s-greeted-1", &number.e164)).await;
    commands_reach(&asked, call, 1).await;
    accepted(
        app,
        &step("g2", "call.answered", call, "s-greeted-1", "voicemail"),
    )
    .await;
    let sent = commands_reach(&asked, call, 2).await;
    assert_eq!(sent[1].0, "playback_start");
    let link = sent[1].1["audio_url"].as_str().unwrap().to_string();
    assert!(
        link.starts_with(&format!("{}/media/public/", app.base)),
        "{link}"
    );
    // The carrier fetches it without a session: the signed link is enough.
    let fetched = reqwest::get(&link).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["content-type"], "audio/wav");
    accepted(
        app,
        &step(
            "g3",
            "call.playback.ended",
            call,
            "s-greeted-1",
            "voicemail",
        ),
    )
    .await;
    let sent = commands_reach(&asked, call, 3).await;
    assert_eq!(sent[2].0, "record_start");

    // Twilio plays it in its TwiML.
    let twiml = twilio_callback(
        app,
        "voice.incoming.json",
        &[("To", &number.e164), ("From", CALLER), ("CallSid", "CA0g")],
        true,
    )
    .await
    .body;
    assert!(
        twiml.contains(&format!("<Play>{}/media/public/", app.base)),
        "{twiml}"
    );
    assert!(!twiml.contains("<Say>"));

    // A WebM greeting (recorded before) can't be played by a carrier: its words are said.
    assert_eq!(
        app.post_bytes(&ada, &greeting, &crate::calls::recording())
            .await
            .status,
        201
    );
    let call = "v3:greeted-2";
    accepted(app, &incoming("g4", call, "s-greeted-2", &number.e164)).await;
    commands_reach(&asked, call, 1).await;
    accepted(
        app,
        &step("g5", "call.answered", call, "s-greeted-2", "voicemail"),
    )
    .await;
    let sent = commands_reach(&asked, call, 2).await;
    assert_eq!(sent[1].0, "speak");
}

/// With the production rule (public addresses only), a recording link to a private or
/// loopback address, on one of our calls, is not fetched: a forged or hijacked webhook
/// can't make the server reach inside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_link_to_an_inside_address_is_not_fetched() {
    let (base, asked) = telnyx_stand_in().await;
    let api = base.clone();
    let app = TestApp::start_with(Backend::Sqlite, move |settings| {
        settings.carrier.telnyx.api_base = api;
        settings.carrier.telnyx.api_key = Some("KEY0123456789".into());
        settings.fetch_reach = app::server::safe_http::Reach::Public;
    })
    .await;
    let ada = app.admin("ada@example.com").await;
    let number = buy(&app, &ada, "212").await;
    accepted(&app, &incoming("i1", "v3:in-1", "s-in-1", &number.e164)).await;
    for (id, url) in [
        ("i2", format!("{base}/recordings/vm.mp3")),
        ("i3", "https://10.0.0.7/recordings/vm.mp3".to_string()),
        ("i4", "https://[::1]/vm.mp3".to_string()),
    ] {
        let recorded = event(
            id,
            "call.recording.saved",
            json!({ "call_session_id": "s-in-1", "recording_urls": { "mp3": url } }),
        );
        accepted(&app, &recorded).await;
    }
    common::eventually(20, "the refused fetches to finish", || async {
        let (jobs,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE kind = 'fetch_voicemail'")
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        (jobs == 0).then_some(())
    })
    .await;
    assert!(
        !asked
            .lock()
            .unwrap()
            .iter()
            .any(|(path, _)| path.starts_with("GET ")),
        "the loopback stand-in was reached"
    );
    assert!(log(&app, &ada).await[0].voicemail_id.is_none());
    app.finish().await;
}

/// What the stand-in was asked at `path` (method and path), in order.
fn asked_at(asked: &Asked, path: &str) -> Vec<Value> {
    asked
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, body)| body.clone())
        .collect()
}

async fn sign_in(app: &TestApp, client: &reqwest::Client, device: &str) -> common::Reply {
    app.call(
        client,
        BrowserPhone {
            device: device.into(),
            carrier: "telnyx".into(),
        },
    )
    .await
}

async fn pick_up(
    app: &TestApp,
    client: &reqwest::Client,
    call_id: &str,
    tab: &str,
    device: &str,
) -> common::Reply {
    app.call(
        client,
        PickUpCall {
            call_id: call_id.into(),
            tab: tab.into(),
            device: device.into(),
        },
    )
    .await
}

/// The client state of the `n`th call placed (decoded).
fn placed_state(asked: &Asked, n: usize) -> String {
    let dialed = dials(asked).remove(n);
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(dialed["client_state"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
}

async fn a_telnyx_call_is_answered_in_the_browser(app: &TestApp, asked: Asked, _base: String) {
    let ada = app.admin("ada@example.com").await;
    let bob = app.invited_user(&ada, "bob@example.com", "user").await;
    let number = buy(app, &ada, "212").await;
    const BROWSER: &str = "ada-browser-0001";

    // No browser of hers takes calls yet: voicemail, and her tabs don't ring.
    accepted(app, &incoming("b0", "v3:held-b0", "s-b0", &number.e164)).await;
    assert_eq!(commands_reach(&asked, "v3:held-b0", 1).await[0].0, "answer");
    assert!(crate::calls::live(app, &ada, "tab-1").await.is_empty());

    // She takes calls in this browser: its own credential on our connection for browsers
    // (reached by this account only), and a token for it. Asked again, the same credential.
    let bad = sign_in(app, &ada, "x").await;
    assert!(matches!(bad.error(), AppError::Invalid(_)), "{bad:?}");
    let first: BrowserPhoneSignIn = sign_in(app, &ada, BROWSER).await.json();
    assert_eq!(first.carrier, "telnyx");
    assert_eq!(first.token, "eyJh.eyJ1.sig");
    let connection = asked_at(&asked, "POST /credential_connections");
    assert_eq!(connection.len(), 1);
    assert_eq!(connection[0]["sip_uri_calling_preference"], "internal");
    let made = asked_at(&asked, "POST /telephony_credentials");
    assert_eq!(made[0]["connection_id"], "browsers-1");
    let again: BrowserPhoneSignIn = sign_in(app, &ada, BROWSER).await.json();
    assert_eq!(again.token, "eyJh.eyJ1.sig");
    assert_eq!(asked_at(&asked, "POST /telephony_credentials").len(), 1);
    assert_eq!(
        asked_at(&asked, "POST /telephony_credentials/cred-1/token").len(),
        2
    );
    // Bob naming her browser gets a credential of his own and its token, never hers.
    let bobs: BrowserPhoneSignIn = sign_in(app, &bob, BROWSER).await.json();
    assert_eq!(bobs.token, "eyJh.eyJ2.sig");
    assert_eq!(
        asked_at(&asked, "POST /telephony_credentials/cred-2/token").len(),
        1
    );
    assert_eq!(
        asked_at(&asked, "POST /telephony_credentials/cred-1/token").len(),
        2
    );

    // A call now rings her tabs (held at the carrier: no command yet), marked as one the
    // carrier's SDK takes (and her devices with the app closed: the test below), with the
    // caller's name when she has them as a contact.
    assert!(app
        .call(&ada, crate::contacts::contact("Carol Caller", &[CALLER]))
        .await
        .is_ok());
    let (held, session) = ("v3:held-b1", "s-b1");
    accepted(app, &incoming("b1", held, session, &number.e164)).await;
    let ringing = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(ringing.len(), 1, "{ringing:?}");
    let call = &ringing[0];
    assert_eq!(
        (call.state.as_str(), call.carrier.as_deref(), call.here),
        ("ringing", Some("telnyx"), false)
    );
    assert_eq!(
        (call.peer.as_str(), call.peer_name.as_str()),
        (CALLER, "Carol Caller")
    );
    assert!(commands(&asked, held).is_empty());

    // Answering as a call between browsers is refused: only the carrier's SDK can take it.
    let as_webrtc = app
        .call(
            &ada,
            app::api::calls::AnswerCall {
                call_id: call.id.clone(),
                tab: "tab-1".into(),
                answer: crate::calls::OFFER.into(),
            },
        )
        .await;
    assert!(as_webrtc.body.contains("phone network"), "{as_webrtc:?}");
    // Only she can pick it up, and only from a browser signed in to take calls.
    assert!(matches!(
        pick_up(app, &bob, &call.id, "tab-b", "bob-browser-01")
            .await
            .error(),
        AppError::NotFound(_)
    ));
    let unknown = pick_up(app, &ada, &call.id, "tab-1", "other-browser-9").await;
    assert!(unknown.body.contains("isn't signed in"), "{unknown:?}");
    // She answers in tab 1: the carrier calls that browser, tied to the held caller.
    assert!(pick_up(app, &ada, &call.id, "tab-1", BROWSER).await.is_ok());
    let late = pick_up(app, &ada, &call.id, "tab-2", BROWSER).await;
    assert!(late.body.contains("answered elsewhere"), "{late:?}");
    let dialed = common::eventually(10, "the call to her browser", || async {
        dials(&asked).into_iter().next()
    })
    .await;
    assert_eq!(
        (&dialed["to"], &dialed["link_to"], &dialed["connection_id"]),
        (
            &json!("sip:gencred1@sip.telnyx.com"),
            &json!(held),
            &json!("7267xxxxxxxxxxxxxx")
        )
    );
    let pickup = placed_state(&asked, 0);
    assert!(pickup.starts_with("pickup:"), "{pickup}");
    let tab1 = crate::calls::live(app, &ada, "tab-1").await;
    let tab2 = crate::calls::live(app, &ada, "tab-2").await;
    assert_eq!((tab1[0].state.as_str(), tab1[0].here), ("answered", true));
    assert_eq!((tab2[0].state.as_str(), tab2[0].here), ("answered", false));

    // Her browser answers: no whisper; the caller is answered and joined with it.
    let browser = "v3:leg-1";
    accepted(app, &step("b2", "call.answered", browser, "s-leg", &pickup)).await;
    let sent = commands_reach(&asked, held, 1).await;
    assert_eq!(sent[0].0, "answer");
    assert!(commands(&asked, browser).is_empty(), "no whisper");
    accepted(app, &step("b3", "call.answered", held, session, &pickup)).await;
    let sent = commands_reach(&asked, held, 2).await;
    assert_eq!(
        (sent[1].0.as_str(), &sent[1].1["call_control_id"]),
        ("bridge", &json!(browser))
    );
    // Another call's events carrying our state (a call the browser's token made itself)
    // end nothing.
    accepted(app, &hangup("b4", "v3:stranger", "s-x", &pickup)).await;
    let still = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(still[0].state, "answered");
    // She hangs up in the tab: both calls end at the carrier; answered, in her log.
    assert!(crate::calls::hang_up(app, &ada, &call.id).await.is_ok());
    assert_eq!(commands_reach(&asked, held, 3).await[2].0, "hangup");
    assert_eq!(commands_reach(&asked, browser, 1).await[0].0, "hangup");
    assert_eq!(log(app, &ada).await[0].outcome, "Answered");

    // Declined in a tab: the caller gets her voicemail.
    accepted(app, &incoming("c1", "v3:held-c1", "s-c1", &number.e164)).await;
    let ringing = crate::calls::live(app, &ada, "tab-1").await;
    let call = ringing.iter().find(|c| c.state == "ringing").unwrap();
    assert!(crate::calls::decline(app, &ada, &call.id).await.is_ok());
    let sent = commands_reach(&asked, "v3:held-c1", 1).await;
    assert_eq!(
        (sent[0].0.as_str(), &sent[0].1["client_state"]),
        ("answer", &json!(state("voicemail")))
    );

    // Answered, but the browser never takes the carrier's call (closed meanwhile): the
    // caller gets the voicemail.
    accepted(app, &incoming("d1", "v3:held-d1", "s-d1", &number.e164)).await;
    let ringing = crate::calls::live(app, &ada, "tab-1").await;
    let call = ringing.iter().find(|c| c.state == "ringing").unwrap();
    assert!(pick_up(app, &ada, &call.id, "tab-1", BROWSER).await.is_ok());
    common::eventually(10, "the call to her browser", || async {
        (dials(&asked).len() == 2).then_some(())
    })
    .await;
    let pickup = placed_state(&asked, 1);
    // The ring time ending meanwhile leaves it to the carrier's call to her browser.
    app::server::calls::ring_timeout(&app.state, &call.id, false)
        .await
        .unwrap();
    let still = crate::calls::live(app, &ada, "tab-1").await;
    let still = still.iter().find(|c| c.id == call.id).unwrap();
    assert_eq!((still.state.as_str(), still.here), ("answered", true));
    accepted(app, &hangup("d2", "v3:leg-2", "s-leg", &pickup)).await;
    let sent = commands_reach(&asked, "v3:held-d1", 1).await;
    assert_eq!(
        (sent[0].0.as_str(), &sent[0].1["client_state"]),
        ("answer", &json!(state("voicemail")))
    );
    assert_eq!(log(app, &ada).await[0].outcome, "Missed");

    // Picked up, and then nothing from the carrier at all: our last timer sends the caller
    // to the voicemail and lets the browser's call go.
    accepted(app, &incoming("e1", "v3:held-e1", "s-e1", &number.e164)).await;
    let ringing = crate::calls::live(app, &ada, "tab-1").await;
    let call = ringing.iter().find(|c| c.state == "ringing").unwrap();
    assert!(pick_up(app, &ada, &call.id, "tab-1", BROWSER).await.is_ok());
    assert_eq!(placed(app, "v3:held-e1").await, "v3:leg-3");
    app::server::calls::ring_timeout(&app.state, &call.id, true)
        .await
        .unwrap();
    assert_eq!(commands_reach(&asked, "v3:leg-3", 1).await[0].0, "hangup");
    assert_eq!(
        commands_reach(&asked, "v3:held-e1", 1).await[0].1["client_state"],
        json!(state("voicemail"))
    );
}

async fn a_phone_is_called_from_the_browser(app: &TestApp, asked: Asked, _base: String) {
    let ada = app.admin("ada@example.com").await;
    let bob = app.invited_user(&ada, "bob@example.com", "user").await;
    let number = buy(app, &ada, "212").await;
    let other = buy(app, &ada, "415").await;
    // Bought on Telnyx (the fast tests buy on the sandbox).
    sqlx::query("UPDATE phone_numbers SET carrier = 'telnyx' WHERE id = $1")
        .bind(&number.id)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    const BROWSER: &str = "ada-browser-0002";
    let route = |to: &str| CallRoute {
        number_id: number.id.clone(),
        to: to.into(),
    };
    let call_out = |to: &str, device: &str| CallOut {
        number_id: number.id.clone(),
        to: to.into(),
        tab: "tab-1".into(),
        device: device.into(),
    };

    // A phone outside goes through Telnyx's SDK; a number here is a call between browsers.
    let via: Option<String> = app.call(&ada, route(PHONE)).await.json();
    assert_eq!(via.as_deref(), Some("telnyx"));
    let via: Option<String> = app.call(&ada, route(&other.e164)).await.json();
    assert_eq!(via, None);
    assert!(matches!(
        app.call(&bob, route(PHONE)).await.error(),
        AppError::NotFound(_)
    ));
    // Only from a browser signed in; not abroad, nor to premium-rate lines (the instance
    // pays for each call).
    let unsigned = app.call(&ada, call_out(PHONE, BROWSER)).await;
    assert!(unsigned.body.contains("isn't signed in"), "{unsigned:?}");
    assert!(sign_in(app, &ada, BROWSER).await.is_ok());
    let abroad = app.call(&ada, call_out("+44 20 7946 0018", BROWSER)).await;
    assert!(abroad.body.contains("own country"), "{abroad:?}");
    let premium = app.call(&ada, call_out("+1 900 234 5678", BROWSER)).await;
    assert!(premium.body.contains("premium-rate"), "{premium:?}");
    assert!(dials(&asked).is_empty());

    // Telnyx calls her browser first (tied to nothing), through our Call Control app.
    let id: String = app
        .call(&ada, call_out("(202) 555-0188", BROWSER))
        .await
        .json();
    let first = common::eventually(10, "the call to her browser", || async {
        dials(&asked).into_iter().next()
    })
    .await;
    assert_eq!(
        (&first["to"], &first["from"], &first["connection_id"]),
        (
            &json!("sip:gencred1@sip.telnyx.com"),
            &json!(number.e164),
            &json!("cc-app-9")
        )
    );
    assert!(first.get("link_to").is_none(), "{first}");
    let outbound = placed_state(&asked, 0);
    assert_eq!(outbound, format!("outbound:{id}"));
    let mine = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(
        (
            mine[0].direction.as_str(),
            mine[0].state.as_str(),
            mine[0].here,
            mine[0].carrier.as_deref(),
            mine[0].can_leave_voicemail
        ),
        ("out", "ringing", true, Some("telnyx"), false)
    );

    // Her browser takes it: the phone is called, tied to it; it answers: joined.
    let (browser, phone) = ("v3:leg-1", "v3:leg-2");
    accepted(app, &step("o1", "call.answered", browser, "s-o", &outbound)).await;
    let second = common::eventually(10, "the call to the phone", || async {
        dials(&asked).into_iter().nth(1)
    })
    .await;
    assert_eq!(
        (&second["to"], &second["from"], &second["link_to"]),
        (&json!(PHONE), &json!(number.e164), &json!(browser))
    );
    accepted(app, &step("o2", "call.answered", phone, "s-o", &outbound)).await;
    let sent = commands_reach(&asked, browser, 1).await;
    assert_eq!(
        (sent[0].0.as_str(), &sent[0].1["call_control_id"]),
        ("bridge", &json!(phone))
    );
    assert_eq!(
        crate::calls::live(app, &ada, "tab-1").await[0].state,
        "answered"
    );
    accepted(app, &hangup("o9", "v3:stranger", "s-x", &outbound)).await;
    let still = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(still[0].state, "answered");
    // The phone hangs up: her browser's call ends too; answered, in her log.
    accepted(app, &hangup("o3", phone, "s-o", &outbound)).await;
    assert_eq!(commands_reach(&asked, browser, 2).await[1].0, "hangup");
    assert_eq!(log(app, &ada).await[0].outcome, "Answered");

    // Not answered: the phone's hang-up (its timeout) ends the call as not answered.
    let id: String = app.call(&ada, call_out(PHONE, BROWSER)).await.json();
    common::eventually(10, "the call to her browser", || async {
        (dials(&asked).len() == 3).then_some(())
    })
    .await;
    let outbound = format!("outbound:{id}");
    accepted(
        app,
        &step("p1", "call.answered", "v3:leg-3", "s-p", &outbound),
    )
    .await;
    common::eventually(10, "the call to the phone", || async {
        (dials(&asked).len() == 4).then_some(())
    })
    .await;
    accepted(app, &hangup("p2", "v3:leg-4", "s-p", &outbound)).await;
    assert_eq!(commands_reach(&asked, "v3:leg-3", 1).await[0].0, "hangup");
    assert_eq!(log(app, &ada).await[0].outcome, "No answer");

    // She hangs up in the tab while it rings: cancelled, and what Telnyx holds ends.
    let id: String = app.call(&ada, call_out(PHONE, BROWSER)).await.json();
    // Telnyx names her browser's call (leg-5) when asked to place it; an answer sent
    // before that (as this test once did) let the phone's dial, run first, take that name.
    common::eventually(10, "the call to her browser", || async {
        (dials(&asked).len() == 5).then_some(())
    })
    .await;
    let outbound = format!("outbound:{id}");
    accepted(
        app,
        &step("q1", "call.answered", "v3:leg-5", "s-q", &outbound),
    )
    .await;
    common::eventually(10, "the call to the phone", || async {
        (dials(&asked).len() == 6).then_some(())
    })
    .await;
    placed_is(app, "v3:leg-5", "v3:leg-6").await;
    assert!(crate::calls::hang_up(app, &ada, &id).await.is_ok());
    assert_eq!(commands_reach(&asked, "v3:leg-5", 1).await[0].0, "hangup");
    assert_eq!(commands_reach(&asked, "v3:leg-6", 1).await[0].0, "hangup");
    assert_eq!(log(app, &ada).await[0].outcome, "Cancelled");
    // A phone the carrier placed only after the call ended is let go at once.
    let placed_for = format!("outbound:{id}");
    app::server::calls::carrier::dialed(&app.state, "v3:leg-5", "v3:late-1", &placed_for)
        .await
        .unwrap();
    assert_eq!(commands_reach(&asked, "v3:late-1", 1).await[0].0, "hangup");

    // A phone Telnyx refuses to call: the call fails, saying why.
    let id: String = app.call(&ada, call_out(UNREACHABLE, BROWSER)).await.json();
    let outbound = format!("outbound:{id}");
    accepted(
        app,
        &step("r1", "call.answered", "v3:leg-7", "s-r", &outbound),
    )
    .await;
    assert_eq!(commands_reach(&asked, "v3:leg-7", 1).await[0].0, "hangup");
    let failed = &log(app, &ada).await[0];
    assert_eq!(failed.outcome, "Failed");
    assert!(
        format!("{failed:?}").contains("could not place the call"),
        "{failed:?}"
    );

    // The phone turns the call down (Telnyx's hang-up cause call_rejected): Declined in her
    // log, not No answer.
    let before = dials(&asked).len();
    let id: String = app.call(&ada, call_out(PHONE, BROWSER)).await.json();
    common::eventually(10, "the call to her browser", || async {
        (dials(&asked).len() == before + 1).then_some(())
    })
    .await;
    let (browser, phone) = (
        format!("v3:leg-{}", before + 1),
        format!("v3:leg-{}", before + 2),
    );
    let outbound = format!("outbound:{id}");
    accepted(
        app,
        &step("u1", "call.answered", &browser, "s-u", &outbound),
    )
    .await;
    common::eventually(10, "the call to the phone", || async {
        (dials(&asked).len() == before + 2).then_some(())
    })
    .await;
    placed_is(app, &browser, &phone).await;
    let rejected = event(
        "u2",
        "call.hangup",
        json!({
            "call_control_id": phone,
            "call_leg_id": "s-u",
            "call_session_id": "s-u",
            "client_state": state(&outbound),
            "hangup_cause": "call_rejected",
        }),
    );
    accepted(app, &rejected).await;
    assert_eq!(commands_reach(&asked, &browser, 1).await[0].0, "hangup");
    assert_eq!(log(app, &ada).await[0].outcome, "Declined");
}

/// Twilio told us nothing by the end of a forwarded call's ring time (our backstop timer):
/// the call, still there, is pointed back at our webhook, which answers it with the
/// voicemail (the same when asked again), not hung up on.
async fn a_twilio_call_our_timer_ends_gets_the_voicemail(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    assert!(forward_to(app, &ada, &number, PHONE).await.is_ok());
    let changes = [
        ("To", number.e164.as_str()),
        ("From", CALLER),
        ("CallSid", "CA0000000000000000000000000000009a"),
    ];
    let reply = twilio_callback_to(app, "", "voice.incoming.json", &changes, true).await;
    assert!(reply.body.contains("<Dial"), "{reply:?}");
    let session = between(&reply.body, "?forward=", "&amp;").to_string();

    app::server::calls::ring_timeout(&app.state, &session, false)
        .await
        .unwrap();
    let update = common::eventually(10, "the call pointed at the voicemail", || async {
        asked_at(&asked, "twilio CA0000000000000000000000000000009a.json")
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(
        update["Url"],
        format!("{}/webhooks/twilio?step=voicemail", app.base)
    );
    assert_eq!(log(app, &ada).await[0].outcome, "Missed");
    for _ in 0..2 {
        let voicemail = twilio_callback_to(
            app,
            "?step=voicemail",
            "voice.incoming.json",
            &changes,
            true,
        )
        .await;
        assert!(voicemail.body.contains("<Record "), "{voicemail:?}");
    }
    // The forwarded phone's <Dial> ending afterwards does not hang up on the caller.
    let dialed = twilio_callback_to(
        app,
        &format!("?forward={session}&step=dialed"),
        "voice.incoming.json",
        &changes,
        true,
    )
    .await;
    assert!(dialed.body.contains("<Record "), "{dialed:?}");
}

/// A phone-network call ringing someone's browsers rings their devices with the app closed
/// too: an urgent push, like a call between people here. (The app is paused: the push
/// waits in the queue to be read.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_ringing_browsers_rings_closed_devices() {
    let app = TestApp::start_paused(Backend::Sqlite).await;
    let ada = app.admin("ada@example.com").await;
    let number = buy(&app, &ada, "212").await;
    let ada_id = app.user_id(&ada, "ada@example.com").await;
    for insert in [
        "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, device, created_at)
         VALUES ('ada-phone', $1, 'https://push.example/ada', 'k', 'a', 'Ada''s phone', 0)",
        "INSERT INTO browser_phones
             (id, user_id, carrier, device, credential_id, sip_username, created_at)
         VALUES ('bp-1', $1, 'telnyx', 'ada-browser-0001', 'cred-1', 'gencred1', 0)",
    ] {
        sqlx::query(insert)
            .bind(&ada_id)
            .execute(app.state.db.pool())
            .await
            .unwrap();
    }
    accepted(&app, &incoming("r1", "v3:held-r1", "s-r1", &number.e164)).await;
    let rings: Vec<(String,)> = sqlx::query_as("SELECT payload FROM jobs WHERE kind = 'push'")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(rings.len(), 1, "{rings:?}");
    let job: Value = serde_json::from_str(&rings[0].0).unwrap();
    assert_eq!(job["urgent"], true);
    let alert: Value = serde_json::from_str(job["payload"].as_str().unwrap()).unwrap();
    assert_eq!(alert["title"], "Call from (312) 555-0123");
    app.finish().await;
}

/// Every browser phone is a credential at the carrier: ten per person, the newest
/// replacing the one set up longest ago (deleted at the carrier too), so a script signing
/// in from endless "browsers" piles up nothing.
async fn browser_phones_are_capped(app: &TestApp, asked: Asked, _base: String) {
    let ada = app.admin("ada@example.com").await;
    for n in 0..=browser_phone::MAX_PER_USER {
        assert!(sign_in(app, &ada, &format!("browser-{n:04}")).await.is_ok());
    }
    let (kept,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM browser_phones")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(kept, browser_phone::MAX_PER_USER);
    assert_eq!(
        asked_at(&asked, "DELETE /telephony_credentials/cred-1").len(),
        1,
        "the oldest is deleted at the carrier"
    );
    // The first browser is a new one again.
    let before = asked_at(&asked, "POST /telephony_credentials").len();
    assert!(sign_in(app, &ada, "browser-0000").await.is_ok());
    assert_eq!(
        asked_at(&asked, "POST /telephony_credentials").len(),
        before + 1
    );

    // Each sign-in may make a credential at Telnyx: a script signing in on and on is
    // stopped at the hour's limit (12 so far).
    for _ in 12..browser_phone::SIGN_INS.per_window {
        assert!(sign_in(app, &ada, "browser-0000").await.is_ok());
    }
    let made = asked_at(&asked, "POST /telephony_credentials").len();
    let stopped = sign_in(app, &ada, "browser-9999").await;
    assert!(
        matches!(stopped.error(), AppError::Throttled(_)),
        "{stopped:?}"
    );
    assert_eq!(asked_at(&asked, "POST /telephony_credentials").len(), made);

    // She stops taking calls in browsers: all of hers go, at Telnyx too, and her calls go
    // to voicemail again.
    let deleted = |asked: &Asked| {
        asked
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.starts_with("DELETE /telephony_credentials/"))
            .count()
    };
    let deleted_before = deleted(&asked);
    assert!(app
        .call(&ada, app::api::calls::ForgetBrowserPhones {})
        .await
        .is_ok());
    assert_eq!(deleted(&asked), deleted_before + 10);
    let number = buy(app, &ada, "212").await;
    accepted(app, &incoming("f1", "v3:held-f1", "s-f1", &number.e164)).await;
    assert_eq!(commands_reach(&asked, "v3:held-f1", 1).await[0].0, "answer");
    assert!(crate::calls::live(app, &ada, "tab-1").await.is_empty());
}

/// The decoded query value `name` in the URL (XML-escaped) of attribute `attribute` in
/// `twiml`.
fn twiml_query(twiml: &str, attribute: &str, name: &str) -> String {
    let url = between(twiml, &format!("{attribute}=\""), "\"").replace("&amp;", "&");
    url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// Our webhook's query for step `step` of a call with `state` (`pickup:<id>` is
/// `?pickup=<id>`: nothing URL encoders disagree on).
fn step_query(state: &str, step: &str) -> String {
    let (kind, id) = state.split_once(':').unwrap();
    format!("?{kind}={id}&step={step}")
}

/// A Twilio number rings Ada's browser: signed in with an Access Token of its own (signed
/// with an API key made once, kept sealed), the caller held hearing a ringback, the tab
/// that pressed Answer rung through `<Dial><Client>`, put through with no whisper. A caller
/// who hangs up while held ends the ringing. Then a call out: Twilio calls her browser,
/// then the phone, and puts them through.
async fn a_twilio_call_is_answered_in_the_browser_and_a_phone_called(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::Mac;
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    const BROWSER: &str = "ada-browser-0003";
    let sign_in = || {
        app.call(
            &ada,
            BrowserPhone {
                device: BROWSER.into(),
                carrier: "twilio".into(),
            },
        )
    };
    let first: BrowserPhoneSignIn = sign_in().await.json();
    assert_eq!(first.carrier, "twilio");
    // An Access Token signed with the key's secret: her browser's identity, calls in only.
    let parts: Vec<&str> = first.token.split('.').collect();
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(TWILIO_KEY_SECRET.as_bytes()).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    assert_eq!(
        URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        mac.finalize().into_bytes().to_vec()
    );
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], TWILIO_KEY);
    assert_eq!(claims["sub"], format!("AC{}", "0".repeat(32)));
    let identity = claims["grants"]["identity"].as_str().unwrap().to_string();
    assert!(identity.starts_with("sb_"), "{identity}");
    assert_eq!(
        claims["grants"]["voice"],
        json!({"incoming": {"allow": true}})
    );
    // The key is made once, and kept sealed (each sign-in checks it is still there).
    let again: BrowserPhoneSignIn = sign_in().await.json();
    assert_ne!(again.token, "");
    assert_eq!(asked_at(&asked, "twilio Keys.json").len(), 1);
    let checked = format!("twilio GET Keys/{TWILIO_KEY}.json");
    assert_eq!(asked_at(&asked, &checked).len(), 1);
    let (kept,): (String,) = sqlx::query_as(
        "SELECT value FROM instance_settings WHERE key LIKE 'browser_setup.twilio.%'",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert!(!kept.contains(TWILIO_KEY_SECRET), "sealed: {kept}");
    // The key deleted at Twilio (the tokens it signs would be refused): the next sign-in
    // makes another.
    let deleted = ("twilio key deleted".to_string(), Value::Null);
    asked.lock().unwrap().push(deleted.clone());
    let renewed: BrowserPhoneSignIn = sign_in().await.json();
    assert_ne!(renewed.token, "");
    assert_eq!(asked_at(&asked, "twilio Keys.json").len(), 2);
    asked.lock().unwrap().retain(|entry| *entry != deleted);

    // A call: held, hearing a ringback (served here, to anyone: Twilio fetches it), while
    // her tabs ring. Asked again, the same.
    let held = "CA00000000000000000000000000000b01";
    let ringing = [
        ("To", number.e164.as_str()),
        ("From", CALLER),
        ("CallSid", held),
    ];
    for _ in 0..2 {
        let reply = twilio_callback(app, "voice.incoming.json", &ringing, true).await;
        assert!(
            reply.body.contains(&format!(
                "<Play loop=\"15\">{}/sounds/ringback.wav</Play>",
                app.base
            )),
            "{reply:?}"
        );
        assert!(
            reply.body.contains("?step=voicemail</Redirect>"),
            "{reply:?}"
        );
    }
    let ringback = reqwest::get(format!("{}/sounds/ringback.wav", app.base))
        .await
        .unwrap();
    assert_eq!(ringback.headers()["content-type"], "audio/wav");
    let live = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(
        (live[0].state.as_str(), live[0].carrier.as_deref()),
        ("ringing", Some("twilio"))
    );

    // She answers: the held call is pointed at a <Dial> of her browser.
    assert!(pick_up(app, &ada, &live[0].id, "tab-1", BROWSER)
        .await
        .is_ok());
    let update = common::eventually(10, "the call pointed at her browser", || async {
        asked_at(&asked, &format!("twilio {held}.json"))
            .into_iter()
            .next()
    })
    .await;
    let twiml = update["Twiml"].as_str().unwrap().to_string();
    assert!(twiml.contains(&format!(">{identity}</Client>")), "{twiml}");
    let pickup = format!("pickup:{}", twiml_query(&twiml, "url", "pickup"));
    assert_eq!(pickup, format!("pickup:{}", live[0].id));
    // Her browser takes it: put through at once (an empty answer), no whisper.
    let taken = twilio_callback_to(
        app,
        &step_query(&pickup, "whisper"),
        "voice.incoming.json",
        &[("CallSid", "CA00000000000000000000000000000b02")],
        true,
    )
    .await;
    assert_eq!(taken.body, "<Response/>");
    assert_eq!(
        crate::calls::live(app, &ada, "tab-1").await[0].state,
        "answered"
    );
    // Asked again (Twilio lost our answer): put through again, not hung up.
    let again = twilio_callback_to(
        app,
        &step_query(&pickup, "whisper"),
        "voice.incoming.json",
        &[("CallSid", "CA00000000000000000000000000000b02")],
        true,
    )
    .await;
    assert_eq!(again.body, "<Response/>");
    // The caller hangs up: the <Dial> ends.
    let over = twilio_callback_to(
        app,
        &step_query(&pickup, "dialed"),
        "voice.incoming.json",
        &[
            ("CallSid", held),
            ("DialCallSid", "CA00000000000000000000000000000b02"),
        ],
        true,
    )
    .await;
    assert!(over.body.contains("<Hangup/>"), "{over:?}");
    assert_eq!(log(app, &ada).await[0].outcome, "Answered");

    // A caller who hangs up while held (the number's status callback) stops the ringing.
    let gone = "CA00000000000000000000000000000b03";
    let ringing = [
        ("To", number.e164.as_str()),
        ("From", CALLER),
        ("CallSid", gone),
    ];
    twilio_callback(app, "voice.incoming.json", &ringing, true).await;
    let rings =
        |live: Vec<app::types::LiveCall>| live.iter().filter(|c| c.state == "ringing").count();
    assert_eq!(rings(crate::calls::live(app, &ada, "tab-1").await), 1);
    let ended = [("CallSid", gone), ("CallStatus", "completed")];
    assert_eq!(
        twilio_callback(app, "voice.incoming.json", &ended, true)
            .await
            .status,
        200
    );
    assert_eq!(rings(crate::calls::live(app, &ada, "tab-1").await), 0);
    assert_eq!(log(app, &ada).await[0].outcome, "Missed");

    // Held past the ringback (our timer late): the Hold's own redirect to the voicemail
    // ends the ringing, so no tab picks up a caller already leaving a message; once it is
    // recorded, the call ends (not the greeting again).
    let late = "CA00000000000000000000000000000b04";
    let ringing = [
        ("To", number.e164.as_str()),
        ("From", CALLER),
        ("CallSid", late),
    ];
    twilio_callback(app, "voice.incoming.json", &ringing, true).await;
    assert_eq!(rings(crate::calls::live(app, &ada, "tab-1").await), 1);
    let voicemail = twilio_callback_to(
        app,
        "?step=voicemail",
        "voice.incoming.json",
        &ringing,
        true,
    )
    .await;
    assert!(voicemail.body.contains("<Record "), "{voicemail:?}");
    assert!(voicemail.body.contains("?step=recorded\""), "{voicemail:?}");
    assert_eq!(rings(crate::calls::live(app, &ada, "tab-1").await), 0);
    let recorded =
        twilio_callback_to(app, "?step=recorded", "voice.incoming.json", &ringing, true).await;
    assert_eq!(recorded.body, "<Response/>");

    // A call out from her Twilio number: Twilio calls her browser first.
    sqlx::query("UPDATE phone_numbers SET carrier = 'twilio' WHERE id = $1")
        .bind(&number.id)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let route: Option<String> = app
        .call(
            &ada,
            CallRoute {
                number_id: number.id.clone(),
                to: PHONE.into(),
            },
        )
        .await
        .json();
    assert_eq!(route.as_deref(), Some("twilio"));
    // Her browser's call out to PHONE (Twilio calls the browser first).
    let call_out = || async {
        let session: String = app
            .call(
                &ada,
                CallOut {
                    number_id: number.id.clone(),
                    to: PHONE.into(),
                    tab: "tab-1".into(),
                    device: BROWSER.into(),
                },
            )
            .await
            .json();
        session
    };
    let session = call_out().await;
    let placed = common::eventually(10, "the call to her browser", || async {
        asked_at(&asked, "twilio Calls.json").into_iter().next()
    })
    .await;
    assert_eq!(
        (&placed["To"], &placed["From"], &placed["Timeout"]),
        (
            &json!(format!("client:{identity}")),
            &json!(number.e164),
            &json!("15")
        )
    );
    let outbound = format!("outbound:{session}");
    assert_eq!(
        placed["Url"],
        format!(
            "{}/webhooks/twilio{}",
            app.base,
            step_query(&outbound, "answered")
        )
    );
    // Her browser answers: the phone is rung, showing her number. Twilio asking again (our
    // answer lost) gets the same answer, not a hang-up of her browser.
    let answered_step = step_query(&outbound, "answered");
    let browser_answered = || {
        twilio_callback_to(
            app,
            &answered_step,
            "voice.incoming.json",
            &[("CallSid", "CAplaced1")],
            true,
        )
    };
    let dial = browser_answered().await.body;
    assert_eq!(browser_answered().await.body, dial);
    assert!(dial.contains(&format!(">{PHONE}</Number>")), "{dial}");
    assert!(
        dial.contains(&format!("callerId=\"{}\"", number.e164)),
        "{dial}"
    );
    assert_eq!(twiml_query(&dial, "action", "step"), "dialed");
    // The phone answers: put through (again, if Twilio asks again).
    for _ in 0..2 {
        let phone_answered = twilio_callback_to(
            app,
            &step_query(&outbound, "whisper"),
            "voice.incoming.json",
            &[("CallSid", "CA00000000000000000000000000000c01")],
            true,
        )
        .await;
        assert_eq!(phone_answered.body, "<Response/>");
    }
    let live = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(
        live.iter().find(|c| c.id == session).unwrap().state,
        "answered"
    );
    // The phone hangs up: her browser's call ends too.
    let over = twilio_callback_to(
        app,
        &step_query(&outbound, "dialed"),
        "voice.incoming.json",
        &[
            ("CallSid", "CAplaced1"),
            ("DialCallSid", "CA00000000000000000000000000000c01"),
        ],
        true,
    )
    .await;
    assert!(over.body.contains("<Hangup/>"), "{over:?}");
    let out = &log(app, &ada).await[0];
    assert_eq!(
        (out.peer.as_str(), out.outcome.as_str()),
        (PHONE, "Answered")
    );

    // A phone that turns the call down (its <Dial> ends "busy"): Declined in her log.
    let session = call_out().await;
    common::eventually(10, "the second call to her browser", || async {
        (asked_at(&asked, "twilio Calls.json").len() == 2).then_some(())
    })
    .await;
    let outbound = format!("outbound:{session}");
    let dial = twilio_callback_to(
        app,
        &step_query(&outbound, "answered"),
        "voice.incoming.json",
        &[("CallSid", "CAplaced2")],
        true,
    )
    .await;
    assert!(
        dial.body.contains(&format!(">{PHONE}</Number>")),
        "{dial:?}"
    );
    let refused = twilio_callback_to(
        app,
        &step_query(&outbound, "dialed"),
        "voice.incoming.json",
        &[
            ("CallSid", "CAplaced2"),
            ("DialCallSid", "CA00000000000000000000000000000c02"),
            ("DialCallStatus", "busy"),
        ],
        true,
    )
    .await;
    assert!(refused.body.contains("<Hangup/>"), "{refused:?}");
    assert_eq!(log(app, &ada).await[0].outcome, "Declined");
}

/// Each scenario on both databases, with Telnyx's and Twilio's APIs at the stand-in.
macro_rules! with_telnyx_stand_in {
    ($($scenario:ident),* $(,)?) => {
        $(mod $scenario {
            use super::*;
            async fn run(backend: Backend) {
                let (base, asked) = telnyx_stand_in().await;
                let api = base.clone();
                let app = TestApp::start_with(backend, move |settings| {
                    settings.carrier.telnyx.api_base = api.clone();
                    settings.carrier.telnyx.api_key = Some("KEY0123456789".into());
                    settings.carrier.twilio.api_base = api;
                    settings.carrier.twilio.account_sid = Some(format!("AC{}", "0".repeat(32)));
                })
                .await;
                common::within_limit(stringify!($scenario), super::$scenario(&app, asked, base)).await;
                app.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres).await;
            }
        })*
    };
}

with_telnyx_stand_in!(
    a_telnyx_call_is_answered_by_voicemail,
    a_telnyx_call_is_forwarded_and_taken_with_a_key,
    a_forwarded_call_not_taken_goes_to_voicemail,
    a_twilio_call_is_answered_by_voicemail,
    a_twilio_call_is_forwarded_and_taken_with_a_key,
    a_recorded_greeting_is_played_to_phone_callers,
    calls_to_numbers_not_ours_and_bad_events_do_nothing_here,
    a_command_whose_answer_was_lost_is_repeated_with_its_id,
    a_telnyx_call_is_answered_in_the_browser,
    browser_phones_are_capped,
    a_phone_is_called_from_the_browser,
    a_twilio_call_our_timer_ends_gets_the_voicemail,
    a_twilio_call_is_answered_in_the_browser_and_a_phone_called,
    a_call_rings_browsers_first_then_the_forwarding_phone,
    a_twilio_call_rings_browsers_first_then_the_forwarding_phone,
    a_browser_that_never_takes_the_call_hands_it_to_the_forwarding_phone,
    the_forwarding_phone_rings_together_with_the_browsers,
    a_twilio_phone_rings_together_with_the_browsers,
    a_tab_and_the_phone_taking_a_call_at_once_never_both_have_it,
    one_person_with_a_telnyx_and_a_twilio_number,
);

/// A person with a number on each carrier (bought before and after the admin switched
/// carriers): her one browser takes the calls of both, each through its own carrier's SDK;
/// each number's calls come by its carrier's webhook and are commanded at that carrier, and
/// her calls out from each go through its own.
async fn one_person_with_a_telnyx_and_a_twilio_number(app: &TestApp, asked: Asked, _base: String) {
    let ada = app.admin("ada@example.com").await;
    let on_telnyx = buy(app, &ada, "212").await;
    let on_twilio = buy(app, &ada, "415").await;
    for (number, carrier) in [(&on_telnyx, "telnyx"), (&on_twilio, "twilio")] {
        sqlx::query("UPDATE phone_numbers SET carrier = $1 WHERE id = $2")
            .bind(carrier)
            .bind(number.id.to_string())
            .execute(app.state.db.pool())
            .await
            .unwrap();
    }
    const BROWSER: &str = "ada-browser-0009";
    for carrier in ["telnyx", "twilio"] {
        let signed_in: BrowserPhoneSignIn = app
            .call(
                &ada,
                BrowserPhone {
                    device: BROWSER.into(),
                    carrier: carrier.into(),
                },
            )
            .await
            .json();
        assert_eq!(signed_in.carrier, carrier);
        assert!(!signed_in.token.is_empty());
    }

    // Calls out: each number through its own carrier.
    for (number, carrier) in [(&on_telnyx, "telnyx"), (&on_twilio, "twilio")] {
        let via: Option<String> = app
            .call(
                &ada,
                CallRoute {
                    number_id: number.id.clone(),
                    to: PHONE.into(),
                },
            )
            .await
            .json();
        assert_eq!(via.as_deref(), Some(carrier), "{}", number.e164);
    }

    // A call to each: both ring her tab, each marked with the carrier whose SDK takes it.
    accepted(
        app,
        &incoming("two-1", "v3:held-two", "s-two", &on_telnyx.e164),
    )
    .await;
    let held_at_twilio = "CA00000000000000000000000000000d01";
    let reply = twilio_callback(
        app,
        "voice.incoming.json",
        &[
            ("To", on_twilio.e164.as_str()),
            ("From", CALLER),
            ("CallSid", held_at_twilio),
        ],
        true,
    )
    .await;
    assert!(reply.body.contains("ringback.wav"), "held: {reply:?}");
    let ringing = crate::calls::live(app, &ada, "tab-1").await;
    let mut by_carrier: Vec<(String, String)> = ringing
        .iter()
        .map(|c| {
            (
                c.carrier.clone().unwrap_or_default(),
                c.number_display.clone(),
            )
        })
        .collect();
    by_carrier.sort();
    assert_eq!(
        by_carrier,
        [
            ("telnyx".to_string(), on_telnyx.display.clone()),
            ("twilio".to_string(), on_twilio.display.clone()),
        ]
    );

    // She takes the Twilio one: Twilio's held call is pointed at her browser; nothing is
    // said to Telnyx about its own, which rings on.
    let twilio_call = ringing
        .iter()
        .find(|c| c.carrier.as_deref() == Some("twilio"))
        .unwrap();
    assert!(pick_up(app, &ada, &twilio_call.id, "tab-1", BROWSER)
        .await
        .is_ok());
    common::eventually(10, "Twilio's held call pointed at her browser", || async {
        asked_at(&asked, &format!("twilio {held_at_twilio}.json"))
            .into_iter()
            .next()
    })
    .await;
    assert!(commands(&asked, "v3:held-two").is_empty());
    let telnyx_call = crate::calls::live(app, &ada, "tab-1")
        .await
        .into_iter()
        .find(|c| c.carrier.as_deref() == Some("telnyx"))
        .unwrap();
    assert_eq!(telnyx_call.state, "ringing");
}

/// Forwarded after a while: a call first rings the browsers that take calls (the phone
/// not yet), then, when that time is up, the forwarding phone, as if forwarded at once
/// (whom it is for, 1 to take it); the browsers stop ringing. With no such browser, the
/// phone rings at once.
async fn a_call_rings_browsers_first_then_the_forwarding_phone(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    // Only the times offered.
    let odd = forward_after(app, &ada, &number, PHONE, 7).await;
    assert!(matches!(odd.error(), AppError::Invalid(_)), "{odd:?}");
    assert!(forward_after(app, &ada, &number, PHONE, 10).await.is_ok());
    let mine: Vec<OwnedNumber> = app.call(&ada, MyNumbers {}).await.json();
    assert_eq!(
        (mine[0].forward_to.as_str(), mine[0].forward_after_secs),
        (PHONE, 10)
    );

    // No browser of hers takes calls: her phone rings at once.
    accepted(app, &incoming("fa0", "v3:held-fa0", "s-fa0", &number.e164)).await;
    let first = common::eventually(10, "the phone called at once", || async {
        dials(&asked).into_iter().next()
    })
    .await;
    assert_eq!(first["link_to"], json!("v3:held-fa0"));

    // With one: the call rings her tabs first, held, and no phone is called yet.
    assert!(sign_in(app, &ada, "ada-browser-0004").await.is_ok());
    let (held, session) = ("v3:held-fa1", "s-fa1");
    accepted(app, &incoming("fa1", held, session, &number.e164)).await;
    let ringing = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(ringing.len(), 1, "{ringing:?}");
    assert_eq!(ringing[0].state, "ringing");
    assert_eq!(dials(&asked).len(), 1);
    assert!(commands(&asked, held).is_empty());
    // Its ring timer is due after the 10 seconds set, not the number's ring time.
    let (due, created): (i64, i64) = sqlx::query_as(
        "SELECT j.run_at, s.created_at FROM jobs j, call_sessions s
         WHERE j.kind = 'ring_timeout' AND s.id = $1 AND j.payload LIKE '%' || s.id || '%'",
    )
    .bind(&ringing[0].id)
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert!(
        (10_000..11_000).contains(&(due - created)),
        "{}",
        due - created
    );
    // A ringing alert for it, sent late (a push retried), would ring her closed devices.
    let ring = json!({
        "title": "Call from (312) 555-0123", "body": "", "url": "/calls",
        "tag": format!("call-{}", ringing[0].id), "unread": 0,
    })
    .to_string();
    let gone = || app::server::push::rings_for_a_call_gone(&app.state.db, &ring);
    assert!(!gone().await.unwrap(), "it rings her browsers still");

    // Time's up: her phone is called for the ring time, tied to the held caller; her tabs
    // stop ringing, and the log says where the call went.
    app::server::calls::ring_timeout(&app.state, &ringing[0].id, false)
        .await
        .unwrap();
    let dialed = common::eventually(10, "the forwarding phone called", || async {
        dials(&asked).into_iter().nth(1)
    })
    .await;
    assert_eq!(
        (&dialed["to"], &dialed["link_to"], &dialed["timeout_secs"]),
        (&json!(PHONE), &json!(held), &json!(20))
    );
    assert!(crate::calls::live(app, &ada, "tab-1").await.is_empty());
    assert!(gone().await.unwrap(), "a late ringing alert is not sent");
    let logged = log(app, &ada).await;
    assert_eq!(
        (logged[0].outcome.as_str(), logged[0].reason.as_deref()),
        ("In progress", Some("Forwarded to your phone"))
    );
    // Her browser can no longer pick it up. The browsers' timer run again (a crash before
    // it was marked done) neither calls the phone again nor ends the call.
    let late = pick_up(app, &ada, &ringing[0].id, "tab-1", "ada-browser-0004").await;
    assert!(!late.is_ok(), "{late:?}");
    app::server::calls::ring_timeout(&app.state, &ringing[0].id, false)
        .await
        .unwrap();
    assert_eq!(log(app, &ada).await[0].outcome, "In progress");

    // The phone answers: whom the call is for, and 1 takes it, as when forwarded at once.
    let forward_state = placed_state(&asked, 1);
    assert!(forward_state.starts_with("forward:"), "{forward_state}");
    // (The stand-in names the calls it places v3:leg-1, 2, …: this is the second.)
    let phone = placed(app, held).await;
    assert_eq!(phone, "v3:leg-2");
    let phone = phone.as_str();
    accepted(
        app,
        &step("fa2", "call.answered", phone, "s-leg", &forward_state),
    )
    .await;
    assert_eq!(
        commands_reach(&asked, phone, 1).await[0].0,
        "gather_using_speak"
    );
    accepted(app, &gathered("fa3", phone, &forward_state, "1")).await;
    assert_eq!(commands_reach(&asked, held, 1).await[0].0, "answer");
    assert_eq!(dials(&asked).len(), 2);
}

/// Ada's `number` forwards to [`PHONE`] after ringing browsers `secs` ([`forward_after`]),
/// a browser of hers takes Twilio calls, and Twilio's call `held` arrives: our answer.
async fn twilio_call_with_a_browser(
    app: &TestApp,
    ada: &reqwest::Client,
    number: &OwnedNumber,
    secs: i64,
    held: &str,
) -> common::Reply {
    assert!(forward_after(app, ada, number, PHONE, secs).await.is_ok());
    let signed_in = app
        .call(
            ada,
            BrowserPhone {
                device: format!("ada-browser-{held}"),
                carrier: "twilio".into(),
            },
        )
        .await;
    assert!(signed_in.is_ok(), "{signed_in:?}");
    let changes = [
        ("To", number.e164.as_str()),
        ("From", CALLER),
        ("CallSid", held),
    ];
    twilio_callback_to(app, "", "voice.incoming.json", &changes, true).await
}

/// The same through Twilio: the caller is held on our ringback while her browsers ring,
/// then the held call is pointed at a <Dial> of her phone, with its whisper.
async fn a_twilio_call_rings_browsers_first_then_the_forwarding_phone(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let held = "CA0000000000000000000000000000007b";
    let hold = twilio_call_with_a_browser(app, &ada, &number, 20, held).await;
    assert!(hold.body.contains("<Play loop="), "{hold:?}");
    let ringing = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(ringing.len(), 1, "{ringing:?}");

    app::server::calls::ring_timeout(&app.state, &ringing[0].id, false)
        .await
        .unwrap();
    let update = common::eventually(10, "the held call pointed at her phone", || async {
        asked_at(&asked, &format!("twilio {held}.json"))
            .into_iter()
            .next()
    })
    .await;
    let twiml = update["Twiml"].as_str().unwrap();
    assert!(twiml.contains(&format!(">{PHONE}</Number>")), "{twiml}");
    assert!(
        twiml.contains(&format!("?forward={}&amp;step=whisper", ringing[0].id)),
        "{twiml}"
    );
    assert!(crate::calls::live(app, &ada, "tab-1").await.is_empty());
}

/// A browser that pressed Answer while a call rang it before going to the forwarding phone,
/// but never took the call (its carrier call ended first): the call goes on to the phone,
/// not to voicemail; the pick-up's backstop timer leaves it be.
async fn a_browser_that_never_takes_the_call_hands_it_to_the_forwarding_phone(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    const BROWSER: &str = "ada-browser-0006";
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    assert!(forward_after(app, &ada, &number, PHONE, 20).await.is_ok());
    assert!(sign_in(app, &ada, BROWSER).await.is_ok());
    let (held, session) = ("v3:held-fb1", "s-fb1");
    accepted(app, &incoming("fb1", held, session, &number.e164)).await;
    let ringing = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(ringing.len(), 1, "{ringing:?}");
    let call = ringing[0].id.clone();
    assert!(pick_up(app, &ada, &call, "tab-1", BROWSER).await.is_ok());
    let browser_leg = placed(app, held).await;
    let pickup_state = placed_state(&asked, 0);
    assert!(pickup_state.starts_with("pickup:"), "{pickup_state}");

    accepted(app, &hangup("fb2", &browser_leg, "s-leg", &pickup_state)).await;
    let dialed = common::eventually(10, "the forwarding phone called", || async {
        dials(&asked).into_iter().nth(1)
    })
    .await;
    assert_eq!(
        (&dialed["to"], &dialed["link_to"]),
        (&json!(PHONE), &json!(held))
    );
    assert!(commands(&asked, held).is_empty(), "no voicemail answer");
    app::server::calls::ring_timeout(&app.state, &call, true)
        .await
        .unwrap();
    let logged = log(app, &ada).await;
    assert_eq!(
        (logged[0].outcome.as_str(), logged[0].reason.as_deref()),
        ("In progress", Some("Forwarded to your phone"))
    );
}

/// Waits until the carrier's id of the call placed for held call `held` is `leg`.
async fn placed_is(app: &TestApp, held: &str, leg: &str) {
    common::eventually(10, "the placed call's id", || async {
        (placed(app, held).await == leg).then_some(())
    })
    .await
}

/// Ada, with a Telnyx number forwarded to PHONE together with her browsers, and `browser`
/// signed in to take calls.
async fn forwarded_with_her_browser(
    app: &TestApp,
    browser: &str,
) -> (reqwest::Client, OwnedNumber) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let together = app::types::FORWARD_WITH_BROWSERS;
    assert!(forward_after(app, &ada, &number, PHONE, together)
        .await
        .is_ok());
    assert!(sign_in(app, &ada, browser).await.is_ok());
    (ada, number)
}

/// Forwarded together with the browsers: a call rings her tabs and her phone at once, and
/// the first to take it has it. A tab's Answer lets the phone go (even one already hearing
/// whom the call is for); the phone's 1 stops the tabs; the phone giving up leaves the tabs
/// ringing; the tabs' time ending leaves the phone ringing.
async fn the_forwarding_phone_rings_together_with_the_browsers(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    const BROWSER: &str = "ada-browser-0007";
    let (ada, number) = forwarded_with_her_browser(app, BROWSER).await;
    let mine: Vec<OwnedNumber> = app.call(&ada, MyNumbers {}).await.json();
    assert_eq!(
        mine[0].forward_after_secs,
        app::types::FORWARD_WITH_BROWSERS
    );
    // The stand-in names the calls it places v3:leg-1, 2, … in order.
    let ringing_in_tab = || async {
        let live = crate::calls::live(app, &ada, "tab-1").await;
        live.into_iter().find(|c| c.state == "ringing")
    };

    // 1. Both ring; the phone answers (it hears whom the call is for), then her tab
    // presses Answer: the phone is let go, the browser called, and it has the call.
    let held = "v3:held-tw1";
    accepted(app, &incoming("tw1", held, "s-tw1", &number.e164)).await;
    let call = ringing_in_tab().await.expect("her tab rings").id;
    let phone = common::eventually(10, "the phone called at once", || async {
        dials(&asked).into_iter().next()
    })
    .await;
    assert_eq!(
        (&phone["to"], &phone["link_to"], &phone["timeout_secs"]),
        (&json!(PHONE), &json!(held), &json!(20))
    );
    let phone_state = placed_state(&asked, 0);
    assert_eq!(phone_state, format!("forward:{call}"));
    placed_is(app, held, "v3:leg-1").await;
    accepted(
        app,
        &step("tw2", "call.answered", "v3:leg-1", "s-leg", &phone_state),
    )
    .await;
    assert_eq!(
        commands_reach(&asked, "v3:leg-1", 1).await[0].0,
        "gather_using_speak"
    );
    assert!(pick_up(app, &ada, &call, "tab-1", BROWSER).await.is_ok());
    assert_eq!(commands_reach(&asked, "v3:leg-1", 2).await[1].0, "hangup");
    let browser_state = common::eventually(10, "her browser called", || async {
        (dials(&asked).len() == 2).then(|| placed_state(&asked, 1))
    })
    .await;
    assert!(browser_state.starts_with("pickup:"), "{browser_state}");
    placed_is(app, held, "v3:leg-2").await;
    // A phone leg the carrier reports placed only now is let go, and the browser's stays.
    app::server::calls::carrier::dialed(&app.state, held, "v3:late-phone", &phone_state)
        .await
        .unwrap();
    assert_eq!(
        commands_reach(&asked, "v3:late-phone", 1).await[0].0,
        "hangup"
    );
    assert_eq!(placed(app, held).await, "v3:leg-2");
    // The phone's end, and its 1 pressed too late, change nothing: no voicemail, no answer.
    accepted(app, &gathered("tw3", "v3:leg-1", &phone_state, "1")).await;
    accepted(app, &hangup("tw4", "v3:leg-1", "s-leg", &phone_state)).await;
    accepted(
        app,
        &step("tw5", "call.answered", "v3:leg-2", "s-leg", &browser_state),
    )
    .await;
    let answered = commands_reach(&asked, held, 1).await;
    assert_eq!(answered.len(), 1, "{answered:?}");
    assert_eq!(answered[0].0, "answer");
    assert_eq!(log(app, &ada).await[0].outcome, "In progress");

    // 2. The phone takes it with 1: her tabs stop ringing and can't pick it up.
    let held = "v3:held-tw2";
    accepted(app, &incoming("tw6", held, "s-tw2", &number.e164)).await;
    let call = ringing_in_tab().await.expect("her tab rings").id;
    placed_is(app, held, "v3:leg-3").await;
    let phone_state = placed_state(&asked, 2);
    accepted(
        app,
        &step("tw7", "call.answered", "v3:leg-3", "s-leg", &phone_state),
    )
    .await;
    accepted(app, &gathered("tw8", "v3:leg-3", &phone_state, "1")).await;
    assert_eq!(commands_reach(&asked, held, 1).await[0].0, "answer");
    assert!(ringing_in_tab().await.is_none());
    let late = pick_up(app, &ada, &call, "tab-1", BROWSER).await;
    assert!(!late.is_ok(), "{late:?}");
    let logged = log(app, &ada).await;
    assert_eq!(
        logged[0].reason.as_deref(),
        Some("Answered on your forwarding phone")
    );

    // 3. The phone gives up (not answered, or turned down): her tabs ring on; their time
    // ending sends the caller to voicemail.
    let held = "v3:held-tw3";
    accepted(app, &incoming("tw9", held, "s-tw3", &number.e164)).await;
    let call = ringing_in_tab().await.expect("her tab rings").id;
    placed_is(app, held, "v3:leg-4").await;
    let phone_state = placed_state(&asked, 3);
    accepted(app, &hangup("tw10", "v3:leg-4", "s-leg", &phone_state)).await;
    assert_eq!(ringing_in_tab().await.map(|c| c.id), Some(call.clone()));
    assert!(commands(&asked, held).is_empty(), "no voicemail yet");
    app::server::calls::ring_timeout(&app.state, &call, false)
        .await
        .unwrap();
    let voicemail = commands_reach(&asked, held, 1).await;
    assert_eq!(voicemail[0].0, "answer");
    assert_eq!(voicemail[0].1["client_state"], json!(state("voicemail")));

    // 4. The tabs' time ends first: they stop, and the phone rings on alone (not called
    // again); its 1 still takes the call.
    let held = "v3:held-tw4";
    accepted(app, &incoming("tw11", held, "s-tw4", &number.e164)).await;
    let call = ringing_in_tab().await.expect("her tab rings").id;
    placed_is(app, held, "v3:leg-5").await;
    let phone_state = placed_state(&asked, 4);
    app::server::calls::ring_timeout(&app.state, &call, false)
        .await
        .unwrap();
    assert!(ringing_in_tab().await.is_none());
    assert!(
        commands(&asked, held).is_empty(),
        "no voicemail while the phone rings"
    );
    assert_eq!(dials(&asked).len(), 5);
    assert_eq!(
        log(app, &ada).await[0].reason.as_deref(),
        Some("Forwarded to your phone")
    );
    accepted(
        app,
        &step("tw12", "call.answered", "v3:leg-5", "s-leg", &phone_state),
    )
    .await;
    accepted(app, &gathered("tw13", "v3:leg-5", &phone_state, "1")).await;
    assert_eq!(commands_reach(&asked, held, 1).await[0].0, "answer");
}

/// The same through Twilio: the call's answer is the <Dial> of her phone while her tabs
/// ring; the phone giving up gets the caller held on our ringback, not the voicemail.
async fn a_twilio_phone_rings_together_with_the_browsers(
    app: &TestApp,
    _asked: Asked,
    _base: String,
) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let held = "CA0000000000000000000000000000007c";
    let together = app::types::FORWARD_WITH_BROWSERS;
    let dial = twilio_call_with_a_browser(app, &ada, &number, together, held).await;
    assert!(
        dial.body.contains(&format!(">{PHONE}</Number>")),
        "{dial:?}"
    );
    let ringing = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(ringing.len(), 1, "{ringing:?}");
    assert_eq!(ringing[0].state, "ringing");
    let session = &ringing[0].id;
    assert!(dial
        .body
        .contains(&format!("?forward={session}&amp;step=whisper")));
    // Twilio asking again (its answer lost) gets the same <Dial>.
    let same = [
        ("To", number.e164.as_str()),
        ("From", CALLER),
        ("CallSid", held),
    ];
    let again = twilio_callback_to(app, "", "voice.incoming.json", &same, true).await;
    assert!(
        again.body.contains(&format!(">{PHONE}</Number>")),
        "{again:?}"
    );

    let gave_up = [
        ("CallSid", held),
        ("DialCallSid", "CA0000000000000000000000000000007d"),
        ("DialCallStatus", "no-answer"),
    ];
    let query = format!("?forward={session}&step=dialed");
    let hold = twilio_callback_to(app, &query, "voice.incoming.json", &gave_up, true).await;
    assert!(hold.body.contains("<Play loop="), "{hold:?}");
    // Asked again (its answer lost): the same hold, never a hang-up.
    let again = twilio_callback_to(app, &query, "voice.incoming.json", &gave_up, true).await;
    assert_eq!(again.body, hold.body);
    let still = crate::calls::live(app, &ada, "tab-1").await;
    assert_eq!(still[0].state, "ringing");
}

/// Forwarded together with the browsers, a tab's Answer and the phone's 1 at the same
/// moment, round after round: exactly one of them has the call, never both (on PostgreSQL
/// the two updates race for the call's row; each re-checks its conditions after the lock).
async fn a_tab_and_the_phone_taking_a_call_at_once_never_both_have_it(
    app: &TestApp,
    asked: Asked,
    _base: String,
) {
    const BROWSER: &str = "ada-browser-0009";
    let (ada, number) = forwarded_with_her_browser(app, BROWSER).await;
    let (mut tab_won, mut phone_won) = (0, 0);
    for round in 0..6 {
        let held = format!("v3:held-race{round}");
        let session = format!("s-race{round}");
        let arrived = incoming(&format!("race{round}"), &held, &session, &number.e164);
        accepted(app, &arrived).await;
        let (call,): (String,) =
            sqlx::query_as("SELECT id FROM call_sessions WHERE carrier_call = $1")
                .bind(&held)
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        let phone = placed(app, &held).await;
        let phone_state = format!("forward:{call}");
        let answered = step(
            &format!("race{round}-a"),
            "call.answered",
            &phone,
            "s-leg",
            &phone_state,
        );
        accepted(app, &answered).await;
        commands_reach(&asked, &phone, 1).await;

        let pressed = gathered(&format!("race{round}-1"), &phone, &phone_state, "1");
        // The tab a little later in some rounds, so that each side gets to be first.
        let later = std::time::Duration::from_millis(round % 3 * 4);
        let (picked, ()) = tokio::join!(
            async {
                tokio::time::sleep(later).await;
                pick_up(app, &ada, &call, "tab-1", BROWSER).await
            },
            accepted(app, &pressed)
        );
        let (state, tab, leg): (String, Option<String>, Option<String>) = sqlx::query_as(
            "SELECT state, answered_tab, forward_call FROM call_sessions WHERE id = $1",
        )
        .bind(&call)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
        if picked.is_ok() {
            tab_won += 1;
            assert_eq!(state, "ringing", "round {round}: the phone took it too");
            assert_eq!(tab.as_deref(), Some("tab-1"));
            assert_ne!(leg.as_deref(), Some(phone.as_str()), "round {round}");
        } else {
            phone_won += 1;
            assert_eq!(
                (state.as_str(), leg.as_deref()),
                ("answered", Some(phone.as_str())),
                "round {round}: neither has it ({picked:?})"
            );
            assert_eq!(tab, None, "round {round}");
        }
    }
    assert_eq!(tab_won + phone_won, 6);
}
