//! Admin → Carrier against the real router on both backends: admins only, secrets sealed at
//! rest and never sent back, checks before saving, switching at once (and on other
//! instances through the database), numbers released only through their own carrier.

use crate::common;

use app::error::AppError;
use app::server::carrier::config;
use app::server::carrier::config::CarrierKind;
use app::types::{CarrierSettingsView, NumberOffer, OwnedNumber};
use common::{path, TestApp, TELNYX_TEST_PUBLIC_KEY};

const TELNYX_KEY: &str = "KEYsealed0123456789";
const TWILIO_SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TWILIO_TOKEN: &str = "token-sealed-987";

/// A loopback port nothing listens on.
fn closed_port() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

async fn stored_value(app: &TestApp) -> Option<String> {
    sqlx::query_as::<_, (String,)>("SELECT value FROM instance_settings WHERE key = 'carrier'")
        .fetch_optional(app.state.db.pool())
        .await
        .unwrap()
        .map(|(v,)| v)
}

async fn only_admins_see_and_change_the_carrier(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    for name in [
        path::<app::api::carrier::CarrierSettings>(),
        path::<app::api::carrier::SaveCarrier>(),
        path::<app::api::carrier::TestCarrier>(),
    ] {
        let reply = app.call_path(&bea, name, &[("active", "sandbox")]).await;
        assert_eq!(reply.status, 403, "{name}: {reply:?}");
        assert!(matches!(reply.error(), AppError::Forbidden));
    }
    assert_eq!(stored_value(app).await, None);
}

async fn carrier_secrets_are_sealed_and_never_sent_back(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let settings: CarrierSettingsView = app
        .call(&ada, app::api::carrier::CarrierSettings {})
        .await
        .json();
    assert_eq!(
        (settings.active.as_str(), settings.saved_at),
        ("sandbox", None)
    );

    // Incomplete settings are refused, naming what is missing; nothing is written.
    let reply = app
        .call(
            &ada,
            app::api::carrier::SaveCarrier {
                active: "telnyx".into(),
                telnyx_api_key: Default::default(),
                telnyx_public_key: Default::default(),
                telnyx_messaging_profile_id: Default::default(),
                telnyx_api_base: Default::default(),
                twilio_account_sid: Default::default(),
                twilio_auth_token: Default::default(),
                twilio_api_base: Default::default(),
            },
        )
        .await;
    assert!(
        matches!(reply.error(), AppError::Invalid(ref m) if m.contains("API key")),
        "{reply:?}"
    );
    let reply = app
        .call(
            &ada,
            app::api::carrier::SaveCarrier {
                active: "telnyx".into(),
                telnyx_api_key: TELNYX_KEY.to_string(),
                telnyx_public_key: "nope".into(),
                telnyx_messaging_profile_id: Default::default(),
                telnyx_api_base: Default::default(),
                twilio_account_sid: Default::default(),
                twilio_auth_token: Default::default(),
                twilio_api_base: Default::default(),
            },
        )
        .await;
    assert!(
        matches!(reply.error(), AppError::Invalid(ref m) if m.contains("public key")),
        "{reply:?}"
    );
    assert_eq!(stored_value(app).await, None);
    assert_eq!(app.state.carrier().kind(), CarrierKind::Sandbox);

    let base = closed_port();
    app.call(
        &ada,
        app::api::carrier::SaveCarrier {
            active: "telnyx".into(),
            telnyx_api_key: TELNYX_KEY.to_string(),
            telnyx_public_key: TELNYX_TEST_PUBLIC_KEY.to_string(),
            telnyx_messaging_profile_id: Default::default(),
            telnyx_api_base: base.to_string(),
            twilio_account_sid: Default::default(),
            twilio_auth_token: Default::default(),
            twilio_api_base: Default::default(),
        },
    )
    .await
    .json::<()>();
    // In use at once; the browser learns only that a key is saved; storage holds no plaintext.
    assert_eq!(app.state.carrier().kind(), CarrierKind::Telnyx);
    let reply = app.call(&ada, app::api::carrier::CarrierSettings {}).await;
    assert!(!reply.body.contains(TELNYX_KEY));
    let settings: CarrierSettingsView = reply.json();
    assert!(settings.telnyx_api_key_saved && settings.saved_at.is_some());
    assert_eq!(settings.telnyx_public_key, TELNYX_TEST_PUBLIC_KEY);
    let stored = stored_value(app).await.unwrap();
    assert!(!stored.contains(TELNYX_KEY), "{stored}");
    // Sealed under the instance secret: another secret can't open it.
    assert!(config::load_saved(&app.state.db, &[1u8; 32]).await.is_err());

    // A connection test says plainly when the carrier can't be reached.
    let reply = app
        .call(
            &ada,
            app::api::carrier::TestCarrier {
                active: "telnyx".into(),
                telnyx_api_key: Default::default(),
                telnyx_public_key: TELNYX_TEST_PUBLIC_KEY.to_string(),
                telnyx_messaging_profile_id: Default::default(),
                telnyx_api_base: base.to_string(),
                twilio_account_sid: Default::default(),
                twilio_auth_token: Default::default(),
                twilio_api_base: Default::default(),
            },
        )
        .await;
    assert!(
        matches!(reply.error(), AppError::Invalid(ref m) if m.contains("could not be reached")),
        "{reply:?}"
    );

    // Switching to Twilio with a blank Telnyx key keeps the saved one.
    app.call(
        &ada,
        app::api::carrier::SaveCarrier {
            active: "twilio".into(),
            telnyx_api_key: Default::default(),
            telnyx_public_key: TELNYX_TEST_PUBLIC_KEY.to_string(),
            telnyx_messaging_profile_id: Default::default(),
            telnyx_api_base: Default::default(),
            twilio_account_sid: TWILIO_SID.to_string(),
            twilio_auth_token: TWILIO_TOKEN.to_string(),
            twilio_api_base: Default::default(),
        },
    )
    .await
    .json::<()>();
    assert_eq!(app.state.carrier().kind(), CarrierKind::Twilio);
    let (saved, _) = config::load_saved(&app.state.db, &app.state.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.telnyx.api_key.as_deref(), Some(TELNYX_KEY));
    assert_eq!(saved.twilio.auth_token.as_deref(), Some(TWILIO_TOKEN));
    let stored = stored_value(app).await.unwrap();
    assert!(!stored.contains(TWILIO_TOKEN), "{stored}");

    // Settings saved by another instance sharing the database are picked up on reload.
    let mut elsewhere = saved.clone();
    elsewhere.active = config::CarrierKind::Sandbox;
    config::save(&app.state.db, &app.state.secret, &elsewhere)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.state.reload_carrier().await.unwrap();
    assert_eq!(app.state.carrier().kind(), CarrierKind::Sandbox);
    let said: String = app
        .call(
            &ada,
            app::api::carrier::TestCarrier {
                active: "sandbox".into(),
                telnyx_api_key: Default::default(),
                telnyx_public_key: Default::default(),
                telnyx_messaging_profile_id: Default::default(),
                telnyx_api_base: Default::default(),
                twilio_account_sid: Default::default(),
                twilio_auth_token: Default::default(),
                twilio_api_base: Default::default(),
            },
        )
        .await
        .json();
    assert!(said.contains("work"), "{said}");
}

