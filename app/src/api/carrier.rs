//! Admin → Carrier: which carrier numbers and texts go through, its credentials (secrets are
//! write-only: the browser learns only whether one is saved), and a connection test.
// The form's fields are the server functions' arguments, one each.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::CarrierSettingsView;

/// What the form sends. A blank secret keeps the saved one; a blank API address means the
/// carrier's production API.
#[cfg(feature = "ssr")]
struct CarrierForm {
    active: String,
    telnyx_api_key: String,
    telnyx_public_key: String,
    telnyx_messaging_profile_id: String,
    telnyx_api_base: String,
    twilio_account_sid: String,
    twilio_auth_token: String,
    twilio_api_base: String,
}

#[cfg(feature = "ssr")]
impl CarrierForm {
    /// The settings this form asks for, on top of the ones in use.
    /// The settings in use with this form's changes. An API address that changes must be
    /// https on a public address (the server will send credentials there), and a saved
    /// secret is never sent to an address other than the one it was saved with: a new
    /// address needs its key or token typed again.
    async fn apply_to(
        self,
        mut config: crate::server::carrier::config::CarrierConfig,
        reach: crate::server::safe_http::Reach,
    ) -> Result<crate::server::carrier::config::CarrierConfig, AppError> {
        use crate::server::carrier::config::CarrierKind;
        let optional = |v: String| {
            let v = v.trim().to_string();
            (!v.is_empty()).then_some(v)
        };
        let changes = [
            (
                "Telnyx",
                "API key",
                &self.telnyx_api_base,
                &config.telnyx.api_base,
                &self.telnyx_api_key,
                config.telnyx.api_key.is_some(),
            ),
            (
                "Twilio",
                "auth token",
                &self.twilio_api_base,
                &config.twilio.api_base,
                &self.twilio_auth_token,
                config.twilio.auth_token.is_some(),
            ),
        ];
        for (carrier, secret, base, saved_base, typed_secret, secret_saved) in changes {
            let base = base.trim();
            if base.is_empty() || base.trim_end_matches('/') == saved_base.trim_end_matches('/') {
                continue;
            }
            let checked = match url::Url::parse(base) {
                Ok(url) => crate::server::safe_http::check_resolved(&url, reach).await,
                Err(e) => Err(e.to_string()),
            };
            if let Err(why) = checked {
                return Err(AppError::invalid(format!(
                    "{base} can't be used as the {carrier} API address: {why}."
                )));
            }
            if secret_saved && typed_secret.trim().is_empty() {
                return Err(AppError::invalid(format!(
                    "Enter the {carrier} {secret} again for the new API address: a saved {secret} is only sent to the address it was saved with."
                )));
            }
        }
        config.active = CarrierKind::parse(self.active.trim())
            .ok_or_else(|| AppError::invalid("Choose a carrier: sandbox, telnyx or twilio."))?;
        if let Some(key) = optional(self.telnyx_api_key) {
            config.telnyx.api_key = Some(key);
        }
        config.telnyx.public_key = optional(self.telnyx_public_key);
        config.telnyx.messaging_profile_id = optional(self.telnyx_messaging_profile_id);
        config.telnyx.api_base = self.telnyx_api_base.trim().to_string();
        config.twilio.account_sid = optional(self.twilio_account_sid);
        if let Some(token) = optional(self.twilio_auth_token) {
            config.twilio.auth_token = Some(token);
        }
        config.twilio.api_base = self.twilio_api_base.trim().to_string();
        config.check().map_err(AppError::invalid)?;
        Ok(config)
    }
}

#[server(endpoint = "carrier_settings")]
pub async fn carrier_settings() -> Result<CarrierSettingsView, AppError> {
    use crate::server::context;
    context::require_admin()?;
    let state = context::state()?;
    let (config, saved_at) = state.carrier_config();
    let base = state.settings.base_url();
    Ok(CarrierSettingsView {
        active: state.carrier().kind().as_str().to_string(),
        saved_at,
        telnyx_api_key_saved: config.telnyx.api_key.is_some(),
        telnyx_public_key: config.telnyx.public_key.unwrap_or_default(),
        telnyx_messaging_profile_id: config.telnyx.messaging_profile_id.unwrap_or_default(),
        telnyx_api_base: config.telnyx.api_base,
        twilio_account_sid: config.twilio.account_sid.unwrap_or_default(),
        twilio_auth_token_saved: config.twilio.auth_token.is_some(),
        twilio_api_base: config.twilio.api_base,
        telnyx_webhook_url: format!("{base}/webhooks/telnyx"),
        twilio_webhook_url: format!("{base}/webhooks/twilio"),
    })
}

