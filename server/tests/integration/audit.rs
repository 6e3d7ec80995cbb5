//! The audit log on both backends: each sensitive operation leaves one entry naming who,
//! what, whose account and from where; users read only what concerns them, admins read
//! all; nothing in the app edits it; entries past twelve months are purged.

use crate::common;

use app::api::accounts::admin::{AuditLog, RevokeInvite, SetUserDisabled, SetUserRole};
use app::api::accounts::settings::{ChangePassword, MyActivity, RevokeOtherSessions};
use app::api::accounts::sign_in::{SignIn, SignOut};
use app::error::AppError;
use app::types::AuditEntry;
use common::TestApp;

async fn mine(app: &TestApp, client: &reqwest::Client) -> Vec<AuditEntry> {
    app.call(client, MyActivity { before: 0 }).await.json()
}

async fn everyone(app: &TestApp, admin: &reqwest::Client) -> Vec<AuditEntry> {
    app.call(admin, AuditLog { before: 0 }).await.json()
}

fn actions(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.action.as_str()).collect()
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> common::Reply {
    app.call(
        &app.browser(),
        SignIn {
            email: email.into(),
            password: password.into(),
        },
    )
    .await
}

async fn sensitive_operations_are_recorded_with_who_and_where(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let bea_id = app.user_id(&ada, "bea@example.com").await;

    // Failed sign-ins: a wrong password (Bea's to see) and an unknown email (admins only).
    assert!(!sign_in(app, "bea@example.com", "not her password")
        .await
        .is_ok());
    assert!(!sign_in(app, "nobody@example.com", "whatever it is")
        .await
        .is_ok());
    let number = app.buy(&bea, common::numbers_in("212")).await;
    let reply = app
        .call(
            &bea,
            app::api::numbers::ReleaseNumber {
                number_id: number.id.to_string(),
                confirm: "release".into(),
            },
        )
        .await;
    assert!(reply.is_ok(), "{reply:?}");
    let change = ChangePassword {
        current_password: common::PASSWORD.into(),
        new_password: "a brand new passphrase".into(),
        confirm_password: "a brand new passphrase".into(),
    };
    assert!(app.call(&bea, change).await.is_ok());
    let role = SetUserRole {
        user_id: bea_id.clone(),
        role: "admin".into(),
    };
    assert!(app.call(&ada, role).await.is_ok());

    let seen = mine(app, &bea).await;
    assert_eq!(
        actions(&seen),
        [
            "Role changed",
            "Password changed",
            "Number released",
            "Number bought",
            "Sign-in failed",
            "Signed in",
            "Invitation accepted",
        ],
        "Bea's own entries, newest first: {seen:?}"
    );
    assert_eq!(seen[0].actor, "ada@example.com");
    assert_eq!(seen[0].subject, "bea@example.com");
    assert_eq!(seen[0].detail, "now admin");
    assert_eq!(seen[4].actor, "someone not signed in");
    assert_eq!(seen[4].detail, "wrong password");
    assert!(
        seen[3].detail.starts_with(number.e164.as_str()),
        "{:?}",
        seen[3]
    );
    assert_eq!(seen[1].ip, "127.0.0.1");
    assert!(!seen[1].device.is_empty());
    assert!(
        !seen.iter().any(|e| e.detail.contains("nobody@example.com")),
        "another email's failures are not Bea's business"
    );

    let all = everyone(app, &ada).await;
    let failures: Vec<&AuditEntry> = all
        .iter()
        .filter(|e| e.action == "Sign-in failed")
        .collect();
    assert_eq!(failures.len(), 2);
    assert!(failures
        .iter()
        .any(|e| e.detail == "no account for nobody@example.com"));
    assert!(actions(&all).contains(&"Invitation created"));
    assert!(actions(&all).contains(&"Signed in"));
}

