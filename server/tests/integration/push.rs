//! Web Push against the `web-push-testing` mock push service (npm): it checks the VAPID JWT,
//! decrypts the aes128gcm payload, and can expire a subscription (then answers 410).

use crate::common;

use app::server::carrier::config::CarrierKind;
use std::process::Stdio;
use std::time::Duration;

use app::error::AppError;
use app::server::carrier::CarrierEvent;
use app::server::messaging;
use app::types::{PushConfig, PushDevice};
use common::{eventually, TestApp};
use serde_json::{json, Value};

struct MockPushService {
    base: String,
    _child: tokio::process::Child,
}

async fn mock_push_service() -> MockPushService {
    let bin = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../end2end/node_modules/.bin/web-push-testing");
    assert!(
        bin.exists(),
        "web-push-testing not installed: run `npm ci` in end2end/ (scripts/test does)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The cli's `start` detaches the server; run its server entry in the foreground instead,
    // so it ends with the test.
    let server_js = bin
        .parent()
        .unwrap()
        .join("../web-push-testing/src/bin/server.js");
    let child = tokio::process::Command::new("node")
        .arg(server_js)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start web-push-testing");
    let base = format!("http://localhost:{port}");
    let http = crate::common::http();
    for _ in 0..100 {
        if http.post(format!("{base}/status")).send().await.is_ok() {
            return MockPushService {
                base,
                _child: child,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("web-push-testing did not start");
}

async fn alerts_reach_a_device_and_a_gone_device_is_dropped(app: &TestApp) {
    let push = mock_push_service().await;
    let ada = app.admin("ada@example.com").await;
    let config: PushConfig = app.call(&ada, app::api::push::PushSettings {}).await.json();
    assert!(config.enabled);
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

    // The "browser" subscribes at the push service with our VAPID key, then tells us.
    let http = crate::common::http();
    let subscribed: Value = http
        .post(format!("{}/subscribe", push.base))
        .json(&json!({"userVisibleOnly": "true", "applicationServerKey": config.public_key}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = &subscribed["data"];
    let (endpoint, p256dh, auth, client_hash) = (
        data["endpoint"].as_str().unwrap(),
        data["keys"]["p256dh"].as_str().unwrap(),
        data["keys"]["auth"].as_str().unwrap(),
        data["clientHash"].as_str().unwrap(),
    );
    let bad = app
        .call(
            &ada,
            app::api::push::PushSubscribe {
                endpoint: endpoint.to_string(),
                p256dh: "short".into(),
                auth: auth.to_string(),
            },
        )
        .await
        .error();
    assert!(matches!(bad, AppError::Invalid(_)));
    assert!(app
        .call(
            &ada,
            app::api::push::PushSubscribe {
                endpoint: endpoint.to_string(),
                p256dh: p256dh.to_string(),
                auth: auth.to_string()
            }
        )
        .await
        .is_ok());
    let devices: Vec<PushDevice> = app.call(&ada, app::api::push::PushDevices {}).await.json();
    assert_eq!(devices.len(), 1);

    // An inbound text: the alert is queued with it and sent by the worker.
    let inbound = |id: &str| CarrierEvent::Inbound {
        event_id: id.into(),
        carrier_message_id: id.into(),
        from: "+12025550199".into(),
        to: number.e164.clone(),
        body: "Dinner at 8?".into(),
        media: Vec::new(),
    };
    messaging::ingest(&app.state, CarrierKind::Sandbox, &inbound("p1"))
        .await
        .unwrap();
    let messages = eventually(10, "the alert at the push service", || async {
        let got: Value = http
            .post(format!("{}/get-notifications", push.base))
            .json(&json!({"clientHash": client_hash}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let list = got["data"]["messages"].as_array()?.clone();
        (!list.is_empty()).then_some(list)
    })
    .await;
    let alert: Value = match &messages[0] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        other => other.clone(),
    };
    assert_eq!(alert["body"], "Dinner at 8?");
    assert_eq!(alert["title"], "(202) 555-0199");
    assert!(alert["url"].as_str().unwrap().starts_with("/inbox/"));
    assert!(alert["tag"].as_str().unwrap().starts_with("conversation-"));
    assert_eq!(alert["unread"], 1);

    // Previews hidden: the alert says only that a message came.
    assert!(app
        .call(&ada, app::api::push::SetPushPreviews { hidden: true })
        .await
        .is_ok());
    messaging::ingest(&app.state, CarrierKind::Sandbox, &inbound("p2"))
        .await
        .unwrap();
    eventually(10, "the second alert", || async {
        let got: Value = http
            .post(format!("{}/get-notifications", push.base))
            .json(&json!({"clientHash": client_hash}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let list = got["data"]["messages"].as_array()?.clone();
        let last: Value = match list.last()? {
            Value::String(s) => serde_json::from_str(s).ok()?,
            other => other.clone(),
        };
        (last["body"] == "New message").then_some(())
    })
    .await;

    // The browser unsubscribed at the push service: the next alert gets 410 and the device goes.
    http.post(format!("{}/expire-subscription/{client_hash}", push.base))
        .send()
        .await
        .unwrap();
    messaging::ingest(&app.state, CarrierKind::Sandbox, &inbound("p3"))
        .await
        .unwrap();
    eventually(10, "the expired device removed", || async {
        let devices: Vec<PushDevice> = app.call(&ada, app::api::push::PushDevices {}).await.json();
        devices.is_empty().then_some(())
    })
    .await;

    // Other users can't remove Ada's devices; the endpoint route works for the owner.
    assert!(app
        .call(
            &ada,
            app::api::push::PushSubscribe {
                endpoint: "http://127.0.0.1:9/e1".into(),
                p256dh: p256dh.to_string(),
                auth: auth.to_string()
            }
        )
        .await
        .is_ok());
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let id = app
        .call(&ada, app::api::push::PushDevices {})
        .await
        .json::<Vec<PushDevice>>()[0]
        .id
        .clone();
    assert!(matches!(
        app.call(
            &bea,
            app::api::push::PushRemove {
                subscription_id: id.to_string(),
                endpoint: Default::default()
            }
        )
        .await
        .error(),
        AppError::NotFound(_)
    ));
    assert!(app
        .call(
            &ada,
            app::api::push::PushRemove {
                subscription_id: Default::default(),
                endpoint: "http://127.0.0.1:9/e1".into()
            }
        )
        .await
        .is_ok());
}

on_both_backends!(alerts_reach_a_device_and_a_gone_device_is_dropped);
