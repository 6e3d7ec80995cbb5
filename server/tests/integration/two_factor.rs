//! Two-factor sign-in on both backends: turning it on takes a code from the app; then a
//! right password alone starts no session, only a challenge; a code from the app works
//! once, a recovery code works once, five wrong codes end the challenge; turning it off
//! and new recovery codes ask for the password.

use crate::common;

use app::api::accounts::settings::{
    ConfirmTwoFactor, NewRecoveryCodes, StartTwoFactor, TurnOffTwoFactor, TwoFactor,
};
use app::api::accounts::sign_in::{SignInCode, SignedInUser};
use app::error::AppError;
use app::server::accounts::totp;
use app::types::{CurrentUser, TwoFactorSetup, TwoFactorStatus};
use common::TestApp;

fn invalid(reply: &common::Reply, words: &str) {
    assert!(
        matches!(reply.error(), AppError::Invalid(ref m) if m.contains(words)),
        "expected \u{201c}{words}\u{201d}: {reply:?}"
    );
}

fn secret_of(setup: &TwoFactorSetup) -> Vec<u8> {
    totp::secret_from_text(&setup.secret).unwrap()
}

/// The app's code for `secret`, `steps` 30-second steps from now.
fn code(secret: &[u8], steps: i64) -> String {
    let now = app::server::now_ms() / 1000;
    totp::code_at(secret, (totp::step_at(now) + steps) as u64, totp::DIGITS)
}

async fn me(app: &TestApp, client: &reqwest::Client) -> Option<CurrentUser> {
    app.call(client, SignedInUser {}).await.json()
}

/// Ada signs in with her password; answers the browser (holding the challenge, if any).
async fn password_step(app: &TestApp) -> (reqwest::Client, common::Reply) {
    app.password_step("ada@example.com").await
}

/// Turns two-factor sign-in on for `client`; answers the secret and the recovery codes.
async fn turn_on(app: &TestApp, client: &reqwest::Client) -> (Vec<u8>, Vec<String>) {
    let setup: TwoFactorSetup = app.call(client, StartTwoFactor {}).await.json();
    assert!(setup.url.starts_with("otpauth://totp/"), "{}", setup.url);
    assert!(setup.url.contains("ada%40example.com"), "{}", setup.url);
    assert!(setup.qr_svg.starts_with("<?xml") || setup.qr_svg.contains("<svg"));
    let secret = secret_of(&setup);
    let wrong = app
        .call(
            client,
            ConfirmTwoFactor {
                code: "000000".into(),
            },
        )
        .await;
    invalid(&wrong, "doesn't match");
    let off: TwoFactorStatus = app.call(client, TwoFactor {}).await.json();
    assert!(!off.on, "a wrong code leaves it off");
    let codes: Vec<String> = app
        .call(
            client,
            ConfirmTwoFactor {
                code: code(&secret, 0),
            },
        )
        .await
        .json();
    assert_eq!(codes.len(), 10);
    let on: TwoFactorStatus = app.call(client, TwoFactor {}).await.json();
    assert_eq!((on.on, on.recovery_codes_left), (true, 10));
    (secret, codes)
}

async fn a_password_alone_no_longer_signs_in(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let (secret, _codes) = turn_on(app, &ada).await;
    // A second setup while on is refused (it would silently replace the app's secret).
    invalid(&app.call(&ada, StartTwoFactor {}).await, "already set up");

    let (browser, reply) = password_step(app).await;
    assert!(reply.is_ok(), "{reply:?}");
    let cookies: Vec<&str> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        cookies
            .iter()
            .all(|c| !c.starts_with("sb_session") && !c.starts_with("__Host-sb_session")),
        "no session yet: {cookies:?}"
    );
    assert!(me(app, &browser).await.is_none());

    // The code from the app, once. (The one that turned it on is spent: the next one.)
    let used = code(&secret, 1);
    let reply = app.call(&browser, SignInCode { code: used.clone() }).await;
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(me(app, &browser).await.unwrap().email, "ada@example.com");
    let (again, _) = password_step(app).await;
    invalid(
        &app.call(&again, SignInCode { code: used }).await,
        "doesn't match",
    );
    assert!(
        me(app, &again).await.is_none(),
        "a used code is not used twice"
    );
    // Without a challenge there is nothing to answer.
    invalid(
        &app.call(
            &app.browser(),
            SignInCode {
                code: code(&secret, 1),
            },
        )
        .await,
        "expired",
    );
}

async fn recovery_codes_work_once_and_wrong_codes_end_the_challenge(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let (secret, codes) = turn_on(app, &ada).await;

    let (browser, _) = password_step(app).await;
    let typed = codes[3].to_uppercase().replace('-', "");
    assert!(app.call(&browser, SignInCode { code: typed }).await.is_ok());
    assert!(me(app, &browser).await.is_some());
    let left: TwoFactorStatus = app.call(&browser, TwoFactor {}).await.json();
    assert_eq!(left.recovery_codes_left, 9);
    let (other, _) = password_step(app).await;
    invalid(
        &app.call(
            &other,
            SignInCode {
                code: codes[3].clone(),
            },
        )
        .await,
        "doesn't match",
    );

    // Five wrong codes, then even the right one needs the password again.
    let (guesser, _) = password_step(app).await;
    for guess in ["111111", "222222", "333333", "444444", "555555"] {
        invalid(
            &app.call(&guesser, SignInCode { code: guess.into() }).await,
            "doesn't match",
        );
    }
    let right = code(&secret, 1);
    invalid(
        &app.call(&guesser, SignInCode { code: right }).await,
        "expired",
    );
    assert!(me(app, &guesser).await.is_none());
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'sign_in_failed' AND detail = 'wrong code'",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(
        n, 6,
        "each wrong code is in the audit log (the spent recovery code too)"
    );
}