async fn numbers_are_released_only_through_their_own_carrier(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let offers: Vec<NumberOffer> = app.call(&ada, common::numbers_in("212")).await.json();
    let number: OwnedNumber = app
        .call(
            &ada,
            app::api::numbers::BuyNumber {
                e164: offers[0].e164.to_string(),
            },
        )
        .await
        .json();
    app.call(
        &ada,
        app::api::carrier::SaveCarrier {
            active: "twilio".into(),
            telnyx_api_key: Default::default(),
            telnyx_public_key: Default::default(),
            telnyx_messaging_profile_id: Default::default(),
            telnyx_api_base: Default::default(),
            twilio_account_sid: TWILIO_SID.to_string(),
            twilio_auth_token: TWILIO_TOKEN.to_string(),
            twilio_api_base: Default::default(),
        },
    )
    .await
    .json::<()>();
    let reply = app
        .call(
            &ada,
            app::api::numbers::ReleaseNumber {
                number_id: number.id.to_string(),
                confirm: "release".into(),
            },
        )
        .await;
    assert!(
        matches!(reply.error(), AppError::Invalid(ref m) if m.contains("comes from sandbox")),
        "{reply:?}"
    );
    app.call(
        &ada,
        app::api::carrier::SaveCarrier {
            active: "sandbox".into(),
            telnyx_api_key: Default::default(),
            telnyx_public_key: Default::default(),
            telnyx_messaging_profile_id: Default::default(),
            telnyx_api_base: Default::default(),
            twilio_account_sid: Default::default(),
            twilio_auth_token: Default::default(),
            twilio_api_base: Default::default(),
        },
    )
    .await
    .json::<()>();
    app.call(
        &ada,
        app::api::numbers::ReleaseNumber {
            number_id: number.id.to_string(),
            confirm: "release".into(),
        },
    )
    .await
    .json::<()>();
}

/// Each save is new to the other instances, however quickly it follows the last: they
/// reload when the saved version differs from theirs, and it was the save's millisecond.
async fn settings_saved_in_one_millisecond_are_still_each_new(app: &TestApp) {
    let (mut config, _) = config::load_saved(&app.state.db, &app.state.secret)
        .await
        .unwrap()
        .unwrap_or_default();
    let mut versions = Vec::new();
    for round in 0..20 {
        config.active = if round % 2 == 0 {
            CarrierKind::Sandbox
        } else {
            CarrierKind::Twilio
        };
        config.twilio.account_sid = Some(format!("AC{}", "0".repeat(32)));
        config.twilio.auth_token = Some("token".into());
        versions.push(
            config::save(&app.state.db, &app.state.secret, &config)
                .await
                .unwrap(),
        );
        app.state.reload_carrier().await.unwrap();
        assert_eq!(app.state.carrier().kind(), config.active, "save {round}");
    }
    assert!(
        versions.windows(2).all(|w| w[1] > w[0]),
        "versions repeat: {versions:?}"
    );
}

on_both_backends!(
    settings_saved_in_one_millisecond_are_still_each_new,
    only_admins_see_and_change_the_carrier,
    carrier_secrets_are_sealed_and_never_sent_back,
    numbers_are_released_only_through_their_own_carrier,
);
