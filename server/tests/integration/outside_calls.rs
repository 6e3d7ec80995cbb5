//! Calls with a phone outside this Switchboard, played by the sandbox Simulator's outside
//! phone: it rings our people and leaves voicemail; their calls to numbers outside ring it.
//! Only admins play it, and only on the sandbox; a call between people here is not its.
//! Its calls to our numbers are the sandbox carrier's: they take the path a carrier's
//! webhooks take (calls/carrier.rs), each step an event acted on once.

use crate::calls::{buy, decline, hang_up, live, log, recording, start, two_people, ANSWER, OFFER};
use crate::common;

use app::api::calls::AnswerCall;
use app::api::simulator::{OutsideAnswer, OutsideCalls, OutsideHangUp, OutsidePress, SimulateCall};
use app::error::AppError;
use app::types::{OutsideCall, OwnedNumber};
use common::TestApp;

const OUTSIDE: &str = "+12025550147";

fn ring(to: &OwnedNumber) -> SimulateCall {
    SimulateCall {
        from: OUTSIDE.into(),
        to: to.e164.clone(),
        offer: OFFER.into(),
    }
}

async fn outside_calls(app: &TestApp, admin: &reqwest::Client) -> Vec<OutsideCall> {
    app.call(admin, OutsideCalls {}).await.json()
}

/// Bea, from her number `from`, calls a number outside (the outside phone) in her tab.
async fn call_outside(app: &TestApp, bea: &reqwest::Client, from: &OwnedNumber) -> String {
    let outside_number = OwnedNumber {
        e164: "+12025550199".into(),
        ..from.clone()
    };
    app.call(bea, start(from, &outside_number, "bea-tab"))
        .await
        .json()
}

/// The newest call ringing the outside phone, once it rings there.
async fn ringing_outside(app: &TestApp, admin: &reqwest::Client) -> OutsideCall {
    common::eventually(10, "the outside phone ringing", || async {
        outside_calls(app, admin)
            .await
            .into_iter()
            .find(|c| c.direction == "in" && c.state == "ringing")
    })
    .await
}

async fn outside_voicemail(
    app: &TestApp,
    client: &reqwest::Client,
    call_id: &str,
    bytes: &[u8],
) -> common::Reply {
    app.post_bytes(
        client,
        &format!("/simulator/calls/{call_id}/voicemail"),
        bytes,
    )
    .await
}

async fn an_outside_caller_rings_the_owner_and_leaves_a_voicemail(app: &TestApp) {
    let (admin, _, bea, bea_number) = two_people(app).await;

    // It rings Bea with the outside caller's number and offer; her answer reaches the phone.
    let id: String = app.call(&admin, ring(&bea_number)).await.json();
    let ringing = live(app, &bea, "bea-tab").await;
    assert_eq!(ringing.len(), 1);
    assert_eq!(
        (ringing[0].direction.as_str(), ringing[0].peer.as_str()),
        ("in", OUTSIDE)
    );
    assert_eq!(ringing[0].offer.as_deref(), Some(OFFER));
    let seen = outside_calls(app, &admin).await;
    assert_eq!(
        (seen[0].id.as_str(), seen[0].direction.as_str()),
        (id.as_str(), "out")
    );
    assert_eq!(seen[0].answer, None);
    let answer = AnswerCall {
        call_id: id.clone(),
        tab: "bea-tab".into(),
        answer: ANSWER.into(),
    };
    assert!(app.call(&bea, answer).await.is_ok());
    // The sandbox puts the call through to her tab as a carrier would (its commands and
    // events take a moment, in the job queue); the outside phone has her answer at once.
    assert_eq!(
        outside_calls(app, &admin).await[0].answer.as_deref(),
        Some(ANSWER)
    );
    common::eventually(10, "the call answered", || async {
        (outside_calls(app, &admin).await[0].state == "answered").then_some(())
    })
    .await;
    assert!(app
        .call(
            &admin,
            OutsideHangUp {
                call_id: id.clone()
            }
        )
        .await
        .is_ok());
    assert!(live(app, &bea, "bea-tab")
        .await
        .iter()
        .all(|c| c.state == "ended"));
    assert_eq!(log(app, &bea).await[0].outcome, "Answered");
    // An answered call takes no voicemail.
    assert!(!outside_calls(app, &admin).await[0].voicemail_possible);
    assert_eq!(
        outside_voicemail(app, &admin, &id, &recording())
            .await
            .status,
        400
    );

    // Declined: the outside phone leaves a voicemail, once; Bea plays it from her log.
    let id: String = app.call(&admin, ring(&bea_number)).await.json();
    assert!(decline(app, &bea, &id).await.is_ok());
    let seen = outside_calls(app, &admin).await;
    assert_eq!(seen[0].outcome.as_deref(), Some("Declined"));
    assert!(seen[0].voicemail_possible);
    // What would not be kept is refused at once, with the reason.
    let refused = outside_voicemail(app, &admin, &id, b"not audio").await;
    assert!(matches!(refused.error(), AppError::Invalid(ref m) if m.contains("not one")));
    assert_eq!(
        outside_voicemail(app, &admin, &id, &recording())
            .await
            .status,
        202,
        "accepted: the sandbox reports the recording, as a carrier does, and a job keeps it"
    );
    common::eventually(10, "the voicemail kept", || async {
        (!outside_calls(app, &admin).await[0].voicemail_possible).then_some(())
    })
    .await;
    assert_eq!(
        outside_voicemail(app, &admin, &id, &recording())
            .await
            .status,
        400,
        "once"
    );
    let entry = log(app, &bea).await.remove(0);
    assert_eq!(
        (entry.peer.as_str(), entry.outcome.as_str()),
        (OUTSIDE, "Declined")
    );
    let voicemail = entry.voicemail_id.expect("the voicemail is in Bea's log");
    let played = app.get(&bea, &format!("/media/{voicemail}")).await;
    assert_eq!(played.status, 200);
    assert_eq!(played.headers["content-type"], "audio/webm");
}

