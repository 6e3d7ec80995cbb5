//! Deleting an account on both backends: closed at once (sessions and devices end),
//! restored whole by signing in or by an admin within the grace period, and after it
//! erased: no table holds the account's id (but the audit log's anonymous tombstone),
//! email, numbers or the people it texted, and none of its files is left in the media
//! folder — checked by listing every table and every file.

use crate::common;

use app::api::accounts::admin::SetUserDeletion;
use app::api::accounts::settings::DeleteMyAccount;
use app::error::AppError;
use app::types::UserInfo;
use common::TestApp;
use sqlx::{Column, Row};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Bea with one of everything: a number, texts in and out (one with a picture), a
/// contact, a canned reply, two-factor secret pending, an export link, a session.
async fn bea_with_data(app: &TestApp, ada: &reqwest::Client) -> (reqwest::Client, String) {
    let bea = app.invited_user(ada, "bea@example.com", "user").await;
    let number = app.buy(&bea, common::numbers_in("415")).await;
    app::server::simulator::inbound(
        &app.state,
        "+12025550177",
        number.e164.as_str(),
        "hello Bea".into(),
        true,
    )
    .await
    .unwrap();
    let send = app::api::messaging::SendMessage {
        number_id: number.id.to_string(),
        to: "+12025550177".into(),
        body: "hi from Bea".into(),
        media: vec![],
    };
    assert!(app.call(&bea, send).await.is_ok());
    assert!(app
        .call(
            &bea,
            crate::contacts::contact("Grace Hopper", &["+12025550177"])
        )
        .await
        .is_ok());
    let canned = app::api::messaging::SaveCannedReply {
        id: String::new(),
        shortcut: "thanks".into(),
        body: "Thank you!".into(),
    };
    assert!(app.call(&bea, canned).await.is_ok());
    assert!(app
        .call(&bea, app::api::accounts::settings::StartTwoFactor {})
        .await
        .is_ok());
    assert!(app
        .call(&bea, app::api::accounts::settings::CreateExport {})
        .await
        .is_ok());
    app.media_stored(1).await;
    // A linked Google account, a voicemail greeting and her presence (each made by its own
    // feature's tests; here only as rows that must go with her).
    let greeting = app::api::calls::SetGreeting {
        number_id: number.id.to_string(),
        text: "Bea's greeting".into(),
    };
    assert!(app.call(&bea, greeting).await.is_ok());
    for sql in [
        "INSERT INTO google_links (issuer, subject, user_id, email, linked_at)
         SELECT 'https://accounts.google.com', 'bea-subject', id, 'bea.google@example.org', 1 FROM users WHERE email = 'bea@example.com'",
        "INSERT INTO presence (user_id, seen_at) SELECT id, 1 FROM users WHERE email = 'bea@example.com'",
    ] {
        sqlx::query(sql).execute(app.state.db.pool()).await.unwrap();
    }
    (bea, number.e164.to_string())
}

/// Every table's name.
async fn tables(app: &TestApp) -> Vec<String> {
    let sql = match app.state.db.backend() {
        app::server::Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        app::server::Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
    };
    sqlx::query_as::<_, (String,)>(sql)
        .fetch_all(app.state.db.pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(t,)| t)
        .collect()
}

/// Every text cell of every table, as (table, column, value).
async fn every_text_cell(app: &TestApp) -> Vec<(String, String, String)> {
    let mut cells = Vec::new();
    for table in tables(app).await {
        if table == "_sqlx_migrations" {
            continue;
        }
        let rows = sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(app.state.db.pool())
            .await
            .unwrap();
        for row in rows {
            for (i, column) in row.columns().iter().enumerate() {
                if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                    cells.push((table.clone(), column.name().to_string(), text));
                }
            }
        }
    }
    cells
}

async fn count_rows(app: &TestApp) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    for table in tables(app).await {
        // (Activity that comes and goes by itself: job queue, delivery events, limits.)
        if matches!(
            table.as_str(),
            "audit_log" | "_sqlx_migrations" | "rate_limit_hits" | "jobs" | "webhook_events"
        ) {
            continue;
        }
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
        counts.push((table, n));
    }
    counts.sort();
    counts
}

