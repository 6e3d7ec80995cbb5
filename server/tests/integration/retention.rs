//! Retention on both backends: the instance's period (90 days unless an admin changes it,
//! or forever) and each user's own shorter one; the purge deletes exactly what is older —
//! texts and their picture files, ended calls and their voicemails, conversations left
//! empty, finished campaigns — for each user by their own period.

use crate::common;

use app::api::accounts::admin::SetInstanceRetention;
use app::api::accounts::settings::{Retention, SetOwnRetention};
use app::error::AppError;
use app::types::RetentionView;
use common::TestApp;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn view(app: &TestApp, client: &reqwest::Client) -> RetentionView {
    app.call(client, Retention {}).await.json()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    n
}

async fn periods_are_the_instances_or_a_shorter_own_one(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let seen = view(app, &bea).await;
    assert_eq!(
        (seen.instance_days, seen.own_days, seen.kept_days),
        (90, 0, 90)
    );

    let refused = app.call(&bea, SetOwnRetention { days: 120 }).await;
    assert!(
        matches!(refused.error(), AppError::Invalid(ref m) if m.contains("keeps texts and calls 90 days")),
        "{refused:?}"
    );
    assert!(matches!(
        app.call(&bea, SetOwnRetention { days: -1 }).await.error(),
        AppError::Invalid(_)
    ));
    assert!(app.call(&bea, SetOwnRetention { days: 30 }).await.is_ok());
    let seen = view(app, &bea).await;
    assert_eq!(
        (seen.instance_days, seen.own_days, seen.kept_days),
        (90, 30, 30)
    );

    // Only admins set the instance's period; a shorter one then wins over Bea's.
    assert!(matches!(
        app.call(&bea, SetInstanceRetention { days: 7 })
            .await
            .error(),
        AppError::Forbidden
    ));
    assert!(app
        .call(&ada, SetInstanceRetention { days: 7 })
        .await
        .is_ok());
    assert_eq!(view(app, &bea).await.kept_days, 7);
    assert!(matches!(
        app.call(&ada, SetInstanceRetention { days: 5000 })
            .await
            .error(),
        AppError::Invalid(_)
    ));
    // Forever: Bea's own period is what applies.
    assert!(app
        .call(&ada, SetInstanceRetention { days: 0 })
        .await
        .is_ok());
    let seen = view(app, &bea).await;
    assert_eq!(
        (seen.instance_days, seen.own_days, seen.kept_days),
        (0, 30, 30)
    );
    assert_eq!(view(app, &ada).await.kept_days, 0, "forever");
    assert!(app.call(&bea, SetOwnRetention { days: 400 }).await.is_ok());
    assert!(matches!(
        app.call(&app.browser(), Retention {}).await.error(),
        AppError::Unauthorized
    ));
}

/// A text in, with a picture when `picture`, stored (and its picture kept) before returning.
async fn text_in(app: &TestApp, to: &str, from: &str, body: &str, picture: bool) {
    app::server::simulator::inbound(&app.state, from, to, body.to_string(), picture)
        .await
        .unwrap();
}

