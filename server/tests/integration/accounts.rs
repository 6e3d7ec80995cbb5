//! Accounts, sessions, invitations, throttling and CSRF, against the real router on both
//! backends. Every rule has its negative case here.

use crate::common;

use app::error::AppError;
use app::types::{
    CurrentUser, InviteInfo, InviteLookup, InviteStatus, Role, SessionInfo, SetupLookup, UserInfo,
};
use common::{path, TestApp, PASSWORD, UA};

async fn me(app: &TestApp, client: &reqwest::Client) -> Option<CurrentUser> {
    app.call(client, app::api::accounts::sign_in::SignedInUser {})
        .await
        .json()
}

async fn setup_link_creates_the_first_admin_once(app: &TestApp) {
    let link = app::server::accounts::setup::issue_link_if_needed(&app.state.db, &app.base)
        .await
        .unwrap()
        .unwrap();
    let token = link.rsplit('/').next().unwrap();
    let anon = app.browser();
    let found: SetupLookup = app
        .call(
            &anon,
            app::api::accounts::sign_in::CheckSetup {
                token: token.to_string(),
            },
        )
        .await
        .json();
    assert_eq!(found, SetupLookup::Valid);

    // Bad input leaves nothing behind: the token stays usable.
    let short = app
        .call(
            &anon,
            app::api::accounts::sign_in::CompleteSetup {
                token: token.to_string(),
                email: "ada@example.com".into(),
                display_name: "Ada".into(),
                password: "short".into(),
            },
        )
        .await;
    assert!(matches!(short.error(), AppError::Invalid(m) if m.contains("at least")));

    let client = app.browser();
    let done = app
        .call(
            &client,
            app::api::accounts::sign_in::CompleteSetup {
                token: token.to_string(),
                email: "Ada@Example.com".into(),
                display_name: "Ada".into(),
                password: PASSWORD.to_string(),
            },
        )
        .await;
    assert!(done.is_ok(), "{done:?}");
    assert_eq!(done.location(), Some("/inbox"));
    let cookie = done.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.starts_with("sb_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let user = me(app, &client).await.unwrap();
    assert_eq!(
        (user.email.as_str(), user.role),
        ("ada@example.com", Role::Admin)
    );

    // Single use, and void once an admin exists.
    let again = app
        .call(
            &anon,
            app::api::accounts::sign_in::CompleteSetup {
                token: token.to_string(),
                email: "eve@example.com".into(),
                display_name: "Eve".into(),
                password: PASSWORD.to_string(),
            },
        )
        .await;
    assert!(matches!(again.error(), AppError::Invalid(_)));
    let found: SetupLookup = app
        .call(
            &anon,
            app::api::accounts::sign_in::CheckSetup {
                token: token.to_string(),
            },
        )
        .await
        .json();
    assert_eq!(found, SetupLookup::AdminExists);
    assert!(
        app::server::accounts::setup::issue_link_if_needed(&app.state.db, &app.base)
            .await
            .unwrap()
            .is_none()
    );
}

async fn expired_and_unknown_setup_links_are_refused(app: &TestApp) {
    let link = app::server::accounts::setup::issue_link_if_needed(&app.state.db, &app.base)
        .await
        .unwrap()
        .unwrap();
    let token = link.rsplit('/').next().unwrap();
    sqlx::query("UPDATE setup_tokens SET expires_at = 1")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let anon = app.browser();
    let found: SetupLookup = app
        .call(
            &anon,
            app::api::accounts::sign_in::CheckSetup {
                token: token.to_string(),
            },
        )
        .await
        .json();
    assert_eq!(found, SetupLookup::Expired);
    assert!(
        matches!(app.call(&anon, app::api::accounts::sign_in::CompleteSetup { token: token.to_string(), email: "ada@example.com".into(), display_name: "Ada".into(), password: PASSWORD.to_string() }).await.error(), AppError::Invalid(m) if m.contains("expired"))
    );
    let found: SetupLookup = app
        .call(
            &anon,
            app::api::accounts::sign_in::CheckSetup {
                token: "nope".into(),
            },
        )
        .await
        .json();
    assert_eq!(found, SetupLookup::Unknown);
    let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(users, 0);
}

/// A hash stored at another cost (an older default, or a test run's cheap one) is made again
/// at today's cost by the next sign-in that proves the password, and only by one that does.
async fn an_outdated_password_hash_is_renewed_at_sign_in(app: &TestApp) {
    use argon2::password_hash::{PasswordHasher, SaltString};
    app.admin("ada@example.com").await;
    let params = argon2::Params::new(16, 1, 1, None).unwrap();
    let older = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(
            PASSWORD.as_bytes(),
            &SaltString::generate(&mut rand::rngs::OsRng),
        )
        .unwrap()
        .to_string();
    let stored = async || {
        let (hash,): (String,) =
            sqlx::query_as("SELECT password_hash FROM users WHERE email = 'ada@example.com'")
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        hash
    };
    sqlx::query("UPDATE users SET password_hash = $1")
        .bind(&older)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    assert!(app::server::crypto::is_outdated(&older));
    let sign_in = async |password: &str| {
        let browser = app.browser();
        app.call(
            &browser,
            app::api::accounts::sign_in::SignIn {
                email: "ada@example.com".into(),
                password: password.into(),
            },
        )
        .await
    };
    assert_eq!(sign_in("not the password").await.status, 400);
    assert_eq!(stored().await, older, "a wrong password changes nothing");
    assert!(
        sign_in(PASSWORD).await.is_ok(),
        "the older hash still verifies"
    );
    let renewed = stored().await;
    assert_ne!(renewed, older);
    assert!(!app::server::crypto::is_outdated(&renewed), "{renewed}");
    assert!(sign_in(PASSWORD).await.is_ok(), "and so does the new one");
    assert_eq!(stored().await, renewed, "a current hash is kept");
}

async fn wrong_password_and_unknown_email_look_the_same(app: &TestApp) {
    app.admin("ada@example.com").await;
    let anon = app.browser();
    let wrong = app
        .call(
            &anon,
            app::api::accounts::sign_in::SignIn {
                email: "ada@example.com".into(),
                password: "not the password".into(),
            },
        )
        .await;
    assert_eq!(
        wrong.status, 400,
        "a wrong password is the client's error, not the server's"
    );
    let wrong = wrong.error();
    let unknown = app
        .call(
            &anon,
            app::api::accounts::sign_in::SignIn {
                email: "nobody@example.com".into(),
                password: "not the password".into(),
            },
        )
        .await
        .error();
    assert_eq!(
        wrong,
        AppError::Invalid("Email or password is incorrect.".into())
    );
    assert_eq!(wrong, unknown);
    assert!(me(app, &anon).await.is_none());
    // Missing fields: a clear message, not a crash.
    let missing = app
        .call_form::<app::api::accounts::sign_in::SignIn>(&anon, &[("email", "ada@example.com")])
        .await
        .error();
    assert!(matches!(missing, AppError::Invalid(_)), "{missing:?}");
}

async fn sign_in_is_throttled_per_account(app: &TestApp) {
    app.admin("ada@example.com").await;
    let anon = app.browser();
    for _ in 0..app::server::throttle::PER_ACCOUNT {
        app.call(
            &anon,
            app::api::accounts::sign_in::SignIn {
                email: "ada@example.com".into(),
                password: "wrong password!".into(),
            },
        )
        .await;
    }
    // Even the right password is refused while paused, and the message says for how long.
    let paused = app
        .call(
            &anon,
            app::api::accounts::sign_in::SignIn {
                email: "ada@example.com".into(),
                password: PASSWORD.to_string(),
            },
        )
        .await;
    assert_eq!(paused.status, 429);
    let paused = paused.error();
    assert!(
        matches!(&paused, AppError::Throttled(m) if m.contains("Wait 15 seconds")),
        "{paused:?}"
    );
    // Unknown emails are paused the same way (no enumeration through the throttle).
    for _ in 0..app::server::throttle::PER_ACCOUNT {
        app.call(
            &anon,
            app::api::accounts::sign_in::SignIn {
                email: "ghost@example.com".into(),
                password: "wrong password!".into(),
            },
        )
        .await;
    }
    let ghost = app
        .call(
            &anon,
            app::api::accounts::sign_in::SignIn {
                email: "ghost@example.com".into(),
                password: "wrong password!".into(),
            },
        )
        .await
        .error();
    assert!(matches!(ghost, AppError::Throttled(_)));
    // Once the window has passed, the right password works again.
    sqlx::query("UPDATE sign_in_failures SET at = at - $1")
        .bind(app::server::throttle::WINDOW_MS)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    assert!(app
        .call(
            &anon,
            app::api::accounts::sign_in::SignIn {
                email: "ada@example.com".into(),
                password: PASSWORD.to_string()
            }
        )
        .await
        .is_ok());
}

async fn sign_in_is_throttled_per_ip(app: &TestApp) {
    app.admin("ada@example.com").await;
    let anon = app.browser();
    for i in 0..app::server::throttle::PER_IP {
        let email = format!("user{i}@example.com");
        app.call(
            &anon,
            app::api::accounts::sign_in::SignIn {
                email: email.to_string(),
                password: "wrong password!".into(),
            },
        )
        .await;
    }
    let paused = app
        .call(
            &anon,
            app::api::accounts::sign_in::SignIn {
                email: "ada@example.com".into(),
                password: PASSWORD.to_string(),
            },
        )
        .await
        .error();
    assert!(matches!(paused, AppError::Throttled(_)), "{paused:?}");
}

async fn session_is_bound_to_its_user_agent(app: &TestApp) {
    let admin = app.admin("ada@example.com").await;
    assert!(me(app, &admin).await.is_some());
    // Replay the same cookie from another browser.
    let reply = app
        .call(&admin, app::api::accounts::settings::ListSessions {})
        .await;
    assert!(reply.is_ok());
    let (token_hash,): (String,) = sqlx::query_as("SELECT token_hash FROM sessions")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(
        token_hash.len(),
        64,
        "only a SHA-256 of the token is stored"
    );
    let cookie = {
        // The cookie jar is private to reqwest; sign in again with a raw client to see the token.
        let raw = app.browser_with(UA, Some(&app.base));
        let res = raw
            .post(format!("{}/api/sign_in", app.base))
            .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        res.headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let thief = app.browser_with("curl/8.0", Some(&app.base));
    let stolen = thief
        .post(format!("{}/api/signed_in_user", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let user: Option<CurrentUser> = serde_json::from_str(&stolen.text().await.unwrap()).unwrap();
    assert!(
        user.is_none(),
        "a session cookie must not work from another user agent"
    );
    let same = app.browser_with(UA, Some(&app.base));
    let owner = same
        .post(format!("{}/api/signed_in_user", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let user: Option<CurrentUser> = serde_json::from_str(&owner.text().await.unwrap()).unwrap();
    assert!(user.is_some());
}

async fn state_changes_need_a_same_origin_request(app: &TestApp) {
    app.admin("ada@example.com").await;
    let form = [("email", "ada@example.com"), ("password", PASSWORD)];
    let url = format!("{}/api/sign_in", app.base);
    // Neither Origin nor Sec-Fetch-Site.
    let bare = app.browser_with(UA, None);
    assert_eq!(
        bare.post(&url).form(&form).send().await.unwrap().status(),
        403
    );
    // Another site's Origin.
    let evil = app.browser_with(UA, Some("https://evil.example"));
    assert_eq!(
        evil.post(&url).form(&form).send().await.unwrap().status(),
        403
    );
    // A cross-site fetch, per the browser.
    let res = bare
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Same-origin, per either header, is let through.
    let res = bare
        .post(&url)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert!(app
        .call_form::<app::api::accounts::sign_in::SignIn>(&app.browser(), &form)
        .await
        .is_ok());
}

async fn invitations_open_once(app: &TestApp) {
    let admin = app.admin("ada@example.com").await;
    let token = app.invite(&admin, "", "user").await;
    let anon = app.browser();
    let found: InviteLookup = app
        .call(
            &anon,
            app::api::accounts::sign_in::CheckInvite {
                token: token.to_string(),
            },
        )
        .await
        .json();
    assert_eq!(
        found,
        InviteLookup::Valid {
            email: None,
            role: Role::User
        }
    );

    let bea = app.browser();
    let accepted = app
        .call(
            &bea,
            app::api::accounts::sign_in::AcceptInvite {
                token: token.as_str().to_string(),
                email: "bea@example.com".into(),
                display_name: "Bea".into(),
                password: PASSWORD.to_string(),
            },
        )
        .await;
    assert!(accepted.is_ok(), "{accepted:?}");
    let user = me(app, &bea).await.unwrap();
    assert_eq!(
        (user.email.as_str(), user.role),
        ("bea@example.com", Role::User)
    );

    // Reused.
    assert!(
        matches!(app.call(&anon, app::api::accounts::sign_in::AcceptInvite { token: token.as_str().to_string(), email: "eve@example.com".into(), display_name: "Eve".into(), password: PASSWORD.to_string() }).await.error(), AppError::Invalid(m) if m.contains("already been used"))
    );
    let found: InviteLookup = app
        .call(
            &anon,
            app::api::accounts::sign_in::CheckInvite {
                token: token.to_string(),
            },
        )
        .await
        .json();
    assert_eq!(found, InviteLookup::Accepted);

    // Tampered or unknown.
    let tampered = format!("{}x", token);
    let found: InviteLookup = app
        .call(
            &anon,
            app::api::accounts::sign_in::CheckInvite {
                token: tampered.to_string(),
            },
        )
        .await
        .json();
    assert_eq!(found, InviteLookup::Unknown);
    assert!(matches!(
        app.call(
            &anon,
            app::api::accounts::sign_in::AcceptInvite {
                token: "garbage".into(),
                email: "eve@example.com".into(),
                display_name: "Eve".into(),
                password: PASSWORD.to_string()
            }
        )
        .await
        .error(),
        AppError::NotFound(_)
    ));

    // The admin sees it accepted, by whom, with no link left to copy.
    let list: Vec<InviteInfo> = app
        .call(&admin, app::api::accounts::admin::ListInvites {})
        .await
        .json();
    assert_eq!(list[0].status, InviteStatus::Accepted);
    assert_eq!(list[0].accepted_by.as_deref(), Some("bea@example.com"));
    assert!(list[0].link.is_none());
}

async fn revoked_and_expired_invitations_are_refused(app: &TestApp) {
    let admin = app.admin("ada@example.com").await;
    let anon = app.browser();
    let revoked = app.invite(&admin, "", "user").await;
    let list: Vec<InviteInfo> = app
        .call(&admin, app::api::accounts::admin::ListInvites {})
        .await
        .json();
    assert!(app
        .call(
            &admin,
            app::api::accounts::admin::RevokeInvite {
                invite_id: list[0].id.to_string()
            }
        )
        .await
        .is_ok());
    let found: InviteLookup = app
        .call(
            &anon,
            app::api::accounts::sign_in::CheckInvite {
                token: revoked.to_string(),
            },
        )
        .await
        .json();
    assert_eq!(found, InviteLookup::Revoked);
    assert!(
        matches!(app.call(&anon, app::api::accounts::sign_in::AcceptInvite { token: revoked.as_str().to_string(), email: "eve@example.com".into(), display_name: "Eve".into(), password: PASSWORD.to_string() }).await.error(), AppError::Invalid(m) if m.contains("revoked"))
    );

    let expired = app.invite(&admin, "", "user").await;
    sqlx::query("UPDATE invitations SET expires_at = 1 WHERE revoked_at IS NULL")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let found: InviteLookup = app
        .call(
            &anon,
            app::api::accounts::sign_in::CheckInvite {
                token: expired.to_string(),
            },
        )
        .await
        .json();
    assert_eq!(found, InviteLookup::Expired);
    assert!(
        matches!(app.call(&anon, app::api::accounts::sign_in::AcceptInvite { token: expired.as_str().to_string(), email: "eve@example.com".into(), display_name: "Eve".into(), password: PASSWORD.to_string() }).await.error(), AppError::Invalid(m) if m.contains("expired"))
    );
    let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(users, 1, "refused invitations create no account");

    let statuses: Vec<InviteStatus> = app
        .call(&admin, app::api::accounts::admin::ListInvites {})
        .await
        .json::<Vec<InviteInfo>>()
        .iter()
        .map(|i| i.status)
        .collect();
    assert_eq!(statuses, vec![InviteStatus::Expired, InviteStatus::Revoked]);
}

async fn an_addressed_invitation_fixes_the_email_and_role(app: &TestApp) {
    let admin = app.admin("ada@example.com").await;
    let token = app.invite(&admin, "Cid@Example.com", "admin").await;
    let cid = app.browser();
    assert!(app
        .call(
            &cid,
            app::api::accounts::sign_in::AcceptInvite {
                token: token.as_str().to_string(),
                email: "other@example.com".into(),
                display_name: "Cid".into(),
                password: PASSWORD.to_string()
            }
        )
        .await
        .is_ok());
    let user = me(app, &cid).await.unwrap();
    assert_eq!(
        (user.email.as_str(), user.role),
        ("cid@example.com", Role::Admin)
    );
    // Invitation input is validated.
    let bad = app
        .call(
            &admin,
            app::api::accounts::admin::CreateInvite {
                email: "not-an-email".into(),
                role: "user".into(),
                expires_in_days: 7,
            },
        )
        .await;
    assert!(matches!(bad.error(), AppError::Invalid(_)));
    let bad = app
        .call(
            &admin,
            app::api::accounts::admin::CreateInvite {
                email: "".into(),
                role: "user".into(),
                expires_in_days: 0,
            },
        )
        .await;
    assert!(matches!(bad.error(), AppError::Invalid(m) if m.contains("between 1 and 90")));
    let bad = app
        .call(
            &admin,
            app::api::accounts::admin::CreateInvite {
                email: "".into(),
                role: "root".into(),
                expires_in_days: 7,
            },
        )
        .await;
    assert!(matches!(bad.error(), AppError::Invalid(_)));
}

async fn only_admins_reach_admin_functions(app: &TestApp) {
    let admin = app.admin("ada@example.com").await;
    let bea = app.invited_user(&admin, "bea@example.com", "user").await;
    let anon = app.browser();
    for (name, form) in [
        (
            path::<app::api::accounts::admin::CreateInvite>(),
            vec![("email", ""), ("role", "admin"), ("expires_in_days", "7")],
        ),
        (path::<app::api::accounts::admin::ListInvites>(), vec![]),
        (
            path::<app::api::accounts::admin::RevokeInvite>(),
            vec![("invite_id", "x")],
        ),
        (path::<app::api::accounts::admin::ListUsers>(), vec![]),
        (
            path::<app::api::accounts::admin::SetUserRole>(),
            vec![("user_id", "x"), ("role", "admin")],
        ),
        (
            path::<app::api::accounts::admin::SetUserDisabled>(),
            vec![("user_id", "x"), ("disabled", "true")],
        ),
    ] {
        let as_user = app.call_path(&bea, name, &form).await;
        assert_eq!(
            (as_user.status.as_u16(), as_user.error()),
            (403, AppError::Forbidden),
            "{name} as a user"
        );
        let signed_out = app.call_path(&anon, name, &form).await;
        assert_eq!(
            (signed_out.status.as_u16(), signed_out.error()),
            (401, AppError::Unauthorized),
            "{name} signed out"
        );
    }
    for name in [
        path::<app::api::accounts::settings::ListSessions>(),
        path::<app::api::accounts::settings::RevokeOtherSessions>(),
    ] {
        assert_eq!(
            app.call_path(&anon, name, &[]).await.error(),
            AppError::Unauthorized,
            "{name} signed out"
        );
    }
}

async fn disabling_a_user_ends_their_sessions(app: &TestApp) {
    let admin = app.admin("ada@example.com").await;
    let bea = app.invited_user(&admin, "bea@example.com", "user").await;
    let users: Vec<UserInfo> = app
        .call(&admin, app::api::accounts::admin::ListUsers {})
        .await
        .json();
    let bea_id = users
        .iter()
        .find(|u| u.email == "bea@example.com")
        .unwrap()
        .id
        .clone();
    assert!(app
        .call(
            &admin,
            app::api::accounts::admin::SetUserDisabled {
                user_id: bea_id.to_string(),
                disabled: true
            }
        )
        .await
        .is_ok());
    assert!(
        me(app, &bea).await.is_none(),
        "disabled user's session ends at once"
    );
    let again = app
        .call(
            &app.browser(),
            app::api::accounts::sign_in::SignIn {
                email: "bea@example.com".into(),
                password: PASSWORD.to_string(),
            },
        )
        .await
        .error();
    assert!(matches!(again, AppError::Invalid(m) if m.contains("disabled")));
    assert!(app
        .call(
            &admin,
            app::api::accounts::admin::SetUserDisabled {
                user_id: bea_id.to_string(),
                disabled: false
            }
        )
        .await
        .is_ok());
    app.signed_in("bea@example.com", PASSWORD).await;
    let missing = app
        .call(
            &admin,
            app::api::accounts::admin::SetUserDisabled {
                user_id: "nobody".into(),
                disabled: true,
            },
        )
        .await
        .error();
    assert!(matches!(missing, AppError::NotFound(_)));
}

async fn the_last_admin_stays_an_admin(app: &TestApp) {
    let admin = app.admin("ada@example.com").await;
    let ada_id = me(app, &admin).await.unwrap().id;
    for (name, form) in [
        (
            path::<app::api::accounts::admin::SetUserRole>(),
            [("user_id", ada_id.as_str()), ("role", "user")],
        ),
        (
            path::<app::api::accounts::admin::SetUserDisabled>(),
            [("user_id", ada_id.as_str()), ("disabled", "true")],
        ),
    ] {
        let refused = app.call_path(&admin, name, &form).await.error();
        assert!(
            matches!(refused, AppError::Invalid(m) if m.contains("last active admin")),
            "{name}"
        );
    }
    app.invited_user(&admin, "bea@example.com", "admin").await;
    assert!(app
        .call(
            &admin,
            app::api::accounts::admin::SetUserRole {
                user_id: ada_id.to_string(),
                role: "user".into()
            }
        )
        .await
        .is_ok());
    assert_eq!(me(app, &admin).await.unwrap().role, Role::User);
}

async fn sessions_can_be_listed_and_revoked(app: &TestApp) {
    app.admin("ada@example.com").await;
    let laptop = app.signed_in("ada@example.com", PASSWORD).await;
    let phone = app.signed_in("ada@example.com", PASSWORD).await;
    let sessions: Vec<SessionInfo> = app
        .call(&laptop, app::api::accounts::settings::ListSessions {})
        .await
        .json();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s.current).count(), 1);
    assert_eq!(sessions[0].ip, "127.0.0.1");
    assert!(
        sessions[0].device.contains("Chrome"),
        "{:?}",
        sessions[0].device
    );

    // Revoke the phone's session from the laptop.
    let phone_sessions: Vec<SessionInfo> = app
        .call(&phone, app::api::accounts::settings::ListSessions {})
        .await
        .json();
    let phone_id = phone_sessions
        .iter()
        .find(|s| s.current)
        .unwrap()
        .id
        .clone();
    assert!(app
        .call(
            &laptop,
            app::api::accounts::settings::RevokeSession {
                session_id: phone_id.to_string()
            }
        )
        .await
        .is_ok());
    assert!(me(app, &phone).await.is_none());

    // Someone else's session id is "not found".
    let admin = app.signed_in("ada@example.com", PASSWORD).await;
    let bea = app.invited_user(&admin, "bea@example.com", "user").await;
    let laptop_id = sessions.iter().find(|s| s.current).unwrap().id.clone();
    let foreign = app
        .call(
            &bea,
            app::api::accounts::settings::RevokeSession {
                session_id: laptop_id.to_string(),
            },
        )
        .await
        .error();
    assert!(matches!(foreign, AppError::NotFound(_)));
    assert!(me(app, &laptop).await.is_some());

    // Sign out everywhere else.
    let ended: u64 = app
        .call(
            &laptop,
            app::api::accounts::settings::RevokeOtherSessions {},
        )
        .await
        .json();
    assert_eq!(ended, 2);
    assert!(me(app, &admin).await.is_none());
    assert!(me(app, &laptop).await.is_some());
}

async fn password_change_signs_out_other_sessions(app: &TestApp) {
    let here = app.admin("ada@example.com").await;
    let elsewhere = app.signed_in("ada@example.com", PASSWORD).await;
    let new = "a brand new passphrase";
    let wrong = app
        .call(
            &here,
            app::api::accounts::settings::ChangePassword {
                current_password: "nope nope nope".into(),
                new_password: new.to_string(),
                confirm_password: new.to_string(),
            },
        )
        .await
        .error();
    assert!(matches!(wrong, AppError::Invalid(m) if m.contains("current password")));
    let mismatch = app
        .call(
            &here,
            app::api::accounts::settings::ChangePassword {
                current_password: PASSWORD.to_string(),
                new_password: new.to_string(),
                confirm_password: "other".into(),
            },
        )
        .await
        .error();
    assert!(matches!(mismatch, AppError::Invalid(m) if m.contains("match")));
    assert!(
        me(app, &elsewhere).await.is_some(),
        "failed changes end nothing"
    );
    let ok = app
        .call(
            &here,
            app::api::accounts::settings::ChangePassword {
                current_password: PASSWORD.to_string(),
                new_password: new.to_string(),
                confirm_password: new.to_string(),
            },
        )
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    assert!(me(app, &here).await.is_some());
    assert!(me(app, &elsewhere).await.is_none());
    app.signed_in("ada@example.com", new).await;
}

async fn sign_out_ends_the_session(app: &TestApp) {
    let admin = app.admin("ada@example.com").await;
    let out = app
        .call(&admin, app::api::accounts::sign_in::SignOut {})
        .await;
    assert!(out.is_ok());
    assert!(out
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert!(me(app, &admin).await.is_none());
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}

async fn pages_are_guarded(app: &TestApp) {
    let anon = app.browser();
    let r = app.get(&anon, "/inbox").await;
    assert_eq!((r.status.as_u16(), r.location()), (303, Some("/signin")));
    let r = app.get(&anon, "/").await;
    assert_eq!(r.location(), Some("/signin"));
    let r = app.get(&anon, "/signin").await;
    assert!(r.is_ok() && r.body.contains("Sign in"), "{r:?}");
    let r = app.get(&anon, "/invite/nonsense").await;
    assert!(r.body.contains("not valid"), "{}", r.body);
    assert_eq!(app.get(&anon, "/no/such/page").await.status, 404);
    assert_eq!(app.get(&anon, "/healthz").await.body, "ok");

    let admin = app.admin("ada@example.com").await;
    assert_eq!(app.get(&admin, "/").await.location(), Some("/inbox"));
    assert_eq!(app.get(&admin, "/signin").await.location(), Some("/inbox"));
    let inbox = app.get(&admin, "/inbox").await;
    assert!(
        inbox.is_ok() && inbox.body.contains("Inbox") && inbox.body.contains(r#"href="/admin""#),
        "{inbox:?}"
    );
    let bea = app.invited_user(&admin, "bea@example.com", "user").await;
    let page = app.get(&bea, "/admin").await;
    assert!(
        page.body.contains("permission") && !page.body.contains(r#"href="/admin""#),
        "{}",
        page.body
    );
    assert!(r.headers.get("x-request-id").is_some());
}

async fn database_errors_reach_the_browser_only_as_a_reference(app: &TestApp) {
    app.admin("ada@example.com").await;
    sqlx::query("DROP TABLE sign_in_failures")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let reply = app
        .call(
            &app.browser(),
            app::api::accounts::sign_in::SignIn {
                email: "ada@example.com".into(),
                password: "bad password".into(),
            },
        )
        .await;
    let err = reply.error();
    assert!(
        matches!(&err, AppError::Internal { reference } if reference.len() >= 32),
        "{err:?}"
    );
    let lowered = reply.body.to_lowercase();
    assert!(
        !lowered.contains("sign_in_failures")
            && !lowered.contains("table")
            && !lowered.contains("sql"),
        "{}",
        reply.body
    );
}

on_both_backends!(
    setup_link_creates_the_first_admin_once,
    an_outdated_password_hash_is_renewed_at_sign_in,
    expired_and_unknown_setup_links_are_refused,
    wrong_password_and_unknown_email_look_the_same,
    sign_in_is_throttled_per_account,
    sign_in_is_throttled_per_ip,
    session_is_bound_to_its_user_agent,
    state_changes_need_a_same_origin_request,
    invitations_open_once,
    revoked_and_expired_invitations_are_refused,
    an_addressed_invitation_fixes_the_email_and_role,
    only_admins_reach_admin_functions,
    disabling_a_user_ends_their_sessions,
    the_last_admin_stays_an_admin,
    sessions_can_be_listed_and_revoked,
    password_change_signs_out_other_sessions,
    sign_out_ends_the_session,
    pages_are_guarded,
    database_errors_reach_the_browser_only_as_a_reference,
);