async fn our_calls_to_numbers_outside_ring_the_outside_phone(app: &TestApp) {
    let (admin, _, bea, bea_number) = two_people(app).await;
    let id = call_outside(app, &bea, &bea_number).await;
    // One leg, Bea's; the outside phone sees the call ring with her offer.
    let (legs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM calls WHERE session_id = $1")
        .bind(&id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(legs, 1);
    let mine = live(app, &bea, "bea-tab").await.remove(0);
    assert!(mine.here && !mine.can_leave_voicemail);
    // The sandbox calls her tab, then the outside phone (jobs: a moment later).
    let seen = ringing_outside(app, &admin).await;
    assert_eq!(
        (seen.id.as_str(), seen.direction.as_str()),
        (id.as_str(), "in")
    );
    assert_eq!(seen.offer.as_deref(), Some(OFFER));

    // Answered outside: Bea's tab gets the answer; she hangs up and the phone sees it end.
    let answer = |id: &str| OutsideAnswer {
        call_id: id.into(),
        tab: "simulator".into(),
        answer: ANSWER.into(),
    };
    assert!(app.call(&admin, answer(&id)).await.is_ok());
    assert!(
        matches!(
            app.call(&admin, answer(&id)).await.error(),
            AppError::Invalid(_)
        ),
        "first answer wins"
    );
    assert_eq!(
        live(app, &bea, "bea-tab").await[0].answer.as_deref(),
        Some(ANSWER)
    );
    common::eventually(10, "the call answered", || async {
        (live(app, &bea, "bea-tab").await[0].state == "answered").then_some(())
    })
    .await;
    assert!(hang_up(app, &bea, &id).await.is_ok());
    let seen = outside_calls(app, &admin).await.remove(0);
    assert_eq!(
        (seen.state.as_str(), seen.outcome.as_deref()),
        ("ended", Some("Answered"))
    );

    // Declined outside: "Declined" in Bea's log, and no voicemail for a phone not ours.
    let id = call_outside(app, &bea, &bea_number).await;
    ringing_outside(app, &admin).await;
    assert!(app
        .call(
            &admin,
            OutsideHangUp {
                call_id: id.clone()
            }
        )
        .await
        .is_ok());
    common::eventually(10, "the call declined", || async {
        (log(app, &bea).await[0].outcome == "Declined").then_some(())
    })
    .await;
    let refused = app
        .post_bytes(&bea, &format!("/calls/{id}/voicemail"), &recording())
        .await;
    assert!(matches!(refused.error(), AppError::Invalid(ref m) if m.contains("its own")));
    assert!(!outside_calls(app, &admin).await[0].voicemail_possible);
}

async fn only_admins_play_the_outside_phone_and_only_its_calls(app: &TestApp) {
    let (admin, ada_number, bea, bea_number) = two_people(app).await;
    // Not for people who aren't admins: none of its functions, nor its voicemail.
    assert!(matches!(
        app.call(&bea, ring(&ada_number)).await.error(),
        AppError::Forbidden
    ));
    assert!(matches!(
        app.call(&bea, OutsideCalls {}).await.error(),
        AppError::Forbidden
    ));
    let id: String = app.call(&admin, ring(&bea_number)).await.json();
    assert!(decline(app, &bea, &id).await.is_ok());
    assert_eq!(
        outside_voicemail(app, &bea, &id, &recording()).await.status,
        403
    );
    assert_eq!(
        outside_voicemail(app, &app.browser(), &id, &recording())
            .await
            .status,
        401
    );

    // A call between people here is not the outside phone's to answer, end or see.
    let inside: String = app
        .call(&admin, start(&ada_number, &bea_number, "ada-tab"))
        .await
        .json();
    let answer = OutsideAnswer {
        call_id: inside.clone(),
        tab: "simulator".into(),
        answer: ANSWER.into(),
    };
    assert!(matches!(
        app.call(&admin, answer).await.error(),
        AppError::NotFound(_)
    ));
    assert!(matches!(
        app.call(
            &admin,
            OutsideHangUp {
                call_id: inside.clone()
            }
        )
        .await
        .error(),
        AppError::NotFound(_)
    ));
    assert!(outside_calls(app, &admin)
        .await
        .iter()
        .all(|c| c.id != inside));
    assert_eq!(
        outside_voicemail(app, &admin, &inside, &recording())
            .await
            .status,
        404
    );
    // Nor can it answer the call it placed itself.
    let placed: String = app.call(&admin, ring(&ada_number)).await.json();
    let answer = OutsideAnswer {
        call_id: placed,
        tab: "simulator".into(),
        answer: ANSWER.into(),
    };
    assert!(matches!(
        app.call(&admin, answer).await.error(),
        AppError::Invalid(_)
    ));

    // It calls numbers owned here, from numbers that aren't.
    let refused = |reply: common::Reply, words: &str| {
        assert!(
            matches!(reply.error(), AppError::Invalid(ref m) if m.contains(words)),
            "{words}: {reply:?}"
        )
    };
    let mut call = ring(&bea_number);
    call.to = "+12025550100".into();
    refused(app.call(&admin, call).await, "Nobody here owns");
    let mut call = ring(&bea_number);
    call.from = ada_number.e164.clone();
    refused(app.call(&admin, call).await, "owned here");
    let mut call = ring(&bea_number);
    call.offer = "no session description".into();
    refused(app.call(&admin, call).await, "call setup");
}

async fn a_busy_number_refuses_more_calls(app: &TestApp) {
    let (admin, _, bea, bea_number) = two_people(app).await;
    let other = buy(app, &bea, "646").await;
    for to in [&bea_number, &other, &bea_number] {
        assert!(app.call(&admin, ring(to)).await.is_ok());
    }
    let busy = app.call(&admin, ring(&other)).await;
    assert!(matches!(busy.error(), AppError::Invalid(ref m) if m.contains("busy")));
}

async fn the_outside_phone_is_rate_limited_on_its_own(app: &TestApp) {
    let (admin, ada_number, _bea, bea_number) = two_people(app).await;
    // Each call rings someone's devices: at most 20 a minute, even when each is ended at once.
    for _ in 0..app::server::calls::PLACED.per_window {
        let id: String = app.call(&admin, ring(&bea_number)).await.json();
        assert!(app
            .call(&admin, OutsideHangUp { call_id: id })
            .await
            .is_ok());
    }
    let refused = app.call(&admin, ring(&bea_number)).await;
    assert!(
        matches!(refused.error(), AppError::Throttled(_)),
        "{refused:?}"
    );
    // Its count is its own: the admin may still place calls from their own number.
    assert!(app
        .call(&admin, start(&ada_number, &bea_number, "ada-tab"))
        .await
        .is_ok());
}

/// What the sandbox carrier has reported so far: events acted on as its webhook's.
async fn sandbox_events(app: &TestApp) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM webhook_events WHERE carrier = 'sandbox'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    n
}

async fn the_outside_phones_calls_take_the_path_of_a_carriers_webhook(app: &TestApp) {
    let (admin, _, bea, bea_number) = two_people(app).await;
    let id: String = app.call(&admin, ring(&bea_number)).await.json();
    // It arrives as a call the sandbox carrier holds, its arrival an event.
    let (carrier, held): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT carrier, carrier_call FROM call_sessions WHERE id = $1")
            .bind(&id)
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    let held = held.expect("the sandbox's id for the call");
    assert_eq!(carrier.as_deref(), Some("sandbox"));
    assert_eq!(sandbox_events(app).await, 1);

    // Bea's tab answers: the sandbox is told to put the call through to that tab, and
    // reports the tab answering, then the held caller answered (two events more).
    let answer = AnswerCall {
        call_id: id.clone(),
        tab: "bea-tab".into(),
        answer: ANSWER.into(),
    };
    assert!(app.call(&bea, answer).await.is_ok());
    common::eventually(10, "both answers reported", || async {
        (sandbox_events(app).await == 3).then_some(())
    })
    .await;
    let (state, through): (String, Option<String>) =
        sqlx::query_as("SELECT state, forward_call FROM call_sessions WHERE id = $1")
            .bind(&id)
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(state, "answered");
    assert!(through.is_some_and(|c| c.starts_with("sbx-call-") && c != held));

    // A call arriving twice (a redelivered event) rings once.
    use app::server::carrier::{config::CarrierKind, CallEvent};
    let arrived = CallEvent::Incoming {
        event_id: "sim-twice".into(),
        call_id: "sbx-call-twice".into(),
        session: "sbx-session-twice".into(),
        connection: "sandbox".into(),
        from: OUTSIDE.into(),
        to: bea_number.e164.clone(),
        offer: Some(OFFER.into()),
    };
    for _ in 0..2 {
        app::server::calls::carrier::handle(&app.state, CarrierKind::Sandbox, &arrived)
            .await
            .unwrap();
    }
    let (sessions,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM call_sessions WHERE carrier_call = 'sbx-call-twice'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(sessions, 1);

    // Bea hangs up: the sandbox is told to end both of its calls, and says each ended.
    assert!(hang_up(app, &bea, &id).await.is_ok());
    common::eventually(10, "both hang-ups reported", || async {
        (sandbox_events(app).await == 6).then_some(())
    })
    .await;
    let (outcome,): (Option<String>,) =
        sqlx::query_as("SELECT outcome FROM calls WHERE session_id = $1")
            .bind(&id)
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(outcome.as_deref(), Some("answered"));

    // Her call to a number outside: the sandbox calls her tab, then the outside phone, which
    // rings until the sandbox's time for it runs out (brought forward here).
    let id = call_outside(app, &bea, &bea_number).await;
    ringing_outside(app, &admin).await;
    let (carrier, browser, phone): (Option<String>, Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT carrier, carrier_call, forward_call FROM call_sessions WHERE id = $1",
        )
        .bind(&id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(carrier.as_deref(), Some("sandbox"));
    assert!(browser.is_some_and(|c| c.starts_with("sbx-call-")));
    assert!(phone.is_some_and(|c| c.starts_with("sbx-call-")));
    sqlx::query("UPDATE jobs SET run_at = 0 WHERE kind = 'sandbox_ring_ended'")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    app.state.jobs_waker.notify_one();
    common::eventually(10, "no answer", || async {
        (log(app, &bea).await[0].outcome == "No answer").then_some(())
    })
    .await;
    let seen = outside_calls(app, &admin).await;
    let ended = seen.iter().find(|c| c.id == id).expect("the call, ended");
    assert_eq!(ended.state, "ended");
}

/// The call to the outside phone as the forwarding phone, once it rings there (and, with
/// `whisper`, once it says whom the call is for).
async fn forwarded_outside(app: &TestApp, admin: &reqwest::Client, whisper: bool) -> OutsideCall {
    common::eventually(10, "the forwarded call at the outside phone", || async {
        outside_calls(app, admin)
            .await
            .into_iter()
            .find(|c| c.direction == "forwarded" && c.whisper.is_some() == whisper)
    })
    .await
}

async fn a_call_forwarded_on_the_sandbox_rings_the_outside_phone(app: &TestApp) {
    let (admin, _, bea, bea_number) = two_people(app).await;
    let forward = app::api::numbers::SetCallRouting {
        number_id: bea_number.id.clone(),
        ring_seconds: 30,
        do_not_disturb: false,
        outside_hours: false,
        forward_to: "+12025550188".into(),
        forward_after_secs: 0,
    };
    assert!(app.call(&bea, forward).await.is_ok());
    let session = |id: String| async move {
        let found: (String, Option<String>, Option<String>) = sqlx::query_as(
            "SELECT s.state, c.outcome, c.reason FROM call_sessions s
             JOIN calls c ON c.session_id = s.id WHERE s.id = $1",
        )
        .bind(id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
        found
    };

    // The outside phone calls Bea: the sandbox rings her forwarding phone (the outside
    // phone again), not her tabs.
    let id: String = app.call(&admin, ring(&bea_number)).await.json();
    let forwarded = forwarded_outside(app, &admin, false).await;
    assert_eq!(
        (forwarded.state.as_str(), forwarded.outside_display.as_str()),
        ("ringing", "(202) 555-0188")
    );
    assert!(live(app, &bea, "bea-tab").await.is_empty());
    let press = |digits: &str| OutsidePress {
        call_id: forwarded.id.clone(),
        digits: digits.into(),
    };
    assert!(
        matches!(
            app.call(&admin, press("1")).await.error(),
            AppError::Invalid(_)
        ),
        "no key before the whisper"
    );

    // Picked up, it hears whom the call is for; 1 takes it.
    let pick_up = |call_id: &str| OutsideAnswer {
        call_id: call_id.into(),
        tab: "simulator".into(),
        answer: String::new(),
    };
    assert!(app.call(&admin, pick_up(&forwarded.id)).await.is_ok());
    let asked = forwarded_outside(app, &admin, true).await;
    assert!(asked.whisper.unwrap().contains("Press 1 to take it"));
    let not_keys = OutsidePress {
        call_id: forwarded.id.clone(),
        digits: "1; drop".into(),
    };
    assert!(matches!(
        app.call(&admin, not_keys).await.error(),
        AppError::Invalid(_)
    ));
    let too_many = OutsidePress {
        call_id: forwarded.id.clone(),
        digits: "123456789".into(),
    };
    assert!(matches!(
        app.call(&admin, too_many).await.error(),
        AppError::Invalid(_)
    ));
    assert!(app.call(&admin, press("1")).await.is_ok());
    common::eventually(10, "the call taken on the forwarding phone", || async {
        let (state, _, reason) = session(id.clone()).await;
        (state == "answered").then_some(reason)
    })
    .await
    .filter(|r| r == "Answered on your forwarding phone")
    .expect("the log says where it was answered");

    // The forwarding phone hangs up: the call ends.
    assert!(app
        .call(
            &admin,
            OutsideHangUp {
                call_id: forwarded.id.clone()
            }
        )
        .await
        .is_ok());
    common::eventually(10, "the call ended", || async {
        let (state, outcome, _) = session(id.clone()).await;
        (state == "ended").then_some(outcome)
    })
    .await
    .filter(|o| o == "answered")
    .expect("answered, then ended");

    // Another key lets the forwarded call go: the caller gets the voicemail.
    let id: String = app.call(&admin, ring(&bea_number)).await.json();
    let forwarded = forwarded_outside(app, &admin, false).await;
    assert!(app.call(&admin, pick_up(&forwarded.id)).await.is_ok());
    forwarded_outside(app, &admin, true).await;
    let press_2 = OutsidePress {
        call_id: forwarded.id.clone(),
        digits: "2".into(),
    };
    assert!(app.call(&admin, press_2).await.is_ok());
    common::eventually(10, "the caller offered the voicemail", || async {
        outside_calls(app, &admin)
            .await
            .into_iter()
            .find(|c| c.id == id && c.voicemail_possible)
    })
    .await;
}

on_both_backends!(
    a_call_forwarded_on_the_sandbox_rings_the_outside_phone,
    the_outside_phones_calls_take_the_path_of_a_carriers_webhook,
    the_outside_phone_is_rate_limited_on_its_own,
    an_outside_caller_rings_the_owner_and_leaves_a_voicemail,
    our_calls_to_numbers_outside_ring_the_outside_phone,
    only_admins_play_the_outside_phone_and_only_its_calls,
    a_busy_number_refuses_more_calls,
);
