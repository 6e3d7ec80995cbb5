//! The carrier clients against the carriers' published OpenAPI specs (`testdata/carriers/`),
//! served by Prism, which answers 422 to any request that breaks the spec.

use crate::common;

use app::server::carrier::config::CarrierKind;
use std::process::Stdio;
use std::time::Duration;

use app::server::carrier::telnyx::api::Telnyx;
use app::server::carrier::{
    api_client, CallAction, Carrier, CarrierError, NumberQuery, OutboundMessage,
};
use app::types::Capabilities;

/// Prism from end2end/node_modules (installed by `npm ci` there), on a free loopback port.
async fn prism(spec: &std::path::Path) -> (tokio::process::Child, String) {
    let bin = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../end2end/node_modules/.bin/prism");
    assert!(
        bin.exists(),
        "Prism not installed: run `npm ci` in end2end/ (scripts/test does)"
    );
    // Ready when it says it listens. A probe of its port was fooled: while Prism loads a
    // spec (~20 s for Telnyx's), another test's server can take the port it was given, and
    // answered the probe (404s to every request after). A Prism that can't bind exits, and
    // is started again on another port.
    use tokio::io::AsyncBufReadExt;
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = tokio::process::Command::new(&bin)
            .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
            .arg(spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start Prism");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        // Up to 90 s: the release build may be running beside the tests (scripts/test).
        let listening = tokio::time::timeout(Duration::from_secs(90), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("is listening") {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        if listening {
            // Its log goes on: read and dropped, so Prism never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return (child, format!("http://127.0.0.1:{port}"));
        }
    }
    panic!("Prism did not start");
}

/// Telnyx's published spec is 4 MB: Prism spends about 20 s of CPU loading it, so the
/// tests against it share one Prism (each is its own function, named in its failures).
#[tokio::test]
async fn telnyx_against_its_published_spec() {
    let (_prism, base) = prism(&common::carrier_data().join("telnyx/spec3.yml")).await;
    telnyx_client_speaks_the_published_spec(&base).await;
    admin_connection_test_reaches_the_carrier(&base).await;
}

async fn telnyx_client_speaks_the_published_spec(base: &str) {
    // Prism serves the paths without the /v2 prefix the production base carries.
    let telnyx = Telnyx::new(base, "KEY0123456789", None, api_client());

    telnyx.test_connection().await.expect("test connection");

    let query = NumberQuery {
        country: "US".into(),
        area_code: Some("970".into()),
        contains: Some("55".into()),
        needs: Capabilities {
            sms: true,
            mms: false,
            voice: true,
        },
        limit: 5,
    };
    let found = telnyx.search_numbers(&query).await.expect("search");
    assert!(!found.is_empty());
    assert!(found[0].e164.starts_with('+'));

    let bought = telnyx
        .buy_number(
            "+19705555098",
            "https://switchboard.example/webhooks/telnyx",
        )
        .await
        .expect("buy");
    assert!(!bought.carrier_ref.is_empty());
    // A number bought before the Call Control application is attached to it.
    telnyx
        .route_calls(
            "1293384261075731499",
            "https://switchboard.example/webhooks/telnyx",
        )
        .await
        .expect("a number's calls pointed at the application");

    let sent = telnyx
        .send_message(&OutboundMessage {
            id: "m1".into(),
            status_callback: "https://switchboard.example/webhooks/carrier?message=m1".into(),
            from: "+19705555098".into(),
            to: "+18445550001".into(),
            body: "Hello".into(),
            media_urls: Vec::new(),
        })
        .await
        .expect("send");
    assert!(!sent.carrier_message_id.is_empty());
    let mms = telnyx
        .send_message(&OutboundMessage {
            id: "m2".into(),
            status_callback: "https://switchboard.example/webhooks/carrier?message=m2".into(),
            from: "+19705555098".into(),
            to: "+18445550001".into(),
            body: "A picture".into(),
            media_urls: vec![
                "https://switchboard.example/media/public/a?expires=1&sig=x".into(),
                "https://switchboard.example/media/public/b?expires=1&sig=y".into(),
            ],
        })
        .await
        .expect("send an MMS");
    assert!(!mms.carrier_message_id.is_empty());

    // The Call Control commands of a call answered by voicemail or forwarded
    // (calls/carrier.rs).
    let call = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";
    for action in [
        CallAction::Answer,
        CallAction::Speak {
            text: "You've reached Ada. Leave a message after the tone.".into(),
        },
        CallAction::Play {
            url: "https://switchboard.example/media/public/m1?expires=1&sig=x".into(),
        },
        CallAction::RecordVoicemail { max_secs: 120 },
        CallAction::HangUp,
        // Forwarding: the call to the owner's phone, its whisper, the join.
        CallAction::Dial {
            to: "+12025550188".into(),
            from: "+19705555098".into(),
            connection: "1293384261075731499".into(),
            timeout_secs: 20,
        },
        // A browser that pressed Answer: called at its credential's SIP address.
        CallAction::Dial {
            to: "sip:gencrednCvHU5IYpSBPPsXI2iQsDX@sip.telnyx.com".into(),
            from: "+19705555098".into(),
            connection: "1293384261075731499".into(),
            timeout_secs: 15,
        },
        CallAction::AskForKey {
            text: "Call for (970) 555-5098. Press 1 to take it.".into(),
        },
        CallAction::Bridge {
            other: "v3:leg-b-1".into(),
        },
    ] {
        telnyx
            .call_action(call, &action, "c0ffee-1", "voicemail")
            .await
            .unwrap_or_else(|e| panic!("{action:?}: {e}"));
    }

    // A browser that takes calls: its credential on our connection for browsers, a token
    // for it, and the credential deleted when a newer browser replaces it
    // (calls/browser_phone.rs).
    let phone = telnyx
        .new_browser_phone(
            "https://switchboard.example/webhooks/telnyx",
            "Switchboard 0b1e8c2d",
        )
        .await
        .expect("a browser's credential");
    assert!(phone.sip_username.starts_with("gencred"), "{phone:?}");
    let token = telnyx
        .browser_phone_token(&phone.credential_id, None)
        .await
        .expect("a browser's token");
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    telnyx
        .forget_browser_phone(&phone.credential_id)
        .await
        .expect("a browser's credential deleted");

    telnyx
        .release_number(&bought.carrier_ref)
        .await
        .expect("release");
}

#[tokio::test]
async fn telnyx_failures_map_to_what_the_queue_needs() {
    // Nothing listens here: a transient failure, worth retrying.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = Telnyx::new(
        &format!("http://127.0.0.1:{port}"),
        "KEY",
        None,
        api_client(),
    );
    let err = down.test_connection().await.unwrap_err();
    assert!(
        matches!(err, CarrierError::Transient(_)) && err.is_retryable(),
        "{err:?}"
    );
}

#[tokio::test]
async fn twilio_client_speaks_the_published_spec() {
    use app::server::carrier::twilio::api::Twilio;
    // Twilio takes one `MediaUrl` parameter per picture; the spec says "array" without saying
    // how it is encoded, so Prism needs the encoding spelled out (testdata/carriers/README.txt).
    let spec_path = common::carrier_data().join("twilio/twilio_api_v2010.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&spec_path).unwrap()).unwrap();
    spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"]["requestBody"]
        ["content"]["application/x-www-form-urlencoded"]["encoding"] =
        serde_json::json!({ "MediaUrl": { "style": "form", "explode": true } });
    let overlay = std::env::temp_dir().join(format!(
        "twilio-spec-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&overlay, serde_json::to_vec(&spec).unwrap()).unwrap();
    let (_prism, base) = prism(&overlay).await;
    let sid = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let twilio = Twilio::new(&base, sid, "token", api_client())
        .with_webhook("https://switchboard.example/webhooks/twilio");
    twilio.test_connection().await.expect("test connection");
    let query = NumberQuery {
        country: "US".into(),
        area_code: Some("415".into()),
        contains: None,
        needs: Capabilities {
            sms: true,
            mms: true,
            voice: false,
        },
        limit: 5,
    };
    twilio.search_numbers(&query).await.expect("search");
    let bought = twilio
        .buy_number(
            "+14155550100",
            "https://switchboard.example/webhooks/twilio",
        )
        .await
        .expect("buy");
    assert!(!bought.carrier_ref.is_empty());
    // A number bought before the TwiML application is pointed at it.
    twilio
        .route_calls(
            "PN0123456789abcdef0123456789abcdef",
            "https://switchboard.example/webhooks/twilio",
        )
        .await
        .expect("a number's calls pointed at the application");
    let sent = twilio
        .send_message(&OutboundMessage {
            id: "m1".into(),
            status_callback: "https://switchboard.example/webhooks/carrier?message=m1".into(),
            from: "+14155550100".into(),
            to: "+14155550199".into(),
            body: "Hi".into(),
            media_urls: Vec::new(),
        })
        .await
        .expect("send");
    assert!(!sent.carrier_message_id.is_empty());
    let mms = twilio
        .send_message(&OutboundMessage {
            id: "m2".into(),
            status_callback: "https://switchboard.example/webhooks/carrier?message=m2".into(),
            from: "+14155550100".into(),
            to: "+14155550199".into(),
            body: "A picture".into(),
            media_urls: vec![
                "https://switchboard.example/media/public/a?expires=1&sig=x".into(),
                "https://switchboard.example/media/public/b?expires=1&sig=y".into(),
            ],
        })
        .await
        .expect("send an MMS");
    assert!(!mms.carrier_message_id.is_empty());
    // A live call commanded outside a webhook's answer (calls/carrier.rs): pointed back at
    // our webhook for the voicemail, or ended.
    let call = "CA0123456789abcdef0123456789abcdef";
    // Also: a browser that pressed Answer rung, the held call pointed at a <Dial> of it.
    let ring_browser = CallAction::Dial {
        to: "client:sb_0b1e8c2d".into(),
        from: "+14155550100".into(),
        connection: String::new(),
        timeout_secs: 15,
    };
    for (action, state) in [
        (CallAction::Answer, "voicemail"),
        (CallAction::HangUp, ""),
        (ring_browser.clone(), "pickup:0190a1b2-c3d4"),
    ] {
        twilio
            .call_action(call, &action, "c0ffee-2", state)
            .await
            .unwrap_or_else(|e| panic!("{action:?}: {e}"));
    }
    // A call out from a browser: Twilio calls the browser first (a new call).
    let placed = twilio
        .call_action("", &ring_browser, "c0ffee-3", "outbound:0190a1b2-c3d4")
        .await
        .expect("a call placed to a browser");
    assert!(placed.is_some_and(|sid| sid.starts_with("CA")));
    // Browsers' tokens: signed with an API key made once (its secret shown only then).
    let setup = twilio.browser_phones_setup().await.expect("an API key");
    // Asked after at each browser's sign-in: there (a wrong address would be "not found").
    assert!(!twilio.browser_setup_gone(&setup).await);
    let browser = twilio
        .new_browser_phone("https://switchboard.example/webhooks/twilio", "b")
        .await
        .unwrap();
    let token = twilio
        .browser_phone_token(&browser.credential_id, Some(&setup))
        .await
        .expect("a browser's token");
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    twilio
        .release_number(&bought.carrier_ref)
        .await
        .expect("release");
    let _ = std::fs::remove_file(overlay);
}

/// Admin → Carrier's "Test connection" reaches the carrier with the form's credentials.
async fn admin_connection_test_reaches_the_carrier(base: &str) {
    let app = common::TestApp::start(common::Backend::Sqlite).await;
    let ada = app.admin("ada@example.com").await;
    let said: String = app
        .call(
            &ada,
            app::api::carrier::TestCarrier {
                active: "telnyx".into(),
                telnyx_api_key: "KEY0123456789".into(),
                telnyx_public_key: common::TELNYX_TEST_PUBLIC_KEY.to_string(),
                telnyx_messaging_profile_id: Default::default(),
                telnyx_api_base: base.to_string(),
                twilio_account_sid: Default::default(),
                twilio_auth_token: Default::default(),
                twilio_api_base: Default::default(),
            },
        )
        .await
        .json();
    assert_eq!(said, "Telnyx answered: the settings work.");
    // Testing saves nothing.
    assert_eq!(app.state.carrier().kind(), CarrierKind::Sandbox);
    app.finish().await;
}

/// What a Twilio stand-in was asked: method, path after the account, form.
type TwilioAsked = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>;

/// A Twilio stand-in whose account already holds `applications` (sid, friendly name); it
/// makes application AP…02 and numbers PN….
async fn twilio_stand_in(applications: Vec<(&'static str, String)>) -> (String, TwilioAsked) {
    use axum::extract::{Path, State};
    use axum::http::Method;
    let asked: TwilioAsked = Default::default();
    let listed: Vec<serde_json::Value> = applications
        .into_iter()
        .map(|(sid, name)| serde_json::json!({"sid": sid, "friendly_name": name}))
        .collect();
    let router = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/{*rest}",
            axum::routing::any(
                move |State(asked): State<TwilioAsked>,
                      method: Method,
                      Path((_account, rest)): Path<(String, String)>,
                      body: String| {
                    let listed = listed.clone();
                    async move {
                        let gone = body.contains(&format!("VoiceApplicationSid={DELETED}"));
                        asked
                            .lock()
                            .unwrap()
                            .push((method.to_string(), format!("/{rest}"), body));
                        if gone {
                            // The application named was deleted at Twilio.
                            let refused = serde_json::json!({"code": 21606, "message": "no such application"});
                            return (axum::http::StatusCode::BAD_REQUEST, axum::Json(refused));
                        }
                        let answer = match (method.as_str(), rest.as_str()) {
                            ("GET", "Applications.json") => {
                                serde_json::json!({"applications": listed})
                            }
                            ("POST", "IncomingPhoneNumbers.json") => {
                                serde_json::json!({"sid": format!("PN{}", "1".repeat(32))})
                            }
                            (_, other) if other.starts_with("Applications/") => {
                                serde_json::json!({"sid": other
                                    .trim_start_matches("Applications/")
                                    .trim_end_matches(".json")})
                            }
                            _ => serde_json::json!({"sid": APPLICATION}),
                        };
                        (axum::http::StatusCode::CREATED, axum::Json(answer))
                    }
                },
            ),
        )
        .with_state(asked.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, asked)
}

const APPLICATION: &str = "AP0123456789abcdef0123456789abcd02";
/// An application the stand-in lists but Twilio no longer has (deleted there).
const DELETED: &str = "AP0123456789abcdef0123456789abcd09";

#[tokio::test]
async fn twilio_numbers_take_calls_through_one_application_of_this_instance() {
    use app::server::carrier::twilio::api::Twilio;
    let webhook = "https://switchboard.example/webhooks/twilio";
    let client =
        |base: &str| Twilio::new(base, "AC0123", "token", api_client()).with_webhook(webhook);
    let requests = |asked: &TwilioAsked| -> Vec<(String, String)> {
        asked
            .lock()
            .unwrap()
            .iter()
            .map(|(m, p, _)| (m.clone(), p.clone()))
            .collect()
    };
    let form = |asked: &TwilioAsked, path: &str| -> std::collections::HashMap<String, String> {
        let asked = asked.lock().unwrap();
        let (_, _, body) = asked
            .iter()
            .find(|(m, p, _)| m == "POST" && p == path)
            .unwrap();
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    };

    // A fresh account: the application is made once, named for this instance, holding the
    // voice webhooks; each number bought points at it.
    let (base, asked) = twilio_stand_in(Vec::new()).await;
    let twilio = client(&base);
    for number in ["+14155550100", "+14155550101"] {
        twilio.buy_number(number, webhook).await.expect("bought");
    }
    let get = ("GET".to_string(), "/Applications.json".to_string());
    let make = ("POST".to_string(), "/Applications.json".to_string());
    let buy = ("POST".to_string(), "/IncomingPhoneNumbers.json".to_string());
    assert_eq!(
        requests(&asked),
        [get.clone(), make.clone(), buy.clone(), buy.clone()]
    );
    let made = form(&asked, "/Applications.json");
    assert_eq!(made["FriendlyName"], "Switchboard switchboard.example");
    assert_eq!(made["VoiceUrl"], webhook);
    assert_eq!(made["StatusCallback"], webhook);
    let bought = form(&asked, "/IncomingPhoneNumbers.json");
    assert_eq!(bought["VoiceApplicationSid"], APPLICATION);
    assert_eq!(bought["SmsUrl"], webhook);
    assert!(!bought.contains_key("VoiceUrl"), "{bought:?}");

    // Started again on an account that has it (and another instance's): found by its name
    // and pointed at us again, not made twice.
    let ours = "AP0123456789abcdef0123456789abcd07";
    let (base, asked) = twilio_stand_in(vec![
        (
            "AP0123456789abcdef0123456789abcd03",
            "Switchboard other.example".into(),
        ),
        (ours, "Switchboard switchboard.example".into()),
    ])
    .await;
    client(&base)
        .buy_number("+14155550102", webhook)
        .await
        .expect("bought");
    let update = ("POST".to_string(), format!("/Applications/{ours}.json"));
    assert_eq!(requests(&asked), [get.clone(), update, buy.clone()]);
    assert_eq!(
        form(&asked, "/IncomingPhoneNumbers.json")["VoiceApplicationSid"],
        ours
    );

    // Deleted at Twilio after it was found: the purchase is refused, and the next one asks
    // Twilio for it again (to find it, or make it anew) instead of naming the gone one.
    let (base, asked) =
        twilio_stand_in(vec![(DELETED, "Switchboard switchboard.example".into())]).await;
    let twilio = client(&base);
    let refused = twilio.buy_number("+14155550104", webhook).await;
    assert!(
        matches!(refused, Err(CarrierError::Rejected { .. })),
        "{refused:?}"
    );
    asked.lock().unwrap().clear();
    let _ = twilio.buy_number("+14155550104", webhook).await;
    assert_eq!(
        requests(&asked).first(),
        Some(&get),
        "the application is asked for again"
    );

    // A Twilio (or anything posing as its API) answering a sid that would leave its path:
    // refused, and no number bought.
    let (base, asked) = twilio_stand_in(vec![(
        "AP/../../Keys.json?x=0123456789abcdef012",
        "Switchboard switchboard.example".into(),
    )])
    .await;
    let refused = client(&base).buy_number("+14155550103", webhook).await;
    assert!(
        matches!(refused, Err(CarrierError::Uncertain(_))),
        "{refused:?}"
    );
    assert_eq!(requests(&asked), [get]);
}

/// What a Telnyx stand-in was asked: method and path, body.
type TelnyxAsked = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A Telnyx stand-in that has no Call Control application yet (it makes cc-app-9) and
/// takes every other request.
async fn telnyx_stand_in() -> (String, TelnyxAsked) {
    use axum::extract::State;
    use axum::http::{Method, Uri};
    let asked: TelnyxAsked = Default::default();
    let router = axum::Router::new()
        .fallback(
            |State(asked): State<TelnyxAsked>, method: Method, uri: Uri, body: String| async move {
                let said = format!("{method} {}", uri.path());
                asked.lock().unwrap().push((said.clone(), body));
                let answer = match said.as_str() {
                    "GET /call_control_applications" => serde_json::json!({"data": []}),
                    _ => serde_json::json!({"data": {"id": "cc-app-9"}}),
                };
                axum::Json(answer)
            },
        )
        .with_state(asked.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, asked)
}

/// Numbers bought before this instance had its calls application at their carrier are
/// pointed at it once, at start; a number whose id could leave its path is refused (and
/// tried again at the next start), never sent.
async fn earlier_numbers_calls_are_pointed_at_this_instance(backend: common::Backend) {
    let (twilio_base, twilio_asked) = twilio_stand_in(Vec::new()).await;
    let (telnyx_base, telnyx_asked) = telnyx_stand_in().await;
    let app = common::TestApp::start_with(backend, move |settings| {
        settings.carrier.telnyx.api_base = telnyx_base;
        settings.carrier.telnyx.api_key = Some("KEY0123456789".into());
        settings.carrier.twilio.api_base = twilio_base;
        settings.carrier.twilio.account_sid = Some(format!("AC{}", "0".repeat(32)));
    })
    .await;
    let admin = app.admin("ada@example.com").await;
    let ada = app.user_id(&admin, "ada@example.com").await;
    // A number bought now is pointed by its purchase: nothing to do for it.
    let bought = app.buy(&admin, common::numbers_in("415")).await;
    let twilio_number = "PN0123456789abcdef0123456789abcdef";
    let telnyx_number = "1293384261075731499";
    let hostile = "PN0123456789abcdef0123456789abc/../../Keys";
    for (id, e164, carrier, carrier_ref) in [
        ("n-twilio", "+12125550100", "twilio", twilio_number),
        ("n-telnyx", "+19705555098", "telnyx", telnyx_number),
        ("n-hostile", "+12125550101", "twilio", hostile),
        (
            "n-hostile-telnyx",
            "+12125550102",
            "telnyx",
            "1/../../messages",
        ),
    ] {
        sqlx::query(
            "INSERT INTO phone_numbers (id, user_id, e164, carrier, carrier_ref, capabilities, created_at)
             VALUES ($1, $2, $3, $4, $5, 'sms,mms,voice', 0)",
        )
        .bind(id)
        .bind(&ada)
        .bind(e164)
        .bind(carrier)
        .bind(carrier_ref)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    }
    let flag = |id: String| {
        let pool = app.state.db.pool().clone();
        async move {
            let (flag,): (i64,) =
                sqlx::query_as("SELECT calls_routed FROM phone_numbers WHERE id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            flag
        }
    };
    assert_eq!(flag(bought.id.to_string()).await, 1);

    let queued = app::server::numbers::route_calls_of_earlier_numbers(&app.state)
        .await
        .unwrap();
    assert_eq!(queued, 4);
    common::eventually(20, "the earlier numbers pointed", || async {
        (flag("n-twilio".into()).await == 1
            && flag("n-telnyx".into()).await == 1
            && flag("n-hostile".into()).await == 0
            && flag("n-hostile-telnyx".into()).await == 0)
            .then_some(())
    })
    .await;
    let twilio_asked: Vec<(String, String, String)> = twilio_asked.lock().unwrap().clone();
    let pointed: Vec<_> = twilio_asked
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.starts_with("/IncomingPhoneNumbers/"))
        .collect();
    assert_eq!(pointed.len(), 1, "{twilio_asked:?}");
    assert_eq!(
        pointed[0].1,
        format!("/IncomingPhoneNumbers/{twilio_number}.json")
    );
    assert_eq!(pointed[0].2, format!("VoiceApplicationSid={APPLICATION}"));
    assert!(
        !twilio_asked.iter().any(|(_, p, _)| p.contains("Keys")),
        "the hostile id reached Twilio: {twilio_asked:?}"
    );
    let telnyx_asked = telnyx_asked.lock().unwrap().clone();
    let patched: Vec<_> = telnyx_asked
        .iter()
        .filter(|(said, _)| said.starts_with("PATCH /phone_numbers/"))
        .collect();
    assert_eq!(patched.len(), 1, "{telnyx_asked:?}");
    assert!(
        !telnyx_asked
            .iter()
            .any(|(said, _)| said.contains("messages")),
        "the hostile id reached Telnyx: {telnyx_asked:?}"
    );
    assert_eq!(
        patched[0].0,
        format!("PATCH /phone_numbers/{telnyx_number}")
    );
    let body: serde_json::Value = serde_json::from_str(&patched[0].1).unwrap();
    assert_eq!(body["connection_id"], "cc-app-9");

    // Started again: only the refused ones are tried again.
    let queued = app::server::numbers::route_calls_of_earlier_numbers(&app.state)
        .await
        .unwrap();
    assert_eq!(queued, 2);
    app.finish().await;
}

mod earlier_numbers {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::earlier_numbers_calls_are_pointed_at_this_instance(crate::common::Backend::Sqlite)
            .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::earlier_numbers_calls_are_pointed_at_this_instance(crate::common::Backend::Postgres)
            .await;
    }
}