async fn after_the_grace_period_nothing_of_the_account_remains(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let (bea, number) = bea_with_data(app, &ada).await;
    let bea_id = app.user_id(&ada, "bea@example.com").await;
    // A passkey too (it turns two-factor sign-in on, which the cancel test's password
    // sign-in would then stop at).
    sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, name, passkey, created_at)
         VALUES ('bea-key', $1, 'bea-credential', 'Bea''s phone', '{}', 1)",
    )
    .bind(&bea_id)
    .execute(app.state.db.pool())
    .await
    .unwrap();
    let files_before: Vec<_> = std::fs::read_dir(&app.state.settings.media_dir)
        .unwrap()
        .map(|f| f.unwrap().file_name())
        .collect();
    assert_eq!(files_before.len(), 1);

    // The scan sees Bea's data while it is there (so its silence afterwards means gone).
    let cells = every_text_cell(app).await;
    for trace in [
        "bea@example.com",
        "hello Bea",
        "Grace Hopper",
        "Thank you!",
        "Bea's phone",
        "bea.google@example.org",
        "Bea's greeting",
    ] {
        assert!(
            cells.iter().any(|(_, _, v)| v.contains(trace)),
            "{trace} not found before"
        );
    }
    assert!(cells
        .iter()
        .any(|(t, _, v)| t == "messages" && v.contains(&bea_id)));
    invalid_password(app, &bea).await;
    let erase_at: i64 = app
        .call(
            &bea,
            DeleteMyAccount {
                password: common::PASSWORD.into(),
            },
        )
        .await
        .json();
    assert!(erase_at > app::server::now_ms() + 29 * DAY_MS);
    // Closed at once: the session is gone.
    let me: Option<app::types::CurrentUser> = app
        .call(&bea, app::api::accounts::sign_in::SignedInUser {})
        .await
        .json();
    assert!(me.is_none());
    // Not yet due: nothing is erased.
    assert_eq!(
        app::server::accounts::deletion::erase_due(&app.state)
            .await
            .unwrap(),
        0
    );

    let erased = app::server::accounts::deletion::erase_due_at(&app.state, erase_at + 1)
        .await
        .unwrap();
    assert_eq!(erased, 1);
    for (table, column, value) in every_text_cell(app).await {
        let tombstone = table == "audit_log" && (column == "actor_id" || column == "subject_id");
        if value.contains(&bea_id) && !tombstone {
            panic!("{table}.{column} still holds Bea's id: {value}");
        }
        for trace in [
            "bea@example.com",
            number.as_str(),
            "+12025550177",
            "hello Bea",
            "hi from Bea",
            "Grace Hopper",
            "Thank you!",
            "Bea's phone",
            "bea.google@example.org",
            "Bea's greeting",
        ] {
            assert!(
                !value.contains(trace),
                "{table}.{column} still holds {trace}: {value}"
            );
        }
    }
    let files_after = std::fs::read_dir(&app.state.settings.media_dir)
        .unwrap()
        .count();
    assert_eq!(files_after, 0, "Bea's picture file is gone");
    // Ada sees a tombstone: the entries remain, naming nobody.
    let log: Vec<app::types::AuditEntry> = app
        .call(&ada, app::api::accounts::admin::AuditLog { before: 0 })
        .await
        .json();
    assert_eq!(log[0].action, "Account erased");
    assert_eq!(log[0].subject, "a deleted account");
    // Bea can't sign in: there is no account.
    let again = app
        .call(
            &app.browser(),
            app::api::accounts::sign_in::SignIn {
                email: "bea@example.com".into(),
                password: common::PASSWORD.into(),
            },
        )
        .await;
    assert!(!again.is_ok());
}

async fn invalid_password(app: &TestApp, bea: &reqwest::Client) {
    let wrong = app
        .call(
            bea,
            DeleteMyAccount {
                password: "not it".into(),
            },
        )
        .await;
    assert!(matches!(wrong.error(), AppError::Invalid(ref m) if m.contains("password")));
}

async fn signing_in_or_an_admin_cancels_and_everything_is_back(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let (bea, _) = bea_with_data(app, &ada).await;
    let bea_id = app.user_id(&ada, "bea@example.com").await;
    let _ = bea;
    let before = count_rows(app).await;
    let erase_at: i64 = app
        .call(
            &app.signed_in("bea@example.com", common::PASSWORD).await,
            DeleteMyAccount {
                password: common::PASSWORD.into(),
            },
        )
        .await
        .json();
    // Signing in within the period cancels.
    let back = app.signed_in("bea@example.com", common::PASSWORD).await;
    let users: Vec<UserInfo> = app
        .call(&ada, app::api::accounts::admin::ListUsers {})
        .await
        .json();
    assert_eq!(
        users.iter().find(|u| u.id == bea_id).unwrap().erase_at,
        None
    );
    assert_eq!(
        app::server::accounts::deletion::erase_due_at(&app.state, erase_at + 1)
            .await
            .unwrap(),
        0
    );

    // An admin deletes, then cancels.
    let delete = |delete| SetUserDeletion {
        user_id: bea_id.clone(),
        delete,
    };
    assert!(app.call(&ada, delete(true)).await.is_ok());
    let users: Vec<UserInfo> = app
        .call(&ada, app::api::accounts::admin::ListUsers {})
        .await
        .json();
    assert!(users
        .iter()
        .find(|u| u.id == bea_id)
        .unwrap()
        .erase_at
        .is_some());
    assert!(matches!(
        app.call(&ada, delete(true)).await.error(),
        AppError::Invalid(_)
    ));
    assert!(app.call(&ada, delete(false)).await.is_ok());
    assert_eq!(
        app::server::accounts::deletion::erase_due_at(&app.state, erase_at + DAY_MS)
            .await
            .unwrap(),
        0
    );
    // Everything as it was (sessions aside: deleting signed Bea out).
    let after: Vec<(String, i64)> = count_rows(app).await;
    let without_sessions = |counts: &[(String, i64)]| -> Vec<(String, i64)> {
        counts
            .iter()
            .filter(|(t, _)| t != "sessions" && t != "push_subscriptions" && t != "events")
            .cloned()
            .collect()
    };
    assert_eq!(without_sessions(&after), without_sessions(&before));
    let _ = back;

    // Only admins delete others; the last admin can't be deleted; a foreign id is not found.
    assert!(matches!(
        app.call(
            &app.signed_in("bea@example.com", common::PASSWORD).await,
            delete(true)
        )
        .await
        .error(),
        AppError::Forbidden
    ));
    let ada_id = app.user_id(&ada, "ada@example.com").await;
    let last = app
        .call(
            &ada,
            SetUserDeletion {
                user_id: ada_id,
                delete: true,
            },
        )
        .await;
    assert!(matches!(last.error(), AppError::Invalid(ref m) if m.contains("last active admin")));
    let nobody = app
        .call(
            &ada,
            SetUserDeletion {
                user_id: "nobody".into(),
                delete: true,
            },
        )
        .await;
    assert!(matches!(nobody.error(), AppError::NotFound(_)));
}

on_both_backends!(
    after_the_grace_period_nothing_of_the_account_remains,
    signing_in_or_an_admin_cancels_and_everything_is_back,
);