async fn admin_changes_and_sign_outs_are_recorded(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let bea_id = app.user_id(&ada, "bea@example.com").await;
    let _second_device = app.signed_in("bea@example.com", common::PASSWORD).await;
    let ended: u64 = app.call(&bea, RevokeOtherSessions {}).await.json();
    assert_eq!(ended, 1);
    assert!(app.call(&bea, SignOut {}).await.is_ok());
    let disable = |disabled| SetUserDisabled {
        user_id: bea_id.clone(),
        disabled,
    };
    assert!(app.call(&ada, disable(true)).await.is_ok());
    // A disabled account's correct password is a failure, and says so.
    assert!(!sign_in(app, "bea@example.com", common::PASSWORD)
        .await
        .is_ok());
    assert!(app.call(&ada, disable(false)).await.is_ok());
    let token = app.invite(&ada, "cy@example.com", "user").await;
    let invites: Vec<app::types::InviteInfo> = app
        .call(&ada, app::api::accounts::admin::ListInvites {})
        .await
        .json();
    let cy = invites
        .iter()
        .find(|i| i.email.as_deref() == Some("cy@example.com"))
        .unwrap();
    assert!(!token.is_empty());
    assert!(app
        .call(
            &ada,
            RevokeInvite {
                invite_id: cy.id.clone()
            }
        )
        .await
        .is_ok());

    let all = everyone(app, &ada).await;
    let found = |action: &str| {
        all.iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("no {action} in {all:?}"))
    };
    assert_eq!(found("Account enabled").subject, "bea@example.com");
    assert_eq!(found("Account disabled").actor, "ada@example.com");
    assert_eq!(found("Signed out").actor, "bea@example.com");
    assert_eq!(found("Device signed out").detail, "every other device (1)");
    assert_eq!(found("Invitation revoked").detail, "for cy@example.com");
    assert_eq!(
        found("Invitation created").detail,
        "user for cy@example.com, 7 days"
    );
    assert!(all
        .iter()
        .any(|e| e.action == "Sign-in failed" && e.detail == "the account is disabled"));
}

async fn users_read_only_their_own_entries_and_only_admins_read_all(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let _ = app.buy(&ada, common::numbers_in("212")).await;
    let seen = mine(app, &bea).await;
    assert!(
        seen.iter()
            .all(|e| e.subject == "bea@example.com" || e.actor == "bea@example.com"),
        "{seen:?}"
    );
    assert!(
        !actions(&seen).contains(&"Number bought"),
        "Ada's purchase is not Bea's"
    );
    assert!(matches!(
        app.call(&bea, AuditLog { before: 0 }).await.error(),
        AppError::Forbidden
    ));
    assert!(matches!(
        app.call(&app.browser(), MyActivity { before: 0 })
            .await
            .error(),
        AppError::Unauthorized
    ));
}

async fn the_log_pages_back_and_forgets_after_twelve_months(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let db = app.state.db.pool();
    // 250 entries a minute apart, the oldest 13 months back and the newest within a week.
    let now = app::server::now_ms();
    let minute = 60_000;
    for i in 0..250i64 {
        let at = if i < 50 {
            now - 395 * 24 * 60 * minute - i * minute
        } else {
            now - i * minute
        };
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor_id, subject_id, action, detail, ip, user_agent)
             VALUES ($1, $2, NULL, NULL, 'signed_out', $3, '10.0.0.1', 'test')",
        )
        .bind(format!("old-{i:03}"))
        .bind(at)
        .bind(format!("entry {i}"))
        .execute(db)
        .await
        .unwrap();
    }
    let first = everyone(app, &ada).await;
    assert_eq!(first.len() as i64, app::types::AUDIT_PAGE);
    let older: Vec<AuditEntry> = app
        .call(
            &ada,
            AuditLog {
                before: first.last().unwrap().at,
            },
        )
        .await
        .json();
    assert!(older.iter().all(|e| e.at < first.last().unwrap().at));
    assert!(!older.is_empty());

    let purged = app::server::audit::purge_old(&app.state.db).await.unwrap();
    assert_eq!(purged, 50, "exactly the entries past twelve months");
    let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE id LIKE 'old-%'")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(left, 200);
}

async fn what_anyone_can_type_is_kept_short(app: &TestApp) {
    // A failed sign-in writes what a stranger typed (the email) and sent (the user agent):
    // megabytes of either must not become megabytes in the log.
    let long_agent = format!("Mozilla/5.0 {}", "x".repeat(5_000));
    let stranger = app.browser_with(&long_agent, Some(&app.base));
    let long_email = format!("{}@example.com", "a".repeat(5_000));
    let reply = app
        .call(
            &stranger,
            SignIn {
                email: long_email,
                password: "whatever it is".into(),
            },
        )
        .await;
    assert!(!reply.is_ok());
    let (detail, user_agent): (String, String) =
        sqlx::query_as("SELECT detail, user_agent FROM audit_log WHERE action = 'sign_in_failed'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert!(detail.starts_with("no account for aaaa"), "{detail}");
    assert_eq!(detail.chars().count(), 200);
    assert_eq!(user_agent.chars().count(), 400);
}

on_both_backends!(
    what_anyone_can_type_is_kept_short,
    sensitive_operations_are_recorded_with_who_and_where,
    admin_changes_and_sign_outs_are_recorded,
    users_read_only_their_own_entries_and_only_admins_read_all,
);

// Housekeeping, which purges the old entries this scenario makes, runs as the background
// work starts: it took some of them while they were written (49 purged of 50, once the
// test's sign-up got fast enough to overlap it). Here the scenario purges them itself.
paused_on_both_backends!(the_log_pages_back_and_forgets_after_twelve_months);
