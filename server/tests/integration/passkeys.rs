//! Passkeys on both backends, with a software passkey answering as a browser would
//! (`common::passkey`): adding one turns two-factor sign-in on (with recovery codes); it
//! signs in alone (no email or password) or as the step after the password; each prompt's
//! challenge works once; another site's answer, an unknown key, a disabled account and
//! another person's passkey are refused; the cap holds; removing asks for the password.

use crate::common;

use app::api::accounts::settings::{
    FinishPasskeyRegistration, Passkeys, RemovePasskey, StartPasskeyRegistration, TwoFactor,
};
use app::api::accounts::sign_in::{
    FinishPasskeyChallenge, FinishPasskeySignIn, SignInCode, SignedInUser, StartPasskeyChallenge,
    StartPasskeySignIn,
};
use app::error::AppError;
use app::types::{CurrentUser, PasskeyInfo, PasskeyOptions, TwoFactorStatus};
use common::passkey::SoftPasskey;
use common::TestApp;

/// Passkeys need a name for the site, not an address: the tests' server is "localhost".
fn named_localhost(settings: &mut app::server::Settings) {
    settings.public_url.set_host(Some("localhost")).unwrap();
}

fn origin(app: &TestApp) -> String {
    app.state.settings.public_url.origin().ascii_serialization()
}

fn invalid(reply: &common::Reply, words: &str) {
    assert!(
        matches!(reply.error(), AppError::Invalid(ref m) if m.contains(words)),
        "expected \u{201c}{words}\u{201d}: {reply:?}"
    );
}

async fn me(app: &TestApp, client: &reqwest::Client) -> Option<CurrentUser> {
    app.call(client, SignedInUser {}).await.json()
}

/// Adds `key` to the account signed in on `client`; answers the recovery codes handed out.
async fn add(
    app: &TestApp,
    client: &reqwest::Client,
    key: &mut SoftPasskey,
    name: &str,
) -> Vec<String> {
    let o: PasskeyOptions = app.call(client, StartPasskeyRegistration {}).await.json();
    let reply = app
        .call(
            client,
            FinishPasskeyRegistration {
                token: o.token,
                name: name.into(),
                credential: key.register(&o.options),
            },
        )
        .await;
    assert!(reply.is_ok(), "{reply:?}");
    reply.json()
}

/// Signs in with `key` alone on a new browser; answers the browser and the reply.
async fn passkey_sign_in(app: &TestApp, key: &mut SoftPasskey) -> (reqwest::Client, common::Reply) {
    let browser = app.browser();
    let o: PasskeyOptions = app.call(&browser, StartPasskeySignIn {}).await.json();
    let reply = app
        .call(
            &browser,
            FinishPasskeySignIn {
                token: o.token,
                credential: key.sign_in(&o.options),
            },
        )
        .await;
    (browser, reply)
}

