//! Numbers and messaging on the sandbox carrier, against the real router on both backends:
//! ownership, idempotent ingestion, forward-only statuses, the outbox, the live stream.

use crate::common;

use app::error::AppError;
use app::server::carrier::config::CarrierKind;
use app::server::carrier::{CarrierEvent, DeliveryStatus};
use app::server::messaging::{self, Ingested};
use app::server::webhooks::{sandbox_signature, SANDBOX_SIGNATURE_HEADER};
use app::types::{
    ConversationSummary, MediaState, MessageStatus, NumberOffer, OwnedNumber, SearchHit, Thread,
};
use common::{eventually, TestApp};

/// A number that can text, in `area_code`.
async fn buy(app: &TestApp, client: &reqwest::Client, area_code: &str) -> OwnedNumber {
    let search = app::api::numbers::SearchNumbers {
        sms: true,
        ..common::numbers_in(area_code)
    };
    app.buy(client, search).await
}

async fn conversations(app: &TestApp, client: &reqwest::Client) -> Vec<ConversationSummary> {
    app.call(client, app::api::messaging::Conversations {})
        .await
        .json()
}

async fn thread(app: &TestApp, client: &reqwest::Client, id: &str) -> Thread {
    app.call(
        client,
        app::api::messaging::OpenThread {
            conversation_id: id.to_string(),
            mark_read: Default::default(),
        },
    )
    .await
    .json()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    n
}

async fn numbers_are_searched_bought_named_and_released(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let offers: Vec<NumberOffer> = app
        .call(
            &ada,
            app::api::numbers::SearchNumbers {
                contains: "0142".into(),
                ..common::numbers_in("415")
            },
        )
        .await
        .json();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].e164, "+14155550142");
    assert_eq!(offers[0].display, "(415) 555-0142");
    let bad = app.call(&ada, common::numbers_in("4x5")).await.error();
    assert!(matches!(bad, AppError::Invalid(_)));

    let number: OwnedNumber = app
        .call(
            &ada,
            app::api::numbers::BuyNumber {
                e164: "+14155550142".into(),
            },
        )
        .await
        .json();
    assert!(number.capabilities.sms && number.capabilities.mms);
    let again: Vec<NumberOffer> = app
        .call(
            &ada,
            app::api::numbers::SearchNumbers {
                contains: "0142".into(),
                ..common::numbers_in("415")
            },
        )
        .await
        .json();
    assert!(again.is_empty(), "an owned number is no longer offered");
    assert!(matches!(
        app.call(
            &ada,
            app::api::numbers::BuyNumber {
                e164: "+14155550142".into()
            }
        )
        .await
        .error(),
        AppError::Invalid(_)
    ));

    assert!(app
        .call(
            &ada,
            app::api::numbers::RenameNumber {
                number_id: number.id.to_string(),
                name: "Work".into()
            }
        )
        .await
        .is_ok());
    let mine: Vec<OwnedNumber> = app.call(&ada, app::api::numbers::MyNumbers {}).await.json();
    assert_eq!(mine[0].name, "Work");

    // Another user can neither see, rename nor release it.
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let theirs: Vec<OwnedNumber> = app.call(&bea, app::api::numbers::MyNumbers {}).await.json();
    assert!(theirs.is_empty());
    let e = app
        .call(
            &bea,
            app::api::numbers::RenameNumber {
                number_id: number.id.to_string(),
                name: "Mine".into(),
            },
        )
        .await
        .error();
    assert!(matches!(e, AppError::NotFound(_)));
    let e = app
        .call(
            &bea,
            app::api::numbers::ReleaseNumber {
                number_id: number.id.to_string(),
                confirm: "release".into(),
            },
        )
        .await
        .error();
    assert!(matches!(e, AppError::NotFound(_)));
    assert_eq!(
        app.call(&bea, app::api::numbers::AllNumbers {})
            .await
            .error(),
        AppError::Forbidden
    );
    let all: Vec<OwnedNumber> = app
        .call(&ada, app::api::numbers::AllNumbers {})
        .await
        .json();
    assert_eq!(all[0].owner_email.as_deref(), Some("ada@example.com"));

    // Releasing needs the confirmation.
    let e = app
        .call(
            &ada,
            app::api::numbers::ReleaseNumber {
                number_id: number.id.to_string(),
                confirm: Default::default(),
            },
        )
        .await
        .error();
    assert!(matches!(e, AppError::Invalid(m) if m.contains("confirm")));
    assert!(app
        .call(
            &ada,
            app::api::numbers::ReleaseNumber {
                number_id: number.id.to_string(),
                confirm: "release".into()
            }
        )
        .await
        .is_ok());
    assert_eq!(count(app, "phone_numbers").await, 0);
}

