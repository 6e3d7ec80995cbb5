//! Sign in with Google against a local OpenID provider (end2end/support/oidc-provider.mjs:
//! real discovery, PKCE, client secret and RS256-signed ID tokens), on both backends. The
//! test plays the browser: it follows the redirects and "chooses an account" on the
//! provider's page. Invite-only holds (an email with no account or invitation is refused);
//! an account opens by its email and is linked; an invitation makes a password-less
//! account; the state cookie ties a flow to its browser, once; two-factor sign-in still
//! asks its second step; linking and unlinking from Settings; admin-only settings.

use std::collections::HashMap;
use std::process::Stdio;

use crate::common;

use app::api::accounts::admin::{GoogleSignInSettings, SetGoogleSignIn, TurnOffGoogleSignIn};
use app::api::accounts::settings::{
    ChangePassword, GoogleAccount, StartGoogleLink, TwoFactor, UnlinkGoogle,
};
use app::api::accounts::sign_in::{GoogleSignInOffer, SignIn, SignedInUser};
use app::error::AppError;
use app::types::{CurrentUser, GoogleLink, GoogleSettings};
use common::TestApp;
use tokio::io::AsyncBufReadExt;

const CLIENT_ID: &str = "switchboard-test.apps.example";
const CLIENT_SECRET: &str = "provider-test-secret";

/// The local provider, stopped when dropped.
struct Provider {
    base: String,
    _child: tokio::process::Child,
}

async fn provider() -> Provider {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../end2end/support/oidc-provider.mjs");
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the local OpenID provider (node)");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .expect("the provider starts")
        .unwrap()
        .unwrap();
    let base = line.strip_prefix("listening on ").unwrap().to_string();
    Provider {
        base,
        _child: child,
    }
}

/// A Google-like account the person picks on the provider's page.
struct Person<'a> {
    email: &'a str,
    verified: bool,
}