async fn a_passkey_signs_in_alone_and_turns_two_factor_on(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let mut key = SoftPasskey::new(&origin(app));
    let codes = add(app, &ada, &mut key, "Work laptop").await;
    assert_eq!(
        codes.len(),
        10,
        "the first second factor comes with recovery codes"
    );
    let status: TwoFactorStatus = app.call(&ada, TwoFactor {}).await.json();
    assert_eq!(
        (
            status.on,
            status.app,
            status.passkeys,
            status.recovery_codes_left
        ),
        (true, false, 1, 10)
    );
    // A second passkey hands out no new codes.
    let mut phone = SoftPasskey::new(&origin(app));
    assert!(add(app, &ada, &mut phone, "Phone").await.is_empty());
    let listed: Vec<PasskeyInfo> = app.call(&ada, Passkeys {}).await.json();
    assert_eq!(
        listed.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["Work laptop", "Phone"]
    );
    assert!(listed.iter().all(|k| k.last_used_at.is_none()));

    // No email, no password: the passkey alone.
    let (browser, reply) = passkey_sign_in(app, &mut key).await;
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(reply.json::<String>(), "/inbox");
    assert_eq!(me(app, &browser).await.unwrap().email, "ada@example.com");
    let listed: Vec<PasskeyInfo> = app.call(&ada, Passkeys {}).await.json();
    assert!(listed[0].last_used_at.is_some() && listed[1].last_used_at.is_none());
    let (how,): (String,) = sqlx::query_as(
        "SELECT detail FROM audit_log WHERE action = 'signed_in' ORDER BY at DESC, id DESC LIMIT 1",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert!(how.contains("passkey"), "{how}");

    // The password alone no longer signs in: the second step waits.
    let (browser, reply) = app.password_step("ada@example.com").await;
    assert_eq!(reply.location(), Some("/signin/code"));
    assert!(me(app, &browser).await.is_none());
    let o: PasskeyOptions = app.call(&browser, StartPasskeyChallenge {}).await.json();
    let reply = app
        .call(
            &browser,
            FinishPasskeyChallenge {
                token: o.token,
                credential: phone.sign_in(&o.options),
            },
        )
        .await;
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(me(app, &browser).await.unwrap().email, "ada@example.com");
}

async fn each_prompt_works_once_and_only_for_this_site(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let mut key = SoftPasskey::new(&origin(app));
    add(app, &ada, &mut key, "Laptop").await;

    // Replayed: the same answer to the same prompt a second time.
    let browser = app.browser();
    let o: PasskeyOptions = app.call(&browser, StartPasskeySignIn {}).await.json();
    let answer = key.sign_in(&o.options);
    let first = app
        .call(
            &browser,
            FinishPasskeySignIn {
                token: o.token.clone(),
                credential: answer.clone(),
            },
        )
        .await;
    assert!(first.is_ok(), "{first:?}");
    let other = app.browser();
    invalid(
        &app.call(
            &other,
            FinishPasskeySignIn {
                token: o.token,
                credential: answer.clone(),
            },
        )
        .await,
        "expired",
    );
    // The old answer to a new prompt: its challenge is not this one's.
    let o: PasskeyOptions = app.call(&other, StartPasskeySignIn {}).await.json();
    invalid(
        &app.call(
            &other,
            FinishPasskeySignIn {
                token: o.token,
                credential: answer,
            },
        )
        .await,
        "not accepted",
    );
    assert!(me(app, &other).await.is_none());

    // A phishing site relaying our prompt: the browser reports its own origin.
    let mut phished = SoftPasskey::new("https://switchboard-login.example");
    let o: PasskeyOptions = app.call(&ada, StartPasskeyRegistration {}).await.json();
    invalid(
        &app.call(
            &ada,
            FinishPasskeyRegistration {
                token: o.token,
                name: "Phished".into(),
                credential: phished.register(&o.options),
            },
        )
        .await,
        "not accepted",
    );
    key.origin = "https://switchboard-login.example".into();
    let (stranger, reply) = passkey_sign_in(app, &mut key).await;
    invalid(&reply, "not accepted");
    assert!(me(app, &stranger).await.is_none());

    // A registration's token is no sign-in's.
    key.origin = origin(app);
    let registration: PasskeyOptions = app.call(&ada, StartPasskeyRegistration {}).await.json();
    let o: PasskeyOptions = app.call(&ada, StartPasskeySignIn {}).await.json();
    invalid(
        &app.call(
            &app.browser(),
            FinishPasskeySignIn {
                token: registration.token,
                credential: key.sign_in(&o.options),
            },
        )
        .await,
        "expired",
    );
    // Garbage, too large to be an answer, is refused cleanly.
    let o: PasskeyOptions = app.call(&ada, StartPasskeySignIn {}).await.json();
    invalid(
        &app.call(
            &ada,
            FinishPasskeySignIn {
                token: o.token,
                credential: "x".repeat(40_000),
            },
        )
        .await,
        "not accepted",
    );
    let names: Vec<PasskeyInfo> = app.call(&ada, Passkeys {}).await.json();
    assert_eq!(names.len(), 1, "nothing half-added");
}

async fn unknown_keys_disabled_accounts_and_other_peoples_passkeys_are_refused(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bob = app.invited_user(&ada, "bob@example.com", "user").await;
    let mut adas = SoftPasskey::new(&origin(app));
    add(app, &ada, &mut adas, "Ada's").await;
    let mut bobs = SoftPasskey::new(&origin(app));
    add(app, &bob, &mut bobs, "Bob's").await;

    // A key nobody registered (or one removed since).
    let mut unknown = SoftPasskey::new(&origin(app));
    unknown.user_handle = bobs.user_handle.clone();
    let (_, reply) = passkey_sign_in(app, &mut unknown).await;
    invalid(&reply, "not registered here");

    // Bob's key claiming to be Ada's account (its user handle swapped) opens nothing.
    let mut forged = bobs.clone();
    forged.user_handle = adas.user_handle.clone();
    let (browser, reply) = passkey_sign_in(app, &mut forged).await;
    invalid(&reply, "not accepted");
    assert!(me(app, &browser).await.is_none());

    // Bob's passkey as the second step of Ada's password sign-in.
    let (browser, _) = app.password_step("ada@example.com").await;
    let o: PasskeyOptions = app.call(&browser, StartPasskeyChallenge {}).await.json();
    invalid(
        &app.call(
            &browser,
            FinishPasskeyChallenge {
                token: o.token,
                credential: bobs.sign_in(&o.options),
            },
        )
        .await,
        "not accepted",
    );
    assert!(me(app, &browser).await.is_none());

    // Removing: someone else's passkey is not found; the password is asked.
    let adas_list: Vec<PasskeyInfo> = app.call(&ada, Passkeys {}).await.json();
    let removal = app
        .call(
            &bob,
            RemovePasskey {
                passkey_id: adas_list[0].id.clone(),
                password: common::PASSWORD.into(),
            },
        )
        .await;
    assert!(
        matches!(removal.error(), AppError::NotFound(_)),
        "{removal:?}"
    );
    invalid(
        &app.call(
            &ada,
            RemovePasskey {
                passkey_id: adas_list[0].id.clone(),
                password: "wrong".into(),
            },
        )
        .await,
        "password is incorrect",
    );

    // A disabled account stays shut, passkey or not.
    sqlx::query("UPDATE users SET disabled_at = 1 WHERE email = 'bob@example.com'")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let (browser, reply) = passkey_sign_in(app, &mut bobs).await;
    invalid(&reply, "disabled");
    assert!(me(app, &browser).await.is_none());

    // Removing the last second factor turns two-factor sign-in off and voids the codes.
    assert!(app
        .call(
            &ada,
            RemovePasskey {
                passkey_id: adas_list[0].id.clone(),
                password: common::PASSWORD.into(),
            },
        )
        .await
        .is_ok());
    let status: TwoFactorStatus = app.call(&ada, TwoFactor {}).await.json();
    assert_eq!((status.on, status.recovery_codes_left), (false, 0));
    let (codes,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM recovery_codes r JOIN users u ON u.id = r.user_id WHERE u.email = 'ada@example.com'",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(codes, 0);
    let (_, reply) = passkey_sign_in(app, &mut adas).await;
    invalid(&reply, "not registered here");
}

async fn recovery_codes_stand_in_for_a_lost_passkey_and_the_cap_holds(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let mut first = SoftPasskey::new(&origin(app));
    let codes = add(app, &ada, &mut first, "Lost phone").await;
    // The phone is lost: the password, then a recovery code.
    let (browser, _) = app.password_step("ada@example.com").await;
    let reply = app
        .call(
            &browser,
            SignInCode {
                code: codes[0].clone(),
            },
        )
        .await;
    assert!(reply.is_ok(), "{reply:?}");
    assert!(me(app, &browser).await.is_some());

    for n in 2..=app::server::accounts::passkeys::MAX_PER_USER {
        let mut key = SoftPasskey::new(&origin(app));
        add(app, &ada, &mut key, &format!("Key {n}")).await;
    }
    invalid(
        &app.call(&ada, StartPasskeyRegistration {}).await,
        "the most one account may keep",
    );
    // The same device registering again (a replayed registration) is refused too.
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(n, app::server::accounts::passkeys::MAX_PER_USER);
}

async fn password_less_prompts_are_limited_per_address(app: &TestApp) {
    let stranger = app.browser();
    for _ in 0..app::server::throttle::PASSKEY_PROMPTS.per_window {
        assert!(app.call(&stranger, StartPasskeySignIn {}).await.is_ok());
    }
    let refused = app.call(&stranger, StartPasskeySignIn {}).await;
    assert!(
        matches!(refused.error(), AppError::Throttled(_)),
        "{refused:?}"
    );
    // An instance reached by a bare address says how to get passkeys.
    let mut by_address = (*app.state.settings).clone();
    by_address.public_url.set_host(Some("127.0.0.1")).unwrap();
    let err = app::server::accounts::passkeys::relying_party(&by_address).unwrap_err();
    assert!(
        matches!(err, AppError::Invalid(ref m) if m.contains("SWITCHBOARD_PUBLIC_URL")),
        "{err:?}"
    );
}

/// Signed out, the account's own passkey and Google functions open nothing.
async fn signed_out_the_accounts_functions_refuse(app: &TestApp) {
    use app::api::accounts::settings::{GoogleAccount, StartGoogleLink, UnlinkGoogle};
    let stranger = app.browser();
    let replies = [
        app.call(&stranger, Passkeys {}).await,
        app.call(&stranger, StartPasskeyRegistration {}).await,
        app.call(
            &stranger,
            FinishPasskeyRegistration {
                token: "t".into(),
                name: "n".into(),
                credential: "{}".into(),
            },
        )
        .await,
        app.call(
            &stranger,
            RemovePasskey {
                passkey_id: "p".into(),
                password: "x".into(),
            },
        )
        .await,
        app.call(&stranger, GoogleAccount {}).await,
        app.call(&stranger, StartGoogleLink {}).await,
        app.call(&stranger, UnlinkGoogle {}).await,
    ];
    for reply in replies {
        assert!(matches!(reply.error(), AppError::Unauthorized), "{reply:?}");
    }
    // The code page's passkey step needs a password's challenge first.
    invalid(
        &app.call(&stranger, StartPasskeyChallenge {}).await,
        "expired",
    );
}

/// Strangers can open password-less prompts without an account: past 10,000 open at once,
/// a new one is refused rather than kept.
async fn open_prompts_are_capped(app: &TestApp) {
    let max = app::server::accounts::passkeys::CEREMONIES_MAX;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO passkey_ceremonies (token_hash, kind, user_id, state, expires_at)
         SELECT 'filler-' || i, 'sign_in', NULL, '{}', $2 FROM n",
    )
    .bind(max)
    .bind(app::server::now_ms() + 60_000)
    .execute(app.state.db.pool())
    .await
    .unwrap();
    let refused = app.call(&app.browser(), StartPasskeySignIn {}).await;
    assert!(
        matches!(refused.error(), AppError::Throttled(ref m) if m.contains("in progress")),
        "{refused:?}"
    );
    // Expired ones make room again.
    sqlx::query("UPDATE passkey_ceremonies SET expires_at = 0")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    assert!(app
        .call(&app.browser(), StartPasskeySignIn {})
        .await
        .is_ok());
}

on_both_backends_with!(super::named_localhost;
    open_prompts_are_capped,
    signed_out_the_accounts_functions_refuse,
    a_passkey_signs_in_alone_and_turns_two_factor_on,
    each_prompt_works_once_and_only_for_this_site,
    unknown_keys_disabled_accounts_and_other_peoples_passkeys_are_refused,
    recovery_codes_stand_in_for_a_lost_passkey_and_the_cap_holds,
    password_less_prompts_are_limited_per_address,
);