/// Saves the carrier settings (secrets sealed) and switches to them at once.
#[server(endpoint = "save_carrier")]
pub async fn save_carrier(
    active: String,
    #[server(default)] telnyx_api_key: String,
    #[server(default)] telnyx_public_key: String,
    #[server(default)] telnyx_messaging_profile_id: String,
    #[server(default)] telnyx_api_base: String,
    #[server(default)] twilio_account_sid: String,
    #[server(default)] twilio_auth_token: String,
    #[server(default)] twilio_api_base: String,
) -> Result<(), AppError> {
    use crate::server::{carrier::config, context};
    context::require_admin()?;
    let state = context::state()?;
    let form = CarrierForm {
        active,
        telnyx_api_key,
        telnyx_public_key,
        telnyx_messaging_profile_id,
        telnyx_api_base,
        twilio_account_sid,
        twilio_auth_token,
        twilio_api_base,
    };
    let wanted = form
        .apply_to(state.carrier_config().0, state.settings.fetch_reach)
        .await?;
    config::save(&state.db, &state.secret, &wanted).await?;
    let detail = format!("{} in use", wanted.active.as_str());
    crate::server::audit::record(
        state.db.pool(),
        &context::actor(),
        crate::server::audit::Action::CarrierSettingsChanged,
        None,
        &detail,
    )
    .await?;
    state.reload_carrier().await
}

/// Tries the settings in the form (saved or not) with a cheap authenticated call.
#[server(endpoint = "test_carrier")]
pub async fn test_carrier(
    active: String,
    #[server(default)] telnyx_api_key: String,
    #[server(default)] telnyx_public_key: String,
    #[server(default)] telnyx_messaging_profile_id: String,
    #[server(default)] telnyx_api_base: String,
    #[server(default)] twilio_account_sid: String,
    #[server(default)] twilio_auth_token: String,
    #[server(default)] twilio_api_base: String,
) -> Result<String, AppError> {
    use crate::server::carrier::CarrierError;
    use crate::server::context;
    context::require_admin()?;
    let state = context::state()?;
    let form = CarrierForm {
        active,
        telnyx_api_key,
        telnyx_public_key,
        telnyx_messaging_profile_id,
        telnyx_api_base,
        twilio_account_sid,
        twilio_auth_token,
        twilio_api_base,
    };
    let wanted = form
        .apply_to(state.carrier_config().0, state.settings.fetch_reach)
        .await?;
    let carrier = wanted.build(&state.sandbox, &state.settings.base_url(), || {
        state.carrier_http()
    });
    use crate::server::carrier::config::CarrierKind;
    let name = match carrier.kind() {
        CarrierKind::Sandbox => "The sandbox",
        kind => kind.label(),
    };
    match carrier.test_connection().await {
        Ok(()) => Ok(format!("{name} answered: the settings work.")),
        Err(CarrierError::Config(_)) => Err(AppError::invalid(format!(
            "{name} refused these credentials. Check the key or token."
        ))),
        Err(CarrierError::Transient(detail) | CarrierError::Uncertain(detail)) => {
            tracing::warn!(%detail, "carrier connection test");
            Err(AppError::invalid(format!(
                "{name} could not be reached. Check the network and the API address."
            )))
        }
        Err(CarrierError::RateLimited { .. }) => Err(AppError::invalid(format!(
            "{name} is limiting requests; the credentials look fine. Try again in a minute."
        ))),
        Err(CarrierError::Rejected { code, detail }) => Err(AppError::invalid(format!(
            "{name} answered with an error ({code}): {detail}"
        ))),
    }
}