const fn person(email: &str) -> Person<'_> {
    Person {
        email,
        verified: true,
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

/// From the provider's authorization address to the app's callback answer: the person
/// picks `who`; `browser` brings the provider's answer back.
async fn at_provider(
    provider: &Provider,
    browser: &reqwest::Client,
    authorize: &str,
    who: &Person<'_>,
) -> reqwest::Response {
    assert!(authorize.starts_with(&provider.base), "{authorize}");
    let url = url::Url::parse(authorize).unwrap();
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256", "PKCE is used");
    assert!(query["scope"].split(' ').any(|s| s == "openid"));
    let plain = crate::common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The provider's page checks what the app asked for (client, PKCE, state, nonce).
    let page = plain.get(authorize).send().await.unwrap();
    assert_eq!(page.status(), 200, "{}", page.text().await.unwrap());
    let mut form = vec![
        ("redirect_uri", query["redirect_uri"].clone()),
        ("state", query["state"].clone()),
        ("nonce", query["nonce"].clone()),
        ("code_challenge", query["code_challenge"].clone()),
        ("email", who.email.to_string()),
        ("name", "Grace Googler".to_string()),
    ];
    if who.verified {
        form.push(("email_verified", "on".into()));
    }
    let back = plain
        .post(format!("{}/authorize", provider.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    browser.get(location(&back)).send().await.unwrap()
}

/// "Sign in with Google" (`start`: the app's start address) as `who`: answers where the
/// app sent the browser in the end.
async fn google(
    app: &TestApp,
    provider: &Provider,
    browser: &reqwest::Client,
    start: &str,
    who: &Person<'_>,
) -> String {
    let res = browser
        .get(format!("{}{start}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to = location(&res);
    if !to.starts_with("http") {
        return to; // refused before the provider
    }
    let done = at_provider(provider, browser, &to, who).await;
    assert_eq!(done.status(), 303);
    location(&done)
}

/// "Sign in with Google" from the sign-in page, as `email`, on a new browser.
async fn sign_in_with_google(
    app: &TestApp,
    provider: &Provider,
    email: &str,
) -> (reqwest::Client, String) {
    let browser = app.browser();
    let to = google(app, provider, &browser, "/auth/google", &person(email)).await;
    (browser, to)
}

/// Whether the sign-in page offers "Sign in with Google".
async fn offered(app: &TestApp, client: &reqwest::Client) -> bool {
    let offer: app::types::GoogleOffer = app
        .call(
            client,
            GoogleSignInOffer {
                refused: String::new(),
            },
        )
        .await
        .json();
    offer.available
}

async fn me(app: &TestApp, client: &reqwest::Client) -> Option<CurrentUser> {
    app.call(client, SignedInUser {}).await.json()
}

fn invalid(reply: &common::Reply, words: &str) {
    assert!(
        matches!(reply.error(), AppError::Invalid(ref m) if m.contains(words)),
        "expected \u{201c}{words}\u{201d}: {reply:?}"
    );
}

async fn set_up(app: &TestApp, admin: &reqwest::Client, secret: &str) {
    let reply = app
        .call(
            admin,
            SetGoogleSignIn {
                client_id: CLIENT_ID.into(),
                client_secret: secret.into(),
            },
        )
        .await;
    assert!(reply.is_ok(), "{reply:?}");
}

async fn invite_only_holds(app: &TestApp, provider: &Provider) {
    let ada = app.admin("ada@example.com").await;
    let stranger = app.browser();
    assert!(!offered(app, &stranger).await);
    assert_eq!(
        google(
            app,
            provider,
            &stranger,
            "/auth/google",
            &person("ada@example.com")
        )
        .await,
        "/signin?google=not_set_up"
    );
    set_up(app, &ada, CLIENT_SECRET).await;
    assert!(offered(app, &stranger).await);
    // A refusal's code reads as its fixed sentence; any other text reads as nothing.
    for (code, words) in [
        ("no_account", Some("invite-only")),
        ("Your account is locked: call +1 555", None),
    ] {
        let offer: app::types::GoogleOffer = app
            .call(
                &stranger,
                GoogleSignInOffer {
                    refused: code.into(),
                },
            )
            .await
            .json();
        match words {
            Some(w) => assert!(offer.refusal.unwrap().contains(w)),
            None => assert!(offer.refusal.is_none()),
        }
    }
    // The secret is sealed at rest and never sent back.
    let shown: GoogleSettings = app.call(&ada, GoogleSignInSettings {}).await.json();
    assert_eq!(shown.client_id, CLIENT_ID);
    assert!(shown.redirect_uri.ends_with("/auth/google/callback"));
    let (stored,): (String,) =
        sqlx::query_as("SELECT value FROM instance_settings WHERE key = 'google.client_secret'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert!(!stored.contains(CLIENT_SECRET));

    // Nobody here, no invitation: refused, and no account appears.
    assert_eq!(
        google(
            app,
            provider,
            &stranger,
            "/auth/google",
            &person("eve@example.com")
        )
        .await,
        "/signin?google=no_account"
    );
    assert!(me(app, &stranger).await.is_none());
    // An email Google hasn't verified opens nothing, not even Ada's.
    assert_eq!(
        google(
            app,
            provider,
            &stranger,
            "/auth/google",
            &Person {
                email: "ada@example.com",
                verified: false
            }
        )
        .await,
        "/signin?google=unverified"
    );
    assert!(me(app, &stranger).await.is_none());

    // Ada's email: her account opens (and is linked for next time).
    let (browser, to) = sign_in_with_google(app, provider, "ada@example.com").await;
    assert_eq!(to, "/inbox");
    assert_eq!(me(app, &browser).await.unwrap().email, "ada@example.com");
    let linked: GoogleLink = app.call(&browser, GoogleAccount {}).await.json();
    assert_eq!(linked.linked_email.as_deref(), Some("ada@example.com"));

    // An invitation for an email: Google makes the account, without a password.
    app.invite(&ada, "newbie@example.com", "user").await;
    let (newbie, to) = sign_in_with_google(app, provider, "newbie@example.com").await;
    assert_eq!(to, "/inbox");
    assert_eq!(
        me(app, &newbie).await.unwrap().display_name,
        "Grace Googler"
    );
    // No password matches a password-less account…
    let tried = app
        .call(
            &app.browser(),
            SignIn {
                email: "newbie@example.com".into(),
                password: "a guess".into(),
            },
        )
        .await;
    invalid(&tried, "Email or password is incorrect");
    // … until they set one (no current password asked).
    let set = app
        .call(
            &newbie,
            ChangePassword {
                current_password: String::new(),
                new_password: "a brand new password".into(),
                confirm_password: "a brand new password".into(),
            },
        )
        .await;
    assert!(set.is_ok(), "{set:?}");
    assert!(app
        .call(
            &app.browser(),
            SignIn {
                email: "newbie@example.com".into(),
                password: "a brand new password".into(),
            },
        )
        .await
        .is_ok());

    // Only admins see or change the settings.
    for reply in [
        app.call(&newbie, GoogleSignInSettings {}).await,
        app.call(
            &newbie,
            SetGoogleSignIn {
                client_id: "mine".into(),
                client_secret: "mine".into(),
            },
        )
        .await,
        app.call(&newbie, TurnOffGoogleSignIn {}).await,
    ] {
        assert!(matches!(reply.error(), AppError::Forbidden), "{reply:?}");
    }
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'google_sign_in_settings_changed'",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(n, 1);
}

async fn a_flow_belongs_to_its_browser_once(app: &TestApp, provider: &Provider) {
    let ada = app.admin("ada@example.com").await;
    set_up(app, &ada, CLIENT_SECRET).await;
    // Mallory starts a sign-in and gets the provider's answer for her account, then lures
    // Ada's browser to it (login CSRF): Ada's browser has no matching state cookie.
    let mallory = app.browser();
    let start = mallory
        .get(format!("{}/auth/google", app.base))
        .send()
        .await
        .unwrap();
    let plain = crate::common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = location(&start);
    let url = url::Url::parse(&authorize).unwrap();
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let back = plain
        .post(format!("{}/authorize", provider.base))
        .form(&[
            ("redirect_uri", query["redirect_uri"].as_str()),
            ("state", query["state"].as_str()),
            ("nonce", query["nonce"].as_str()),
            ("code_challenge", query["code_challenge"].as_str()),
            ("email", "ada@example.com"),
            ("email_verified", "on"),
        ])
        .send()
        .await
        .unwrap();
    let callback = location(&back);
    let victim = app.browser();
    let res = victim.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), "/signin?google=failed");
    assert!(me(app, &victim).await.is_none());
    // The browser that began it finishes it, once.
    let res = mallory.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), "/inbox");
    let res = mallory.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), "/signin?google=failed");

    // Cancelled at the provider.
    let browser = app.browser();
    let start = browser
        .get(format!("{}/auth/google", app.base))
        .send()
        .await
        .unwrap();
    let state = url::Url::parse(&location(&start))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let res = browser
        .get(format!(
            "{}/auth/google/callback?error=access_denied&state={state}",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/signin?google=failed");

    // A wrong client secret: the provider refuses the code exchange; nothing opens.
    set_up(app, &ada, "not-the-secret").await;
    let (browser, to) = sign_in_with_google(app, provider, "ada@example.com").await;
    assert_eq!(to, "/signin?google=failed");
    assert!(me(app, &browser).await.is_none());
}

async fn second_step_linking_and_unlinking(app: &TestApp, provider: &Provider) {
    let ada = app.admin("ada@example.com").await;
    set_up(app, &ada, CLIENT_SECRET).await;
    let bob = app.invited_user(&ada, "bob@example.com", "user").await;

    // Bob links his personal Google account from Settings.
    let to: String = app.call(&bob, StartGoogleLink {}).await.json();
    let done = at_provider(provider, &bob, &to, &person("bob.personal@example.org")).await;
    assert_eq!(location(&done), "/settings?google=linked");
    let linked: GoogleLink = app.call(&bob, GoogleAccount {}).await.json();
    assert_eq!(
        linked.linked_email.as_deref(),
        Some("bob.personal@example.org")
    );
    // That Google account now opens Bob's account, though its email is not his.
    let (browser, to) = sign_in_with_google(app, provider, "bob.personal@example.org").await;
    assert_eq!(to, "/inbox");
    assert_eq!(me(app, &browser).await.unwrap().email, "bob@example.com");
    // Ada can't link the same Google account to hers.
    let to: String = app.call(&ada, StartGoogleLink {}).await.json();
    let done = at_provider(provider, &ada, &to, &person("bob.personal@example.org")).await;
    assert_eq!(location(&done), "/settings?google=linked_elsewhere");

    // With two-factor sign-in on, Google stands in for the password only.
    sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, name, passkey, created_at)
         SELECT 'k1', id, 'c1', 'Phone', '{}', 1 FROM users WHERE email = 'bob@example.com'",
    )
    .execute(app.state.db.pool())
    .await
    .unwrap();
    let status: app::types::TwoFactorStatus = app.call(&bob, TwoFactor {}).await.json();
    assert!(status.on);
    let (browser, to) = sign_in_with_google(app, provider, "bob.personal@example.org").await;
    assert_eq!(to, "/signin/code");
    assert!(me(app, &browser).await.is_none());

    // Unlinking; a Google-only account can't unlink its only way in.
    assert!(app.call(&bob, UnlinkGoogle {}).await.is_ok());
    let (_, to) = sign_in_with_google(app, provider, "bob.personal@example.org").await;
    assert_eq!(to, "/signin?google=no_account");
    app.invite(&ada, "gina@example.com", "user").await;
    let gina = app.browser();
    google(
        app,
        provider,
        &gina,
        "/auth/google",
        &person("gina@example.com"),
    )
    .await;
    invalid(
        &app.call(&gina, UnlinkGoogle {}).await,
        "only way to sign in",
    );

    // An invitation naming another email can't be taken by this Google account.
    let token = app.invite(&ada, "henry@example.com", "user").await;
    let browser = app.browser();
    assert_eq!(
        google(
            app,
            provider,
            &browser,
            &format!("/auth/google?invite={token}"),
            &person("mallory@example.org")
        )
        .await,
        format!("/invite/{token}?google=other_email")
    );
    // Turned off: the sign-in page offers it no more.
    assert!(app.call(&ada, TurnOffGoogleSignIn {}).await.is_ok());
    assert!(!offered(app, &app.browser()).await);
}

