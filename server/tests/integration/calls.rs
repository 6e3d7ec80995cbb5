//! Calls between numbers owned here, through the server functions on both backends: who may
//! touch a call, first answer wins, forward-only ends, the ring timer, the log and its
//! missed-call count, the limits on what a browser sends.

use crate::common;

use app::api::calls::{
    AnswerCall, CallLog, CallPresence as AskPresence, DeclineCall, HangUp, LiveCalls, MissedCalls,
    StartCall,
};
use app::error::AppError;
use app::types::{CallLogEntry, LiveCall, OwnedNumber};
use common::TestApp;

pub(super) const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n";
pub(super) const ANSWER: &str = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n";

/// A number that can take calls, in `area_code`.
pub(super) async fn buy(app: &TestApp, client: &reqwest::Client, area_code: &str) -> OwnedNumber {
    let search = app::api::numbers::SearchNumbers {
        voice: true,
        ..common::numbers_in(area_code)
    };
    app.buy(client, search).await
}

pub(super) fn start(from: &OwnedNumber, to: &OwnedNumber, tab: &str) -> StartCall {
    StartCall {
        number_id: from.id.clone(),
        to: to.e164.clone(),
        tab: tab.into(),
        offer: OFFER.into(),
    }
}

pub(super) async fn live(app: &TestApp, client: &reqwest::Client, tab: &str) -> Vec<LiveCall> {
    app.call(client, LiveCalls { tab: tab.into() }).await.json()
}

pub(super) async fn log(app: &TestApp, client: &reqwest::Client) -> Vec<CallLogEntry> {
    app.call(
        client,
        CallLog {
            search: String::new(),
            keep_unseen: false,
        },
    )
    .await
    .json()
}

pub(super) async fn decline(app: &TestApp, client: &reqwest::Client, id: &str) -> common::Reply {
    app.call(client, DeclineCall { call_id: id.into() }).await
}

pub(super) async fn hang_up(app: &TestApp, client: &reqwest::Client, id: &str) -> common::Reply {
    app.call(client, HangUp { call_id: id.into() }).await
}

/// Ada (212) and Bea (415), each with a number.
pub(super) async fn two_people(
    app: &TestApp,
) -> (reqwest::Client, OwnedNumber, reqwest::Client, OwnedNumber) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let ada_number = buy(app, &ada, "212").await;
    let bea_number = buy(app, &bea, "415").await;
    (ada, ada_number, bea, bea_number)
}