async fn the_number_quota_holds(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    for code in ["212", "312", "617"] {
        buy(app, &bea, code).await;
    }
    let offers: Vec<NumberOffer> = app.call(&bea, common::numbers_in("206")).await.json();
    let over = app
        .call(
            &bea,
            app::api::numbers::BuyNumber {
                e164: offers[0].e164.to_string(),
            },
        )
        .await
        .error();
    assert!(matches!(over, AppError::Invalid(m) if m.contains("3 of your 3")));
    let users: Vec<app::types::UserInfo> = app
        .call(&ada, app::api::accounts::admin::ListUsers {})
        .await
        .json();
    let bea_id = users
        .iter()
        .find(|u| u.email == "bea@example.com")
        .unwrap()
        .id
        .clone();
    assert_eq!(
        app.call(
            &bea,
            app::api::numbers::SetNumberQuota {
                user_id: bea_id.to_string(),
                quota: 9
            }
        )
        .await
        .error(),
        AppError::Forbidden
    );
    assert!(app
        .call(
            &ada,
            app::api::numbers::SetNumberQuota {
                user_id: bea_id.to_string(),
                quota: 4
            }
        )
        .await
        .is_ok());
    assert!(app
        .call(
            &bea,
            app::api::numbers::BuyNumber {
                e164: offers[0].e164.to_string()
            }
        )
        .await
        .is_ok());
}

async fn a_text_goes_queued_sent_delivered(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let conversation_id: String = app
        .call(
            &ada,
            app::api::messaging::SendMessage {
                number_id: number.id.to_string(),
                to: "(202) 555-0199".into(),
                body: "Hello there".into(),
                media: vec![],
            },
        )
        .await
        .json();
    let list = conversations(app, &ada).await;
    assert_eq!(
        (list[0].peer.as_str(), list[0].preview.as_str()),
        ("+12025550199", "Hello there")
    );
    let delivered = eventually(5, "delivery", || async {
        let t = thread(app, &ada, &conversation_id).await;
        (t.messages[0].status == MessageStatus::Delivered).then_some(t)
    })
    .await;
    assert_eq!(delivered.messages.len(), 1);
    assert!(delivered.messages[0].outgoing);
    assert_eq!(count(app, "jobs").await, 0, "the outbox job is done");

    // A late, redelivered-looking "sent" never moves it backwards.
    let (carrier_id,): (String,) = sqlx::query_as("SELECT carrier_message_id FROM messages")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let late = CarrierEvent::Status {
        event_id: "late-sent".into(),
        carrier_message_id: carrier_id,
        status: DeliveryStatus::Sent,
        error_code: None,
    };
    assert_eq!(
        messaging::ingest(&app.state, CarrierKind::Sandbox, &late)
            .await
            .unwrap(),
        Ingested::Stored
    );
    assert_eq!(
        thread(app, &ada, &conversation_id).await.messages[0].status,
        MessageStatus::Delivered
    );
}

async fn bad_messages_are_refused_and_write_nothing(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    for (to, body, expect) in [
        ("(202) 555-0199", "   ", "Write a message"),
        ("not a number", "hi", "not a phone number"),
        ("123", "hi", "not a valid phone number"),
        (number.e164.as_str(), "hi", "itself"),
    ] {
        let e = app
            .call(
                &ada,
                app::api::messaging::SendMessage {
                    number_id: number.id.to_string(),
                    to: to.to_string(),
                    body: body.to_string(),
                    media: vec![],
                },
            )
            .await
            .error();
        assert!(
            matches!(&e, AppError::Invalid(m) if m.contains(expect)),
            "{to:?}/{body:?}: {e:?}"
        );
    }
    let long = "x".repeat(1601);
    let e = app
        .call(
            &ada,
            app::api::messaging::SendMessage {
                number_id: number.id.to_string(),
                to: "2025550199".into(),
                body: long.to_string(),
                media: vec![],
            },
        )
        .await
        .error();
    assert!(matches!(e, AppError::Invalid(_)));
    assert_eq!(
        (
            count(app, "messages").await,
            count(app, "conversations").await,
            count(app, "jobs").await
        ),
        (0, 0, 0)
    );
}