/// Starting a Google sign-in takes no account: starts are limited per address, and past
/// 10,000 waiting flows a new one is refused rather than kept.
async fn starts_are_limited_and_waiting_flows_capped(app: &TestApp, provider: &Provider) {
    let ada = app.admin("ada@example.com").await;
    set_up(app, &ada, CLIENT_SECRET).await;
    let start = |browser: reqwest::Client| async move {
        let res = browser
            .get(format!("{}/auth/google", app.base))
            .send()
            .await
            .unwrap();
        location(&res)
    };
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO google_flows (state_hash, purpose, user_id, invitation, nonce, pkce_verifier, expires_at)
         SELECT 'filler-' || i, 'sign_in', NULL, NULL, 'n', 'v', $2 FROM n",
    )
    .bind(app::server::accounts::google::FLOWS_MAX)
    .bind(app::server::now_ms() + 60_000)
    .execute(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(start(app.browser()).await, "/signin?google=failed");
    sqlx::query("DELETE FROM google_flows")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    // The refused start above spent one of the address's starts.
    for _ in 1..app::server::throttle::GOOGLE_SIGN_INS.per_window {
        assert!(start(app.browser()).await.starts_with(&provider.base));
    }
    assert_eq!(start(app.browser()).await, "/signin?google=failed");
}

macro_rules! with_provider {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let provider = super::provider().await;
                let issuer = provider.base.clone();
                let app = crate::common::TestApp::start_with(crate::common::Backend::Sqlite, move |s| s.google_issuer = issuer).await;
                crate::common::within_limit(stringify!($scenario), super::$scenario(&app, &provider)).await;
                app.finish().await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let provider = super::provider().await;
                let issuer = provider.base.clone();
                let app = crate::common::TestApp::start_with(crate::common::Backend::Postgres, move |s| s.google_issuer = issuer).await;
                crate::common::within_limit(stringify!($scenario), super::$scenario(&app, &provider)).await;
                app.finish().await;
            })*
        }
    };
}

with_provider!(
    starts_are_limited_and_waiting_flows_capped,
    invite_only_holds,
    a_flow_belongs_to_its_browser_once,
    second_step_linking_and_unlinking,
);