async fn turning_off_and_new_codes_ask_for_the_password(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let (_secret, old_codes) = turn_on(app, &ada).await;
    invalid(
        &app.call(
            &ada,
            NewRecoveryCodes {
                password: "wrong".into(),
            },
        )
        .await,
        "password is incorrect",
    );
    let new_codes: Vec<String> = app
        .call(
            &ada,
            NewRecoveryCodes {
                password: common::PASSWORD.into(),
            },
        )
        .await
        .json();
    assert_eq!(new_codes.len(), 10);
    let (browser, _) = password_step(app).await;
    invalid(
        &app.call(
            &browser,
            SignInCode {
                code: old_codes[0].clone(),
            },
        )
        .await,
        "doesn't match",
    );
    assert!(app
        .call(
            &browser,
            SignInCode {
                code: new_codes[0].clone()
            }
        )
        .await
        .is_ok());

    invalid(
        &app.call(
            &ada,
            TurnOffTwoFactor {
                password: "wrong".into(),
            },
        )
        .await,
        "password is incorrect",
    );
    assert!(app
        .call(
            &ada,
            TurnOffTwoFactor {
                password: common::PASSWORD.into()
            }
        )
        .await
        .is_ok());
    let (plain, reply) = password_step(app).await;
    assert!(reply.is_ok());
    assert!(
        me(app, &plain).await.is_some(),
        "the password alone signs in again"
    );
    let (secrets,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM two_factor")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let (kept_codes,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM recovery_codes")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!((secrets, kept_codes), (0, 0));
    // The secret is sealed at rest.
    let _ = turn_on(app, &ada).await;
    let (sealed,): (String,) = sqlx::query_as("SELECT secret FROM two_factor")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let status: TwoFactorStatus = app.call(&ada, TwoFactor {}).await.json();
    assert!(status.on);
    assert!(!sealed
        .chars()
        .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
    for call in [
        app.call(&app.browser(), TwoFactor {}).await,
        app.call(&app.browser(), StartTwoFactor {}).await,
    ] {
        assert!(matches!(call.error(), AppError::Unauthorized));
    }
}

async fn when_an_admin_requires_it_only_settings_are_open_until_it_is_set_up(app: &TestApp) {
    use app::api::accounts::admin::SetTwoFactorRequired;
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    // Not before the admin has it: it would shut them out too.
    invalid(
        &app.call(&ada, SetTwoFactorRequired { required: true })
            .await,
        "for yourself first",
    );
    let _ = turn_on(app, &ada).await;
    assert!(matches!(
        app.call(&bea, SetTwoFactorRequired { required: true })
            .await
            .error(),
        AppError::Forbidden
    ));
    assert!(app
        .call(&ada, SetTwoFactorRequired { required: true })
        .await
        .is_ok());

    // Bea: everything but Settings refused, pages sent to Settings.
    invalid(
        &app.call(&bea, app::api::numbers::MyNumbers {}).await,
        "requires two-factor sign-in",
    );
    let page = app.get(&bea, "/inbox").await;
    assert_eq!(page.location(), Some("/settings"));
    assert!(app.get(&bea, "/settings").await.is_ok());
    let status: TwoFactorStatus = app.call(&bea, TwoFactor {}).await.json();
    assert!(!status.on);
    let setup: TwoFactorSetup = app.call(&bea, StartTwoFactor {}).await.json();
    let secret = secret_of(&setup);
    let codes: Vec<String> = app
        .call(
            &bea,
            ConfirmTwoFactor {
                code: code(&secret, 0),
            },
        )
        .await
        .json();
    assert_eq!(codes.len(), 10);
    // Set up: everything is open again, in the same session.
    assert!(app
        .call(&bea, app::api::numbers::MyNumbers {})
        .await
        .is_ok());
    assert!(app.get(&bea, "/inbox").await.location().is_none());
    // Ada, who has it, was never held up; making it optional again is audited.
    assert!(app
        .call(&ada, app::api::numbers::MyNumbers {})
        .await
        .is_ok());
    assert!(app
        .call(&ada, SetTwoFactorRequired { required: false })
        .await
        .is_ok());
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'two_factor_requirement'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(n, 2);
}

async fn guessing_the_code_that_turns_it_on_is_limited(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let setup: TwoFactorSetup = app.call(&ada, StartTwoFactor {}).await.json();
    let secret = secret_of(&setup);
    // A stolen session guessing codes (or a script) gets ten tries in the window, …
    for _ in 0..app::server::throttle::SIGN_IN_CHANGES.per_window {
        let guess = app
            .call(
                &ada,
                ConfirmTwoFactor {
                    code: "000000".into(),
                },
            )
            .await;
        invalid(&guess, "doesn't match");
    }
    // … then even the right code waits.
    let right = app
        .call(
            &ada,
            ConfirmTwoFactor {
                code: code(&secret, 0),
            },
        )
        .await;
    assert!(matches!(right.error(), AppError::Throttled(_)), "{right:?}");
    let status: TwoFactorStatus = app.call(&ada, TwoFactor {}).await.json();
    assert!(!status.on);
}

on_both_backends!(
    guessing_the_code_that_turns_it_on_is_limited,
    when_an_admin_requires_it_only_settings_are_open_until_it_is_set_up,
    a_password_alone_no_longer_signs_in,
    recovery_codes_work_once_and_wrong_codes_end_the_challenge,
    turning_off_and_new_codes_ask_for_the_password,
);