async fn the_purge_deletes_exactly_what_is_older(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let ada_number = app.buy(&ada, common::numbers_in("212")).await;
    let bea_number = app.buy(&bea, common::numbers_in("415")).await;
    // Bea keeps hers 30 days; Ada follows the instance (90).
    assert!(app.call(&bea, SetOwnRetention { days: 30 }).await.is_ok());

    // Ada: an old conversation (two texts, one with a picture) and a recent one that also
    // has an old text. Bea: a 60-day-old text (past her 30) and a recent one.
    text_in(
        app,
        ada_number.e164.as_str(),
        "+12025550100",
        "old, with a picture",
        true,
    )
    .await;
    text_in(
        app,
        ada_number.e164.as_str(),
        "+12025550100",
        "old too",
        false,
    )
    .await;
    text_in(
        app,
        ada_number.e164.as_str(),
        "+12025550142",
        "old in a live thread",
        false,
    )
    .await;
    text_in(
        app,
        ada_number.e164.as_str(),
        "+12025550142",
        "new, with a picture",
        true,
    )
    .await;
    text_in(
        app,
        bea_number.e164.as_str(),
        "+12025550177",
        "sixty days old",
        false,
    )
    .await;
    text_in(
        app,
        bea_number.e164.as_str(),
        "+12025550177",
        "yesterday",
        false,
    )
    .await;
    app.media_stored(2).await;
    let now = app::server::now_ms();
    let age = |body: &str, days: i64| {
        let db = app.state.db.clone();
        let body = body.to_string();
        async move {
            sqlx::query("UPDATE messages SET created_at = $1, updated_at = $1 WHERE body = $2")
                .bind(now - days * DAY_MS)
                .bind(&body)
                .execute(db.pool())
                .await
                .unwrap();
        }
    };
    age("old, with a picture", 100).await;
    age("old too", 95).await;
    age("old in a live thread", 91).await;
    age("new, with a picture", 89).await;
    age("sixty days old", 60).await;
    age("yesterday", 1).await;
    sqlx::query("UPDATE conversations SET last_at = $1 WHERE peer = '+12025550100'")
        .bind(now - 95 * DAY_MS)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let (old_picture,): (String,) = sqlx::query_as(
        "SELECT md.id FROM media md JOIN messages m ON m.id = md.message_id WHERE m.body = 'old, with a picture'",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    let (new_picture,): (String,) = sqlx::query_as(
        "SELECT md.id FROM media md JOIN messages m ON m.id = md.message_id WHERE m.body = 'new, with a picture'",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    let media_dir = app.state.settings.media_dir.clone();
    assert!(media_dir.join(&old_picture).exists() && media_dir.join(&new_picture).exists());

    // Ended calls, one 100 days old with a voicemail and one 10 days old.
    for (id, days, voicemail) in [("old-call", 100, true), ("new-call", 10, false)] {
        let at = now - days * DAY_MS;
        sqlx::query("INSERT INTO call_sessions (id, state, caller_tab, created_at) VALUES ($1, 'ended', 't', $2)")
            .bind(format!("session-{id}"))
            .bind(at)
            .execute(app.state.db.pool())
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO calls (id, session_id, user_id, number_e164, peer, direction, outcome, created_at, ended_at)
             SELECT $1, $2, user_id, e164, '+12025550100', 'in', 'missed', $3, $3 FROM phone_numbers WHERE e164 = $4",
        )
        .bind(id)
        .bind(format!("session-{id}"))
        .bind(at)
        .bind(ada_number.e164.as_str())
        .execute(app.state.db.pool())
        .await
        .unwrap();
        if voicemail {
            // The voicemail is a media row of its own (no message).
            sqlx::query(
                "INSERT INTO media (id, user_id, content_type, size_bytes, state, created_at)
                 SELECT '00000000-0000-7000-8000-00000000beef', user_id, 'audio/webm', 3, 'stored', $1 FROM phone_numbers WHERE e164 = $2",
            )
            .bind(at)
            .bind(ada_number.e164.as_str())
            .execute(app.state.db.pool())
            .await
            .unwrap();
            std::fs::write(
                media_dir.join("00000000-0000-7000-8000-00000000beef"),
                b"abc",
            )
            .unwrap();
            sqlx::query("UPDATE calls SET voicemail_media_id = '00000000-0000-7000-8000-00000000beef' WHERE id = $1")
                .bind(id)
                .execute(app.state.db.pool())
                .await
                .unwrap();
        }
    }

    let purged = app::server::retention::purge(&app.state).await.unwrap();
    assert_eq!(purged.messages, 4, "{purged:?}");
    assert_eq!(purged.calls, 1, "{purged:?}");
    assert_eq!(
        purged.media_files, 2,
        "the old picture and the voicemail: {purged:?}"
    );
    assert_eq!(purged.conversations, 1, "{purged:?}");
    let mut left: Vec<String> = sqlx::query_as::<_, (String,)>("SELECT body FROM messages")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(b,)| b)
        .collect();
    left.sort();
    assert_eq!(left, ["new, with a picture", "yesterday"]);
    assert!(!media_dir.join(&old_picture).exists());
    assert!(!media_dir
        .join("00000000-0000-7000-8000-00000000beef")
        .exists());
    assert!(media_dir.join(&new_picture).exists());
    assert_eq!(count(app, "SELECT COUNT(*) FROM media").await, 1);
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM calls WHERE id = 'new-call'").await,
        1
    );
    assert_eq!(count(app, "SELECT COUNT(*) FROM call_sessions").await, 1);
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM conversations WHERE peer = '+12025550142'"
        )
        .await,
        1,
        "a conversation with something left stays"
    );
    // Again: nothing more to do.
    let again = app::server::retention::purge(&app.state).await.unwrap();
    assert_eq!(again, app::server::retention::Purged::default());

    // Kept forever: nothing goes, however old.
    assert!(app
        .call(&ada, SetInstanceRetention { days: 0 })
        .await
        .is_ok());
    assert!(app.call(&bea, SetOwnRetention { days: 0 }).await.is_ok());
    let later = app::server::retention::purge_at(&app.state, now + 10_000 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(later, app::server::retention::Purged::default());
}

async fn a_large_purge_goes_in_bounded_batches(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = app.buy(&ada, common::numbers_in("212")).await;
    text_in(app, number.e164.as_str(), "+12025550100", "seed", false).await;
    let (conversation, user): (String, String) =
        sqlx::query_as("SELECT id, user_id FROM conversations")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    let old = app::server::now_ms() - 200 * DAY_MS;
    let batch = app::server::retention::BATCH as usize;
    let total = batch * 2 + 17;
    let mut tx = app.state.db.begin().await.unwrap();
    for i in 0..total {
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, user_id, direction, body, status, created_at, updated_at)
             VALUES ($1, $2, $3, 'in', 'old', 'received', $4, $4)",
        )
        .bind(format!("bulk-{i}"))
        .bind(&conversation)
        .bind(&user)
        .bind(old)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let purged = app::server::retention::purge(&app.state).await.unwrap();
    assert_eq!(purged.messages as usize, total);
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM messages").await,
        1,
        "the seed stays"
    );
}

on_both_backends!(
    periods_are_the_instances_or_a_shorter_own_one,
    the_purge_deletes_exactly_what_is_older,
    a_large_purge_goes_in_bounded_batches,
);