async fn a_call_rings_is_answered_once_and_ends_for_both(app: &TestApp) {
    let (ada, ada_number, bea, bea_number) = two_people(app).await;
    let id: String = app
        .call(&ada, start(&ada_number, &bea_number, "ada-tab"))
        .await
        .json();

    // The caller's tab holds it; the callee sees it ring, with the caller's offer.
    let ada_sees = live(app, &ada, "ada-tab").await;
    assert_eq!(ada_sees.len(), 1);
    assert!(ada_sees[0].here && ada_sees[0].state == "ringing" && ada_sees[0].offer.is_none());
    let bea_sees = live(app, &bea, "bea-1").await;
    assert_eq!(bea_sees[0].id, id);
    assert_eq!(bea_sees[0].direction, "in");
    assert_eq!(bea_sees[0].peer, ada_number.e164);
    assert_eq!(bea_sees[0].offer.as_deref(), Some(OFFER));
    assert!(!bea_sees[0].here);

    // The first tab to answer takes it; a second answer (another tab) is refused.
    let answer = |tab: &str| AnswerCall {
        call_id: id.clone(),
        tab: tab.into(),
        answer: ANSWER.into(),
    };
    assert!(app.call(&bea, answer("bea-1")).await.is_ok());
    let again = app.call(&bea, answer("bea-2")).await.error();
    assert!(
        matches!(again, AppError::Invalid(ref m) if m.contains("answered elsewhere")),
        "{again:?}"
    );
    assert!(live(app, &bea, "bea-1").await[0].here);
    assert!(!live(app, &bea, "bea-2").await[0].here);
    // The caller's tab gets the answer; no other tab of the caller does.
    assert_eq!(
        live(app, &ada, "ada-tab").await[0].answer.as_deref(),
        Some(ANSWER)
    );
    assert_eq!(live(app, &ada, "ada-other").await[0].answer, None);

    // Either side hangs up: it ends for both, its descriptions (addresses) are gone.
    assert!(hang_up(app, &ada, &id).await.is_ok());
    for client in [&ada, &bea] {
        let seen = live(app, client, "x").await;
        assert!(seen
            .iter()
            .all(|c| c.state == "ended" && c.outcome.as_deref() == Some("Answered")));
    }
    let (kept,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM call_sessions WHERE offer IS NOT NULL OR answer IS NOT NULL",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(kept, 0);
    // An ended call stays as it ended: hanging up again, declining, answering change nothing.
    assert!(hang_up(app, &bea, &id).await.is_ok());
    assert!(decline(app, &bea, &id).await.is_ok());
    assert!(!app.call(&bea, answer("bea-3")).await.is_ok());
    let ada_log = log(app, &ada).await;
    assert_eq!(ada_log[0].outcome, "Answered");
    assert_eq!(ada_log[0].direction, "out");
    assert_eq!(ada_log[0].peer, bea_number.e164);
    assert!(ada_log[0].duration_secs.is_some());
    assert_eq!(log(app, &bea).await[0].outcome, "Answered");
}

async fn only_the_parties_touch_a_call(app: &TestApp) {
    let (ada, ada_number, _bea, bea_number) = two_people(app).await;
    let cid = app.invited_user(&ada, "cid@example.com", "user").await;
    let id: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    let answer = AnswerCall {
        call_id: id.clone(),
        tab: "cid".into(),
        answer: ANSWER.into(),
    };
    for reply in [
        app.call(&cid, answer).await,
        app.call(
            &cid,
            DeclineCall {
                call_id: id.clone(),
            },
        )
        .await,
        app.call(
            &cid,
            HangUp {
                call_id: id.clone(),
            },
        )
        .await,
    ] {
        assert!(matches!(reply.error(), AppError::NotFound(_)), "{reply:?}");
    }
    // The caller can't answer their own call either.
    let own = app
        .call(
            &ada,
            AnswerCall {
                call_id: id.clone(),
                tab: "t".into(),
                answer: ANSWER.into(),
            },
        )
        .await;
    assert!(matches!(own.error(), AppError::NotFound(_)));
    assert!(live(app, &cid, "t").await.is_empty());
    assert!(log(app, &cid).await.is_empty());
    // Nor place a call from someone else's number.
    let foreign = app.call(&cid, start(&ada_number, &bea_number, "t")).await;
    assert!(matches!(foreign.error(), AppError::NotFound(_)));
    // Signed out: nothing.
    let anon = app
        .call(&app.browser(), LiveCalls { tab: "t".into() })
        .await;
    assert!(matches!(anon.error(), AppError::Unauthorized));
}

async fn a_declined_or_unanswered_call_is_missed_until_the_log_is_seen(app: &TestApp) {
    let (ada, ada_number, bea, bea_number) = two_people(app).await;
    let declined: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    assert!(decline(app, &bea, &declined).await.is_ok());
    let cancelled: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    assert!(hang_up(app, &ada, &cancelled).await.is_ok());
    let unanswered: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    // The ring timer (run now rather than in 30 s).
    app::server::calls::ring_timeout(&app.state, &unanswered, false)
        .await
        .unwrap();

    let outcomes =
        |entries: Vec<CallLogEntry>| entries.into_iter().map(|e| e.outcome).collect::<Vec<_>>();
    assert_eq!(app.call(&bea, MissedCalls {}).await.json::<i64>(), 2);
    assert_eq!(
        outcomes(log(app, &ada).await),
        ["No answer", "Cancelled", "Declined"]
    );
    // The server's render of the page reads the log without seeing them (a write racing
    // the navigation's count in the same render broke hydration); the browser's read does.
    let rendered = CallLog {
        search: String::new(),
        keep_unseen: true,
    };
    assert_eq!(
        app.call(&bea, rendered)
            .await
            .json::<Vec<CallLogEntry>>()
            .len(),
        3
    );
    assert_eq!(app.call(&bea, MissedCalls {}).await.json::<i64>(), 2);
    // Opening the log sees them.
    assert_eq!(
        outcomes(log(app, &bea).await),
        ["Missed", "Missed", "Declined"]
    );
    assert_eq!(app.call(&bea, MissedCalls {}).await.json::<i64>(), 0);
}

async fn what_a_browser_sends_is_checked_and_calls_are_capped(app: &TestApp) {
    let (ada, ada_number, _bea, bea_number) = two_people(app).await;
    let refused = |reply: common::Reply, words: &str| {
        assert!(
            matches!(reply.error(), AppError::Invalid(ref m) if m.contains(words)),
            "{words}: {reply:?}"
        )
    };
    let mut call = start(&ada_number, &bea_number, "t");
    call.offer = "x".repeat(100);
    refused(app.call(&ada, call).await, "call setup");
    let mut call = start(&ada_number, &bea_number, "t");
    call.offer = format!("v=0\r\n{}", "a".repeat(20_000));
    refused(app.call(&ada, call).await, "call setup");
    let mut call = start(&ada_number, &bea_number, "t");
    call.tab = "../../etc".into();
    refused(app.call(&ada, call).await, "tab");
    refused(
        app.call(&ada, start(&ada_number, &ada_number, "t")).await,
        "itself",
    );
    let mut call = start(&ada_number, &bea_number, "t");
    call.to = "not a number".into();
    assert!(matches!(
        app.call(&ada, call).await.error(),
        AppError::Invalid(_)
    ));

    // At most three calls going at once.
    for _ in 0..3 {
        assert!(app
            .call(&ada, start(&ada_number, &bea_number, "t"))
            .await
            .is_ok());
    }
    refused(
        app.call(&ada, start(&ada_number, &bea_number, "t")).await,
        "Hang one up",
    );
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM call_sessions")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 3, "refused calls leave nothing behind");
}

async fn leave_voicemail(
    app: &TestApp,
    client: &reqwest::Client,
    call_id: &str,
    bytes: &[u8],
) -> common::Reply {
    app.post_bytes(client, &format!("/calls/{call_id}/voicemail"), bytes)
        .await
}

/// The start of a WebM file (its EBML magic), as MediaRecorder writes, and some bytes.
pub(super) fn recording() -> Vec<u8> {
    let mut bytes = vec![0x1A, 0x45, 0xDF, 0xA3];
    bytes.resize(3_000, 7);
    bytes
}

async fn a_voicemail_is_left_once_on_an_unanswered_call_and_only_its_callee_hears_it(
    app: &TestApp,
) {
    let (ada, ada_number, bea, bea_number) = two_people(app).await;
    let cid = app.invited_user(&ada, "cid@example.com", "user").await;
    let id: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    // Not while it rings.
    assert_eq!(
        leave_voicemail(app, &ada, &id, &recording()).await.status,
        400
    );
    assert!(decline(app, &bea, &id).await.is_ok());

    // Only the caller leaves one; only audio; only once; never too long.
    assert_eq!(
        leave_voicemail(app, &app.browser(), &id, &recording())
            .await
            .status,
        401
    );
    assert_eq!(
        leave_voicemail(app, &cid, &id, &recording()).await.status,
        404
    );
    assert_eq!(
        leave_voicemail(app, &bea, &id, &recording()).await.status,
        404
    );
    let text = leave_voicemail(app, &ada, &id, b"just some text, not audio").await;
    assert!(text.body.contains("WebM or Ogg"), "{text:?}");
    let mut long = recording();
    long.resize(app::server::calls::MAX_VOICEMAIL_BYTES + 1, 0);
    let too_long = leave_voicemail(app, &ada, &id, &long).await;
    assert_eq!(too_long.status, 400, "{too_long:?}");
    assert_eq!(
        leave_voicemail(app, &ada, &id, &recording()).await.status,
        201
    );
    let again = leave_voicemail(app, &ada, &id, &recording()).await;
    assert!(again.body.contains("already"), "{again:?}");

    // Bea's log has it and she can play it; it is nobody else's.
    let entry = log(app, &bea).await.remove(0);
    let voicemail = entry.voicemail_id.expect("the voicemail is in the log");
    let played = app.get(&bea, &format!("/media/{voicemail}")).await;
    assert_eq!(played.status, 200);
    assert_eq!(played.headers["content-type"], "audio/webm");
    assert_eq!(
        app.get(&ada, &format!("/media/{voicemail}")).await.status,
        404
    );
    assert!(log(app, &ada).await[0].voicemail_id.is_none());
    // Unattached to any message, it still outlives the sweep of unsent uploads.
    sqlx::query("UPDATE media SET created_at = 0")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    app::server::media::purge_orphans(&app.state).await.unwrap();
    assert_eq!(
        app.get(&bea, &format!("/media/{voicemail}")).await.status,
        200
    );

    // An answered call takes no voicemail.
    let answered: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    let answer = AnswerCall {
        call_id: answered.clone(),
        tab: "b".into(),
        answer: ANSWER.into(),
    };
    assert!(app.call(&bea, answer).await.is_ok());
    assert!(hang_up(app, &bea, &answered).await.is_ok());
    let refused = leave_voicemail(app, &ada, &answered, &recording()).await;
    assert!(refused.body.contains("not answered"), "{refused:?}");
}

async fn placing_calls_is_rate_limited(app: &TestApp) {
    let (ada, ada_number, _bea, bea_number) = two_people(app).await;
    // Each rings Bea's devices: at most 20 a minute, even when each is hung up at once.
    for _ in 0..app::server::calls::PLACED.per_window {
        let id: String = app
            .call(&ada, start(&ada_number, &bea_number, "t"))
            .await
            .json();
        assert!(hang_up(app, &ada, &id).await.is_ok());
    }
    let refused = app.call(&ada, start(&ada_number, &bea_number, "t")).await;
    assert!(
        matches!(refused.error(), AppError::Throttled(ref m) if m.contains("calls")),
        "{refused:?}"
    );
}

async fn routing(
    app: &TestApp,
    client: &reqwest::Client,
    number: &OwnedNumber,
    ring_seconds: i64,
    do_not_disturb: bool,
) -> common::Reply {
    let set = app::api::numbers::SetCallRouting {
        number_id: number.id.clone(),
        ring_seconds,
        do_not_disturb,
        outside_hours: false,
        forward_to: String::new(),
        forward_after_secs: 0,
    };
    app.call(client, set).await
}

/// When the ring timer of call `id` is due, in ms from now (None: no timer).
async fn ring_timer_in(app: &TestApp, id: &str) -> Option<i64> {
    let due: Option<(i64,)> =
        sqlx::query_as("SELECT run_at FROM jobs WHERE kind = 'ring_timeout' AND payload LIKE $1")
            .bind(format!("%{id}%"))
            .fetch_optional(app.state.db.pool())
            .await
            .unwrap();
    due.map(|(at,)| at - app::server::now_ms())
}

async fn a_numbers_ring_time_and_do_not_disturb_decide_how_its_calls_ring(app: &TestApp) {
    let (ada, ada_number, bea, bea_number) = two_people(app).await;
    let cid = app.invited_user(&ada, "cid@example.com", "user").await;
    // Thirty seconds unless changed; Bea's choice of ten is the call's ring timer.
    let id: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    assert!(ring_timer_in(app, &id).await.unwrap() > 25_000);
    assert!(hang_up(app, &ada, &id).await.is_ok());
    assert!(routing(app, &bea, &bea_number, 10, false).await.is_ok());
    let id: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    let due = ring_timer_in(app, &id).await.unwrap();
    assert!((5_000..=10_000).contains(&due), "{due}");
    assert!(hang_up(app, &ada, &id).await.is_ok());

    // Do not disturb: nothing rings, the call is missed at once, and Ada may leave a message.
    assert!(routing(app, &bea, &bea_number, 10, true).await.is_ok());
    let mine: Vec<OwnedNumber> = app.call(&bea, app::api::numbers::MyNumbers {}).await.json();
    assert!(mine[0].do_not_disturb && mine[0].ring_seconds == 10);
    let id: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    assert_eq!(ring_timer_in(app, &id).await, None);
    assert!(live(app, &bea, "bea")
        .await
        .iter()
        .all(|c| c.state == "ended"));
    let ada_sees = live(app, &ada, "t")
        .await
        .into_iter()
        .find(|c| c.id == id)
        .expect("the call, just ended");
    assert_eq!(ada_sees.outcome.as_deref(), Some("No answer"));
    assert!(ada_sees.can_leave_voicemail);
    let left = app
        .post_bytes(&ada, &format!("/calls/{id}/voicemail"), &recording())
        .await;
    assert_eq!(left.status, 201);
    let entry = log(app, &bea).await.remove(0);
    assert_eq!(entry.outcome, "Missed");
    assert!(entry.voicemail_id.is_some());

    // Only the listed ring times; only the owner sets them.
    let refused = routing(app, &bea, &bea_number, 15, false).await;
    assert!(matches!(refused.error(), AppError::Invalid(ref m) if m.contains("from the list")));
    let refused = routing(app, &cid, &bea_number, 30, false).await;
    assert!(matches!(refused.error(), AppError::NotFound(_)));
    let mine: Vec<OwnedNumber> = app.call(&bea, app::api::numbers::MyNumbers {}).await.json();
    assert!(
        mine[0].do_not_disturb && mine[0].ring_seconds == 10,
        "unchanged"
    );

    // Do not disturb by the weekly schedule: outside the number's business hours only.
    let scheduled = app::api::numbers::SetCallRouting {
        number_id: bea_number.id.clone(),
        ring_seconds: 10,
        do_not_disturb: false,
        outside_hours: true,
        forward_to: String::new(),
        forward_after_secs: 0,
    };
    assert!(app.call(&bea, scheduled).await.is_ok());
    let mine: Vec<OwnedNumber> = app.call(&bea, app::api::numbers::MyNumbers {}).await.json();
    assert!(mine[0].dnd_outside_hours && !mine[0].do_not_disturb);
    let hours = |days: &str| {
        let db = app.state.db.clone();
        let (days, id) = (days.to_string(), bea_number.id.to_string());
        async move {
            sqlx::query(
                "UPDATE phone_numbers SET business_days = $1, opens_minute = 0, closes_minute = 1439,
                 time_zone = 'UTC' WHERE id = $2",
            )
            .bind(days)
            .bind(id)
            .execute(db.pool())
            .await
            .unwrap();
        }
    };
    // Closed every day: nothing rings.
    hours("").await;
    let id: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    assert_eq!(
        ring_timer_in(app, &id).await,
        None,
        "closed: straight to voicemail"
    );
    // Open every day (all day long, but for the last minute): it rings.
    let minute_of_day = (app::server::now_ms() / 60_000) % 1440;
    if minute_of_day < 1438 {
        hours("0,1,2,3,4,5,6").await;
        let id: String = app
            .call(&ada, start(&ada_number, &bea_number, "t"))
            .await
            .json();
        assert!(ring_timer_in(app, &id).await.is_some(), "open: it rings");
        assert!(hang_up(app, &ada, &id).await.is_ok());
    }
}

/// Calls as the log keeps them, written directly: (peer, direction, outcome, minutes ago).
async fn logged_calls(app: &TestApp, number: &OwnedNumber, calls: &[(&str, &str, &str, i64)]) {
    for (i, (peer, direction, outcome, ago)) in calls.iter().enumerate() {
        let at = app::server::now_ms() - ago * 60_000;
        let id = format!("{}-{i}", number.id);
        sqlx::query("INSERT INTO call_sessions (id, state, caller_tab, created_at) VALUES ($1, 'ended', 't', $2)")
            .bind(&id)
            .bind(at)
            .execute(app.state.db.pool())
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO calls (id, session_id, user_id, number_id, number_e164, peer, direction, outcome, created_at, ended_at)
             SELECT $1, $1, user_id, id, e164, $2, $3, $4, $5, $5 FROM phone_numbers WHERE id = $6",
        )
        .bind(&id)
        .bind(peer)
        .bind(direction)
        .bind(outcome)
        .bind(at)
        .bind(number.id.to_string())
        .execute(app.state.db.pool())
        .await
        .unwrap();
    }
}