async fn two_users_text_each_other(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let ada_number = buy(app, &ada, "212").await;
    let bea_number = buy(app, &bea, "415").await;
    app.call(
        &ada,
        app::api::messaging::SendMessage {
            number_id: ada_number.id.to_string(),
            to: bea_number.e164.to_string(),
            body: "Hi Bea, it's Ada".into(),
            media: vec![],
        },
    )
    .await
    .json::<String>();
    let inbox = eventually(5, "Bea's inbound text", || async {
        let list = conversations(app, &bea).await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(inbox[0].peer, ada_number.e164);
    assert_eq!(inbox[0].unread, 1);
    let unread: i64 = app
        .call(&bea, app::api::messaging::UnreadCount {})
        .await
        .json();
    assert_eq!(unread, 1);
    let t: Thread = app
        .call(
            &bea,
            app::api::messaging::OpenThread {
                conversation_id: inbox[0].id.to_string(),
                mark_read: true,
            },
        )
        .await
        .json();
    assert_eq!(t.messages[0].body, "Hi Bea, it's Ada");
    assert!(!t.messages[0].outgoing);
    let unread: i64 = app
        .call(&bea, app::api::messaging::UnreadCount {})
        .await
        .json();
    assert_eq!(unread, 0);

    // Bea replies in the same conversation; Ada sees it in hers.
    app.call(
        &bea,
        app::api::messaging::SendMessage {
            number_id: bea_number.id.to_string(),
            to: ada_number.e164.to_string(),
            body: "Hi Ada!".into(),
            media: vec![],
        },
    )
    .await
    .json::<String>();
    let ada_conv = conversations(app, &ada).await[0].id.clone();
    eventually(5, "Ada's reply", || async {
        let t = thread(app, &ada, &ada_conv).await;
        (t.messages.len() == 2).then_some(())
    })
    .await;

    // Neither can reach the other's conversations, numbers or messages.
    let e = app
        .call(
            &bea,
            app::api::messaging::OpenThread {
                conversation_id: ada_conv.to_string(),
                mark_read: Default::default(),
            },
        )
        .await
        .error();
    assert!(matches!(e, AppError::NotFound(_)));
    let e = app
        .call(
            &bea,
            app::api::messaging::DeleteConversation {
                conversation_id: ada_conv.to_string(),
            },
        )
        .await
        .error();
    assert!(matches!(e, AppError::NotFound(_)));
    let e = app
        .call(
            &bea,
            app::api::messaging::SendMessage {
                number_id: ada_number.id.to_string(),
                to: "2025550199".into(),
                body: "x".into(),
                media: vec![],
            },
        )
        .await
        .error();
    assert!(matches!(e, AppError::NotFound(_)));
    let hits: Vec<SearchHit> = app
        .call(
            &bea,
            app::api::messaging::SearchMessages {
                query: "Ada".into(),
            },
        )
        .await
        .json();
    assert_eq!(
        hits.len(),
        2,
        "her own inbound and reply, not Ada's copies: {hits:?}"
    );
    assert!(hits.iter().all(|h| h.conversation_id == inbox[0].id));

    assert!(app
        .call(
            &ada,
            app::api::messaging::DeleteConversation {
                conversation_id: ada_conv.to_string()
            }
        )
        .await
        .is_ok());
    assert!(conversations(app, &ada).await.is_empty());
    assert_eq!(
        conversations(app, &bea).await.len(),
        1,
        "deleting is per owner"
    );
}

/// Posts a sandbox webhook signed as the sandbox signs it; answers the HTTP status.
async fn post_sandbox(app: &TestApp, hook: &serde_json::Value) -> u16 {
    let body = serde_json::to_vec(hook).unwrap();
    crate::common::http()
        .post(format!("{}/webhooks/sandbox", app.base))
        .header(
            SANDBOX_SIGNATURE_HEADER,
            sandbox_signature(&app.state.secret, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn sandbox_webhooks_are_verified_and_idempotent(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let body = serde_json::json!({"type": "inbound", "id": "evt-1", "from": "+12025550199", "to": number.e164, "body": "Knock knock"})
        .to_string();
    let hook = |sig: String| {
        crate::common::http()
            .post(format!("{}/webhooks/sandbox", app.base))
            .header(SANDBOX_SIGNATURE_HEADER, sig)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    assert_eq!(hook("forged".into()).await.unwrap().status(), 401);
    assert_eq!(count(app, "messages").await, 0);
    let signature = sandbox_signature(&app.state.secret, body.as_bytes());
    assert_eq!(hook(signature.clone()).await.unwrap().status(), 200);
    assert_eq!(
        hook(signature).await.unwrap().status(),
        200,
        "a redelivery is acknowledged"
    );
    assert_eq!(count(app, "messages").await, 1, "and stored once");
    let list = conversations(app, &ada).await;
    assert_eq!(
        (list[0].preview.as_str(), list[0].unread),
        ("Knock knock", 1)
    );
    let mine: Vec<OwnedNumber> = app.call(&ada, app::api::numbers::MyNumbers {}).await.json();
    assert!(
        mine[0].last_inbound_at.is_some(),
        "the Numbers page shows inbound reaching us"
    );
}

async fn a_failed_send_says_why(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    // The Simulator arms the sandbox: the next text goes sent -> failed with Telnyx 40300.
    assert!(app
        .call(
            &ada,
            app::api::simulator::SimulateNextFailure {
                code: "40300".into()
            }
        )
        .await
        .is_ok());
    let conversation_id: String = app
        .call(
            &ada,
            app::api::messaging::SendMessage {
                number_id: number.id.to_string(),
                to: "2025550199".into(),
                body: "Are you there?".into(),
                media: vec![],
            },
        )
        .await
        .json();
    let message_id = eventually(5, "the carrier's failure report", || async {
        let t = thread(app, &ada, &conversation_id).await;
        let m = &t.messages[0];
        (m.status == MessageStatus::Failed).then(|| {
            assert!(m.failure.as_deref().unwrap().contains("STOP"), "{m:?}");
            m.id.clone()
        })
    })
    .await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    assert_eq!(
        app.call(
            &bea,
            app::api::simulator::SimulateFailure {
                message_id: message_id.to_string(),
                code: "40300".into()
            }
        )
        .await
        .error(),
        AppError::Forbidden
    );
    assert_eq!(
        app.call(
            &bea,
            app::api::simulator::SimulateNextFailure {
                code: "40300".into()
            }
        )
        .await
        .error(),
        AppError::Forbidden
    );
}

async fn failure_codes_reach_the_thread_in_plain_words(app: &TestApp) {
    // The worker is paused and the message handed over by hand, so the failure comes from the
    // Twilio side of ingestion (the test above drives the sandbox end to end).
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let conversation_id: String = app
        .call(
            &ada,
            app::api::messaging::SendMessage {
                number_id: number.id.to_string(),
                to: "2025550199".into(),
                body: "Hello?".into(),
                media: vec![],
            },
        )
        .await
        .json();
    let (message_id,): (String,) = sqlx::query_as("SELECT id FROM messages")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE messages SET status = 'sending', carrier_message_id = 'carrier-1'")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let failed = CarrierEvent::Status {
        event_id: "f-1".into(),
        carrier_message_id: "carrier-1".into(),
        status: DeliveryStatus::Failed,
        error_code: Some("30034".into()),
    };
    assert_eq!(
        messaging::ingest(&app.state, CarrierKind::Twilio, &failed)
            .await
            .unwrap(),
        Ingested::Stored
    );
    let t = thread(app, &ada, &conversation_id).await;
    assert_eq!(t.messages[0].id, message_id);
    assert_eq!(t.messages[0].status, MessageStatus::Failed);
    assert!(t.messages[0].failure.as_deref().unwrap().contains("10DLC"));
    // A status for a message we don't know is not swallowed: the carrier is asked to retry.
    let unknown = CarrierEvent::Status {
        event_id: "u-1".into(),
        carrier_message_id: "nope".into(),
        status: DeliveryStatus::Delivered,
        error_code: None,
    };
    assert_eq!(
        messaging::ingest(&app.state, CarrierKind::Twilio, &unknown)
            .await
            .unwrap(),
        Ingested::UnknownMessage
    );
    assert_eq!(
        messaging::ingest(&app.state, CarrierKind::Twilio, &unknown)
            .await
            .unwrap(),
        Ingested::UnknownMessage
    );
}

async fn queued_texts_survive_a_crash_and_send_once(app: &TestApp) {
    // Paused app: the "server" queues texts, then dies (no worker ran).
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    for i in 0..3 {
        let body = format!("queued {i}");
        app.call(
            &ada,
            app::api::messaging::SendMessage {
                number_id: number.id.to_string(),
                to: "2025550199".into(),
                body: body.to_string(),
                media: vec![],
            },
        )
        .await
        .json::<String>();
    }
    assert_eq!(count(app, "jobs").await, 3);
    // One job had been claimed by the worker that died: its lease has run out.
    sqlx::query(
        "UPDATE jobs SET locked_until = 1, attempts = 1 WHERE id = (SELECT MIN(id) FROM jobs)",
    )
    .execute(app.state.db.pool())
    .await
    .unwrap();
    // "Restart".
    app.resume_work();
    eventually(10, "all three delivered", || async {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM messages WHERE status = 'delivered'")
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        (n == 3).then_some(())
    })
    .await;
    assert_eq!(count(app, "jobs").await, 0);
    let (distinct,): (i64,) =
        sqlx::query_as("SELECT COUNT(DISTINCT carrier_message_id) FROM messages")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(distinct, 3);
}

/// Reads the SSE stream until an event with `needle` arrives; returns the `id:` seen last.
async fn read_until(res: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("event within 5 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen.lines()
        .filter_map(|l| l.strip_prefix("id: ").or_else(|| l.strip_prefix("id:")))
        .next_back()
        .unwrap_or("")
        .trim()
        .to_string()
}

async fn the_live_stream_delivers_and_resumes(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    assert_eq!(
        app.get(&app.browser(), "/events").await.status,
        401,
        "the stream needs a session"
    );
    let mut stream = ada
        .get(format!("{}/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let inbound = |id: &str, text: &str| CarrierEvent::Inbound {
        event_id: id.into(),
        carrier_message_id: id.into(),
        from: "+12025550199".into(),
        to: number.e164.clone(),
        body: text.into(),
        media: Vec::new(),
    };
    let started = std::time::Instant::now();
    messaging::ingest(&app.state, CarrierKind::Sandbox, &inbound("e1", "one"))
        .await
        .unwrap();
    let last_id = read_until(&mut stream, "\"conversations\"").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "live within a second"
    );
    drop(stream);

    // While the tab is away, two more arrive; reconnecting with Last-Event-ID replays them.
    messaging::ingest(&app.state, CarrierKind::Sandbox, &inbound("e2", "two"))
        .await
        .unwrap();
    messaging::ingest(&app.state, CarrierKind::Sandbox, &inbound("e3", "three"))
        .await
        .unwrap();
    let mut resumed = ada
        .get(format!("{}/events", app.base))
        .header("last-event-id", &last_id)
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while seen.matches("\"message\"").count() < 2 {
        let chunk = tokio::time::timeout_at(deadline, resumed.chunk())
            .await
            .expect("replay")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let first_replayed: i64 = seen
        .lines()
        .find_map(|l| l.strip_prefix("id:").map(|v| v.trim().parse().unwrap()))
        .unwrap();
    assert_eq!(
        first_replayed,
        last_id.parse::<i64>().unwrap() + 1,
        "nothing lost, nothing repeated"
    );

    // Another user's stream hears none of it.
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let mut theirs = bea
        .get(format!("{}/events", app.base))
        .send()
        .await
        .unwrap();
    messaging::ingest(&app.state, CarrierKind::Sandbox, &inbound("e4", "four"))
        .await
        .unwrap();
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), theirs.chunk()).await;
    if let Ok(Ok(Some(chunk))) = quiet {
        assert!(
            !String::from_utf8_lossy(&chunk).contains("live"),
            "Bea must not see Ada's events"
        );
    }
}

/// Events arriving together are stored in one transaction: duplicates among them still
/// count once, a text for a number nobody owns is dropped alone, and a status for a message not known yet is forgotten (so its redelivery is
/// processed) without holding back the rest of its group.
async fn concurrent_events_are_grouped_yet_each_counted_once(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let inbound = |i: usize| CarrierEvent::Inbound {
        event_id: format!("burst-{}", i % 30),
        carrier_message_id: format!("burst-msg-{}", i % 30),
        from: format!("+1202555{:04}", i % 7),
        to: number.e164.clone(),
        body: format!("burst {}", i % 30),
        media: Vec::new(),
    };
    let early_status = CarrierEvent::Status {
        event_id: "status-early".into(),
        carrier_message_id: "not-sent-yet".into(),
        status: DeliveryStatus::Delivered,
        error_code: None,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (state, event) = (app.state.clone(), inbound(i));
        tasks.spawn(async move {
            messaging::ingest(&state, CarrierKind::Sandbox, &event)
                .await
                .unwrap()
        });
    }
    let stranger = CarrierEvent::Inbound {
        event_id: "burst-stranger".into(),
        carrier_message_id: "burst-stranger".into(),
        from: "+12025550199".into(),
        to: "+13105550000".into(),
        body: "for nobody here".into(),
        media: Vec::new(),
    };
    let state = app.state.clone();
    let nobody =
        tokio::spawn(
            async move { messaging::ingest(&state, CarrierKind::Sandbox, &stranger).await },
        );
    let state = app.state.clone();
    let early = tokio::spawn(async move {
        messaging::ingest(&state, CarrierKind::Sandbox, &early_status)
            .await
            .unwrap()
    });
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        outcomes.push(done.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| **o == Ingested::Stored).count(),
        30
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Ingested::Duplicate)
            .count(),
        10
    );
    assert_eq!(early.await.unwrap(), Ingested::UnknownMessage);
    assert_eq!(nobody.await.unwrap().unwrap(), Ingested::NoOwner);
    assert_eq!(count(app, "messages").await, 30);
    assert_eq!(count(app, "conversations").await, 7);
    let (forgotten,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM webhook_events WHERE event_id = 'status-early'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(forgotten, 0);
    let unread: i64 = app
        .call(&ada, app::api::messaging::UnreadCount {})
        .await
        .json();
    assert_eq!(unread, 30);
}

/// Several instances on one PostgreSQL database: a webhook taken by one instance reaches a
/// browser whose live stream is held by another (LISTEN/NOTIFY), and a send queued through
/// one is sent once by whichever worker claims it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_taken_by_one_instance_reaches_a_tab_on_another() {
    let app = TestApp::start(common::Backend::Postgres).await;
    common::within_limit("two instances", async {
        let ada = app.admin("ada@example.com").await;
        let number = buy(&app, &ada, "212").await;
        let other = app.another_instance().await;
        // The session lives in the database, so the same cookie works on either instance.
        let mut stream = ada
            .get(format!("{}/events", other.base))
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        let hook = serde_json::json!({
            "type": "inbound", "id": "x-instance-1", "from": "+12025550199",
            "to": number.e164, "body": "across instances",
        });
        assert_eq!(post_sandbox(&app, &hook).await, 200);
        let started = std::time::Instant::now();
        read_until(&mut stream, "\"conversations\"").await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        drop(stream);
        drop(other);
    })
    .await;
    app.finish().await;
}

/// Telnyx and Twilio webhooks over HTTP: signed example payloads are stored once; forged,
/// stale or tampered ones are refused; unknown events are acknowledged.
async fn carrier_webhooks_over_http(app: &TestApp) {
    use base64::Engine;
    use ed25519_dalek::Signer;
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let http = crate::common::http();

    let key = ed25519_dalek::SigningKey::from_bytes(&hex_key(common::TELNYX_TEST_SECRET_HEX));
    let telnyx_post = |body: String, ts: i64, tamper: bool| {
        let signed = format!("{ts}|{body}");
        let sig = base64::engine::general_purpose::STANDARD
            .encode(key.sign(signed.as_bytes()).to_bytes());
        let body = if tamper {
            body.replace("Hello", "Jello")
        } else {
            body
        };
        http.post(format!("{}/webhooks/telnyx", app.base))
            .header("telnyx-timestamp", ts.to_string())
            .header("telnyx-signature-ed25519", sig)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let example = std::fs::read_to_string(
        common::carrier_data().join("telnyx/examples/webhooks/message.received.json"),
    )
    .unwrap();
    let received = example.replace("+18445550001", &number.e164);
    let now = app::server::now_ms() / 1000;
    assert_eq!(
        telnyx_post(received.clone(), now, true)
            .await
            .unwrap()
            .status(),
        401,
        "tampered body"
    );
    assert_eq!(
        telnyx_post(received.clone(), now - 301, false)
            .await
            .unwrap()
            .status(),
        401,
        "stale"
    );
    assert_eq!(count(app, "messages").await, 0);
    assert_eq!(
        telnyx_post(received.clone(), now, false)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        telnyx_post(received.clone(), now, false)
            .await
            .unwrap()
            .status(),
        200,
        "redelivery acknowledged"
    );
    assert_eq!(count(app, "messages").await, 1, "stored once");
    let call = std::fs::read_to_string(
        common::carrier_data().join("telnyx/examples/webhooks/call.initiated.json"),
    )
    .unwrap();
    assert_eq!(
        telnyx_post(call, now, false).await.unwrap().status(),
        200,
        "unknown events are acknowledged"
    );

    let twilio_example: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::carrier_data().join("twilio/examples/webhooks/sms.incoming.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut form: Vec<(String, String)> = twilio_example["form"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    for (k, v) in form.iter_mut() {
        if k == "To" {
            *v = number.e164.clone();
        }
    }
    let url = format!("{}/webhooks/twilio", app.base);
    let signature = app::server::carrier::twilio::compute(common::TWILIO_TEST_TOKEN, &url, &form);
    let forged = http
        .post(&url)
        .header("x-twilio-signature", "bm9wZQ==")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let ok = http
        .post(&url)
        .header("x-twilio-signature", &signature)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "<Response/>");
    assert_eq!(count(app, "messages").await, 2);
    let list = conversations(app, &ada).await;
    assert_eq!(list.len(), 2, "one conversation per outside number");
}

/// A tiny real PNG (the app's icon) and a JPEG header, as a phone would send them.
const PNG: &[u8] = include_bytes!("../../../public/icons/icon-192.png");

async fn upload(app: &TestApp, client: &reqwest::Client, bytes: &[u8]) -> common::Reply {
    app.post_bytes(client, "/media", bytes).await
}

fn uploaded_id(reply: &common::Reply) -> String {
    assert_eq!(reply.status, 201, "{reply:?}");
    let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    v["id"].as_str().unwrap().to_string()
}

async fn mms_pictures_go_between_users_and_only_their_owner_sees_them(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let ada_number = buy(app, &ada, "212").await;
    let bea_number = buy(app, &bea, "415").await;
    let picture = uploaded_id(&upload(app, &ada, PNG).await);
    let conversation: String = app
        .call(
            &ada,
            app::api::messaging::SendMessage {
                number_id: ada_number.id.to_string(),
                to: bea_number.e164.to_string(),
                body: "".into(),
                media: vec![picture.to_string()],
            },
        )
        .await
        .json();
    // Ada's thread shows her picture; the conversation list says what it is.
    let mine = thread(app, &ada, &conversation).await;
    let sent = &mine.messages[0];
    assert_eq!(sent.media.len(), 1);
    assert_eq!(sent.media[0].id, picture);
    assert_eq!(mine.conversation.preview, "Picture");
    let own = app.get(&ada, &format!("/media/{picture}")).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.headers["content-type"], "image/png");

    // The sandbox delivers it to Bea, who gets her own copy, fetched from our public URL.
    let received = eventually(10, "Bea's picture stored", || async {
        let list = conversations(app, &bea).await;
        let first = list.first()?;
        let t = thread(app, &bea, &first.id).await;
        let m = t.messages.first()?;
        (m.media.first()?.state == MediaState::Stored).then(|| m.media[0].clone())
    })
    .await;
    assert_ne!(received.id, picture);
    let theirs = client_bytes(app, &bea, &format!("/media/{}", received.id)).await;
    assert_eq!(theirs, PNG);

    // Nobody sees another's picture: not Ada Bea's, not Bea Ada's, not a stranger.
    assert_eq!(
        app.get(&ada, &format!("/media/{}", received.id))
            .await
            .status,
        404
    );
    assert_eq!(
        app.get(&bea, &format!("/media/{picture}")).await.status,
        404
    );
    assert_eq!(
        app.get(&app.browser(), &format!("/media/{picture}"))
            .await
            .status,
        404
    );

    // The carrier's URL works as signed, and not altered or expired.
    let url = app::server::media::public_url(
        &app.state,
        &app::server::ids::MediaId::new(picture.as_str()),
    );
    let path = url.strip_prefix(&app.base).unwrap();
    assert_eq!(app.get(&app.browser(), path).await.status, 200);
    let forged = path.replace("sig=", "sig=x");
    assert_eq!(app.get(&app.browser(), &forged).await.status, 404);
    let expired = format!("/media/public/{picture}?expires=1&sig=abc");
    assert_eq!(app.get(&app.browser(), &expired).await.status, 404);

    // An attached upload can't be sent again, nor can another user's.
    let again = app
        .call(
            &ada,
            app::api::messaging::SendMessage {
                number_id: ada_number.id.to_string(),
                to: bea_number.e164.to_string(),
                body: Default::default(),
                media: vec![picture.to_string()],
            },
        )
        .await;
    assert!(matches!(again.error(), AppError::NotFound(_)), "{again:?}");
    let beas = uploaded_id(&upload(app, &bea, PNG).await);
    let stolen = app
        .call(
            &ada,
            app::api::messaging::SendMessage {
                number_id: ada_number.id.to_string(),
                to: bea_number.e164.to_string(),
                body: "look".into(),
                media: vec![beas.to_string()],
            },
        )
        .await;
    assert!(
        matches!(stolen.error(), AppError::NotFound(_)),
        "{stolen:?}"
    );

    // Deleting the conversation deletes the picture's file too.
    let file = app.state.settings.media_dir.join(&picture);
    assert!(file.exists());
    app.call(
        &ada,
        app::api::messaging::DeleteConversation {
            conversation_id: conversation.to_string(),
        },
    )
    .await;
    assert!(!file.exists());
    assert_eq!(
        app.get(&ada, &format!("/media/{picture}")).await.status,
        404
    );
}

async fn client_bytes(app: &TestApp, client: &reqwest::Client, path: &str) -> Vec<u8> {
    let res = client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.bytes().await.unwrap().to_vec()
}

async fn uploads_are_checked_and_bad_sends_write_nothing(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    // Not signed in; not a picture; empty; too big for the carrier.
    assert_eq!(upload(app, &app.browser(), PNG).await.status, 401);
    let text = upload(app, &ada, b"GIF? no, plain text").await;
    assert_eq!(text.status, 400);
    assert!(text.body.contains("JPEG, PNG and GIF"), "{text:?}");
    assert_eq!(upload(app, &ada, b"").await.status, 400);
    let mut huge = PNG.to_vec();
    huge.resize(5_000_001, 0);
    let big = upload(app, &ada, &huge).await;
    assert_eq!(big.status, 400);
    assert!(big.body.contains("at most 5 MB"), "{big:?}");
    assert_eq!(count(app, "media").await, 0);
    assert_eq!(
        std::fs::read_dir(&app.state.settings.media_dir)
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );

    // Eleven pictures are more than one MMS carries: nothing is written.
    let mut media = Vec::new();
    for _ in 0..11 {
        media.push(uploaded_id(&upload(app, &ada, PNG).await));
    }
    let reply = app
        .call(
            &ada,
            app::api::messaging::SendMessage {
                number_id: number.id.clone(),
                to: "+12025550199".into(),
                body: String::new(),
                media,
            },
        )
        .await;
    assert!(
        matches!(reply.error(), AppError::Invalid(ref m) if m.contains("at most 10 pictures")),
        "{reply:?}"
    );
    assert_eq!(count(app, "messages").await, 0);
    assert_eq!(count(app, "conversations").await, 0);
    assert_eq!(count(app, "jobs").await, 0);
}

async fn inbound_pictures_are_fetched_and_kept(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    // The Simulator's MMS: recorded at once as pending, fetched by a job, then shown.
    app.call(
        &ada,
        app::api::simulator::SimulateInbound {
            from: "(202) 555-0199".into(),
            to: number.e164.to_string(),
            body: Default::default(),
            picture: true,
        },
    )
    .await
    .json::<()>();
    let list = conversations(app, &ada).await;
    assert_eq!(list[0].preview, "Picture");
    let picture = eventually(10, "the picture kept", || async {
        let t = thread(app, &ada, &list[0].id).await;
        let media = t.messages.first()?.media.first()?.clone();
        (media.state == MediaState::Stored).then_some(media)
    })
    .await;
    assert_eq!(picture.content_type, "image/png");
    assert_eq!(
        client_bytes(app, &ada, &format!("/media/{}", picture.id)).await,
        PNG
    );

    // What the carrier hands over is not a picture: the thread says so, nothing is kept.
    let hook = serde_json::json!({
        "type": "inbound", "id": "mms-bad", "from": "+12025550199", "to": number.e164,
        "body": "see attached", "media": ["data:text/html;base64,PHNjcmlwdD4="],
    });
    assert_eq!(post_sandbox(app, &hook).await, 200);
    eventually(10, "the refused picture marked failed", || async {
        let t = thread(app, &ada, &list[0].id).await;
        let m = t.messages.iter().find(|m| m.body == "see attached")?;
        (m.media.first()?.state == MediaState::Failed).then_some(())
    })
    .await;
    let stored: Vec<(String,)> = sqlx::query_as("SELECT id FROM media WHERE state = 'stored'")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
}

pub(crate) fn hex_key(hex_str: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex_str[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

on_both_backends!(
    concurrent_events_are_grouped_yet_each_counted_once,
    mms_pictures_go_between_users_and_only_their_owner_sees_them,
    uploads_are_checked_and_bad_sends_write_nothing,
    inbound_pictures_are_fetched_and_kept,
    numbers_are_searched_bought_named_and_released,
    the_number_quota_holds,
    a_text_goes_queued_sent_delivered,
    bad_messages_are_refused_and_write_nothing,
    two_users_text_each_other,
    sandbox_webhooks_are_verified_and_idempotent,
    a_failed_send_says_why,
    the_live_stream_delivers_and_resumes,
    carrier_webhooks_over_http,
);

paused_on_both_backends!(
    failure_codes_reach_the_thread_in_plain_words,
    queued_texts_survive_a_crash_and_send_once
);