async fn the_call_log_finds_calls_by_name_or_number(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let number = buy(app, &ada, "212").await;
    let bea_number = buy(app, &bea, "415").await;
    logged_calls(
        app,
        &number,
        &[
            ("+12025550100", "in", "answered", 3),
            ("+13105550142", "out", "missed", 2),
            ("+12025550100", "in", "missed", 1),
        ],
    )
    .await;
    logged_calls(app, &bea_number, &[("+13105550142", "in", "answered", 1)]).await;
    let grace = crate::contacts::contact("Grace Hopper", &["+12025550100"]);
    assert!(app.call(&ada, grace).await.is_ok());
    let found = |search: &str| {
        let ada = ada.clone();
        let search = search.to_string();
        async move {
            let log: Vec<CallLogEntry> = app
                .call(
                    &ada,
                    CallLog {
                        search,
                        keep_unseen: false,
                    },
                )
                .await
                .json();
            log.into_iter().map(|c| c.peer).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found("").await.len(),
        3,
        "no search: every call of Ada's (none of Bea's)"
    );
    assert_eq!(
        found("grace").await,
        ["+12025550100", "+12025550100"],
        "by contact name, any case"
    );
    assert_eq!(
        found("0142").await,
        ["+13105550142"],
        "by digits of their number"
    );
    assert_eq!(
        found("(310) 555").await,
        ["+13105550142"],
        "typed as people write numbers"
    );
    assert_eq!(
        found(number.e164.as_str()).await.len(),
        3,
        "by digits of our number"
    );
    assert!(found("zz").await.is_empty());
    assert!(found("%").await.is_empty(), "% is not a wildcard");
    assert!(found("_").await.is_empty(), "_ is not a wildcard");
    assert!(
        found("55").await.is_empty(),
        "fewer than three digits match no number"
    );
    let long = app
        .call(
            &ada,
            CallLog {
                search: "x".repeat(101),
                keep_unseen: false,
            },
        )
        .await;
    assert!(matches!(long.error(), AppError::Invalid(_)));
}

/// A number's greeting: its owner sets the words and a recording (audio only, thirty
/// seconds at most, their own numbers only); the caller of an unanswered call gets them (a
/// link to the recording), nobody else does; the sweep of unsent uploads leaves it.
async fn the_caller_of_an_unanswered_call_hears_the_greeting(app: &TestApp) {
    use app::api::calls::{CallGreeting, RemoveGreetingRecording, SetGreeting};
    use app::types::VoicemailGreeting;
    let (ada, ada_number, bea, bea_number) = two_people(app).await;
    let id: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    let greeting = |call_id: &str| CallGreeting {
        call_id: call_id.into(),
    };
    // Not while it rings.
    let early = app.call(&ada, greeting(&id)).await;
    assert!(matches!(early.error(), AppError::Invalid(_)), "{early:?}");
    assert!(decline(app, &bea, &id).await.is_ok());

    // The default words name the number.
    let heard: VoicemailGreeting = app.call(&ada, greeting(&id)).await.json();
    assert_eq!(
        heard.text,
        format!(
            "You've reached {}. Leave a message after the tone.",
            bea_number.display
        )
    );
    assert!(heard.audio_url.is_none());

    // Bea's own words and recording; not on someone else's number, not too long, audio only.
    let words = |number_id: &str, text: &str| SetGreeting {
        number_id: number_id.into(),
        text: text.into(),
    };
    let foreign = app.call(&ada, words(&bea_number.id, "Ha")).await;
    assert!(
        matches!(foreign.error(), AppError::NotFound(_)),
        "{foreign:?}"
    );
    let long = app
        .call(&bea, words(&bea_number.id, &"a".repeat(301)))
        .await;
    assert!(matches!(long.error(), AppError::Invalid(_)), "{long:?}");
    assert!(app
        .call(&bea, words(&bea_number.id, "Bea here, leave one!"))
        .await
        .is_ok());
    let path = format!("/numbers/{}/greeting", bea_number.id);
    assert_eq!(app.post_bytes(&ada, &path, &recording()).await.status, 404);
    assert_eq!(
        app.post_bytes(&app.browser(), &path, &recording())
            .await
            .status,
        401
    );
    let text = app.post_bytes(&bea, &path, b"plain words, not audio").await;
    assert!(text.body.contains("WebM or Ogg"), "{text:?}");
    let mut too_long = recording();
    too_long.resize(app::server::calls::greeting::MAX_RECORDING_BYTES + 1, 0);
    assert_eq!(app.post_bytes(&bea, &path, &too_long).await.status, 400);
    assert_eq!(app.post_bytes(&bea, &path, &recording()).await.status, 201);

    let heard: VoicemailGreeting = app.call(&ada, greeting(&id)).await.json();
    assert_eq!(heard.text, "Bea here, leave one!");
    let link = heard.audio_url.expect("the recording's link");
    let played = reqwest::get(&link).await.unwrap();
    assert_eq!(played.status(), 200);
    assert_eq!(
        played.bytes().await.unwrap().as_ref(),
        recording().as_slice()
    );
    // Only the caller: not the callee, not a stranger.
    let callee = app.call(&bea, greeting(&id)).await;
    assert!(
        matches!(callee.error(), AppError::NotFound(_)),
        "{callee:?}"
    );
    let stranger = app.call(&app.browser(), greeting(&id)).await;
    assert!(
        matches!(stranger.error(), AppError::Unauthorized),
        "{stranger:?}"
    );

    // The sweep of unsent uploads leaves it, however old.
    sqlx::query("UPDATE media SET created_at = 0")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    app::server::media::purge_orphans(&app.state).await.unwrap();
    let heard: VoicemailGreeting = app.call(&ada, greeting(&id)).await.json();
    assert!(heard.audio_url.is_some());
    // Removed: the words alone, the file gone.
    let remove = RemoveGreetingRecording {
        number_id: bea_number.id.clone(),
    };
    assert!(app.call(&bea, remove).await.is_ok());
    let heard: VoicemailGreeting = app.call(&ada, greeting(&id)).await.json();
    assert!(heard.audio_url.is_none());
    let (files,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM media")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(files, 0);
}

/// What the dialer says of the number typed: outside, or someone here online, offline or on
/// do-not-disturb; from one's own numbers only.
async fn the_dialer_says_who_is_online(app: &TestApp) {
    use app::types::Presence;
    let (ada, ada_number, bea, bea_number) = two_people(app).await;
    let ask = |to: &str| AskPresence {
        number_id: ada_number.id.clone(),
        to: to.into(),
    };
    let said = |reply: common::Reply| reply.json::<Presence>();
    assert_eq!(
        said(app.call(&ada, ask("(202) 555-0199")).await),
        Presence::Outside
    );
    assert_eq!(
        said(app.call(&ada, ask("not a number")).await),
        Presence::Outside
    );
    assert_eq!(
        said(app.call(&ada, ask(&bea_number.e164)).await),
        Presence::Offline
    );

    // Bea opens a tab: its live stream makes her online.
    let stream = bea
        .get(format!("{}/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(
        said(app.call(&ada, ask(&bea_number.e164)).await),
        Presence::Online
    );
    // Not seen for longer than a heartbeat and a bit: offline (the tab closed).
    sqlx::query("UPDATE presence SET seen_at = seen_at - $1")
        .bind(app::server::calls::presence::ONLINE_MS + 1_000)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(
        said(app.call(&ada, ask(&bea_number.e164)).await),
        Presence::Offline
    );
    drop(stream);
    // Do-not-disturb: straight to voicemail, online or not.
    sqlx::query("UPDATE phone_numbers SET do_not_disturb = 1 WHERE id = $1")
        .bind(&bea_number.id)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(
        said(app.call(&ada, ask(&bea_number.e164)).await),
        Presence::DoNotDisturb
    );

    // Asked from someone else's number, or signed out: refused.
    let foreign = app
        .call(
            &ada,
            AskPresence {
                number_id: bea_number.id.clone(),
                to: ada_number.e164.clone(),
            },
        )
        .await;
    assert!(
        matches!(foreign.error(), AppError::NotFound(_)),
        "{foreign:?}"
    );
    let signed_out = app.call(&app.browser(), ask(&bea_number.e164)).await;
    assert!(
        matches!(signed_out.error(), AppError::Unauthorized),
        "{signed_out:?}"
    );
}

on_both_backends!(
    the_caller_of_an_unanswered_call_hears_the_greeting,
    the_dialer_says_who_is_online,
    a_numbers_ring_time_and_do_not_disturb_decide_how_its_calls_ring,
    placing_calls_is_rate_limited,
    a_voicemail_is_left_once_on_an_unanswered_call_and_only_its_callee_hears_it,
    a_call_rings_is_answered_once_and_ends_for_both,
    only_the_parties_touch_a_call,
    a_declined_or_unanswered_call_is_missed_until_the_log_is_seen,
    what_a_browser_sends_is_checked_and_calls_are_capped,
    the_call_log_finds_calls_by_name_or_number,
);

/// The alerts queued for `user`'s devices so far (the push jobs' notifications), oldest
/// first. The app is paused: nothing is sent, so they wait in the queue.
async fn alerts_for(app: &TestApp, user_id: &str) -> Vec<serde_json::Value> {
    let jobs: Vec<(String,)> = sqlx::query_as(
        "SELECT j.payload FROM jobs j WHERE j.kind = 'push' ORDER BY j.created_at, j.id",
    )
    .fetch_all(app.state.db.pool())
    .await
    .unwrap();
    let subscription: (String,) =
        sqlx::query_as("SELECT id FROM push_subscriptions WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    jobs.into_iter()
        .map(|(job,)| serde_json::from_str::<serde_json::Value>(&job).unwrap())
        .filter(|job| job["subscription_id"] == subscription.0.as_str())
        .map(|job| serde_json::from_str(job["payload"].as_str().unwrap()).unwrap())
        .collect()
}

/// A call's ringing alert on the devices of the person called is settled when the call
/// ends, under the same tag (so it replaces it): "Missed call from …" when they missed it;
/// answered (on any device) or declined, a quiet one (no body) takes its place.
async fn a_ringing_alert_is_replaced_when_the_call_ends(app: &TestApp) {
    let (ada, ada_number, bea, bea_number) = two_people(app).await;
    let bea_id = app.user_id(&ada, "bea@example.com").await;
    sqlx::query(
        "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, device, created_at)
         VALUES ('bea-phone', $1, 'https://push.example/bea', 'k', 'a', 'Bea''s phone', 0)",
    )
    .bind(&bea_id)
    .execute(app.state.db.pool())
    .await
    .unwrap();

    // Ada calls and gives up: Bea's "Call from" becomes "Missed call from".
    let missed: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    // A ringing alert is sent while its call rings; one retried past the call's end is not
    // (its "missed" alert may have gone first, and a phone must not ring for nothing).
    let gone = |alert: &serde_json::Value| {
        let payload = alert.to_string();
        async move {
            app::server::push::rings_for_a_call_gone(&app.state.db, &payload)
                .await
                .unwrap()
        }
    };
    let ringing = alerts_for(app, &bea_id).await;
    assert!(!gone(&ringing[0]).await);
    assert!(hang_up(app, &ada, &missed).await.is_ok());
    let alerts = alerts_for(app, &bea_id).await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(gone(&alerts[0]).await, "the ring of a call over");
    assert!(!gone(&alerts[1]).await, "its missed-call alert");
    let tag = format!("call-{missed}");
    assert_eq!(
        (
            alerts[0]["title"].as_str().unwrap(),
            alerts[0]["tag"].as_str().unwrap()
        ),
        (
            format!("Call from {}", ada_number.display).as_str(),
            tag.as_str()
        )
    );
    assert!(alerts[0].get("ended").is_none());
    assert_eq!(
        (
            alerts[1]["title"].as_str().unwrap(),
            alerts[1]["tag"].as_str().unwrap()
        ),
        (
            format!("Missed call from {}", ada_number.display).as_str(),
            tag.as_str()
        )
    );
    assert_eq!(alerts[1]["ended"], true);

    // Answered in one tab: every device stops ringing (a quiet alert, no body).
    let answered: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    let take = AnswerCall {
        call_id: answered.clone(),
        tab: "bea-tab".into(),
        answer: ANSWER.into(),
    };
    assert!(app.call(&bea, take).await.is_ok());
    let alerts = alerts_for(app, &bea_id).await;
    assert_eq!(alerts.len(), 4);
    assert_eq!(
        (
            alerts[3]["title"].as_str().unwrap(),
            alerts[3]["tag"].as_str().unwrap(),
            &alerts[3]["ended"]
        ),
        (
            "Call answered",
            format!("call-{answered}").as_str(),
            &serde_json::json!(true)
        )
    );
    // Hanging up after sends nothing more.
    assert!(hang_up(app, &bea, &answered).await.is_ok());
    assert_eq!(alerts_for(app, &bea_id).await.len(), 4);

    // Declined: it goes too.
    let declined: String = app
        .call(&ada, start(&ada_number, &bea_number, "t"))
        .await
        .json();
    assert!(decline(app, &bea, &declined).await.is_ok());
    let alerts = alerts_for(app, &bea_id).await;
    assert_eq!(alerts.len(), 6);
    assert_eq!(alerts[5]["title"], "Call declined");
    assert_eq!(alerts[5]["body"], "");
    assert_eq!(alerts[5]["tag"], format!("call-{declined}"));

    // The caller leaves a voicemail: an alert of its own says so.
    assert!(leave_voicemail(app, &ada, &declined, &recording())
        .await
        .is_ok());
    let alerts = alerts_for(app, &bea_id).await;
    assert_eq!(alerts.len(), 7);
    assert_eq!(
        alerts[6]["title"],
        format!("Voicemail from {}", ada_number.display)
    );
    assert_eq!(alerts[6]["tag"], format!("voicemail-{declined}"));
}

mod paused {
    use crate::common::{Backend, TestApp};

    async fn run(backend: Backend) {
        let app = TestApp::start_paused(backend).await;
        crate::common::within_limit(
            "a_ringing_alert_is_replaced_when_the_call_ends",
            super::a_ringing_alert_is_replaced_when_the_call_ends(&app),
        )
        .await;
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
}
