//! Which carrier is in use and with what credentials: from the server's configuration at
//! first, and from Admin → Carrier once an admin saves it there (then the saved settings
//! win). Saved secrets (Telnyx API key, Twilio auth token) are encrypted at rest with
//! AES-256-GCM under a key derived from the instance secret, and never leave the server.
//!
//! Credentials of both real carriers are kept side by side: numbers bought from one keep
//! receiving its (verified) webhooks after the admin switches to the other.

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Carrier;
use crate::error::{AppError, AppResult};
use crate::server::{instance_settings, now_ms, Db};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CarrierKind {
    /// The built-in offline carrier.
    #[default]
    Sandbox,
    Telnyx,
    Twilio,
}

impl CarrierKind {
    pub fn parse(s: &str) -> Option<CarrierKind> {
        match s {
            "sandbox" => Some(CarrierKind::Sandbox),
            "telnyx" => Some(CarrierKind::Telnyx),
            "twilio" => Some(CarrierKind::Twilio),
            _ => None,
        }
    }

    /// Its name in URLs (`/webhooks/<name>`), storage and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            CarrierKind::Sandbox => "sandbox",
            CarrierKind::Telnyx => "telnyx",
            CarrierKind::Twilio => "twilio",
        }
    }

    /// Its name as people read it.
    pub fn label(self) -> &'static str {
        match self {
            CarrierKind::Sandbox => "Sandbox",
            CarrierKind::Telnyx => "Telnyx",
            CarrierKind::Twilio => "Twilio",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelnyxConfig {
    /// Empty means the production API.
    pub api_base: String,
    pub api_key: Option<String>,
    /// An existing messaging profile; without one, a profile is created on first purchase.
    pub messaging_profile_id: Option<String>,
    /// The webhook public key (base64 Ed25519) from the Telnyx portal.
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwilioConfig {
    /// Empty means the production API.
    pub api_base: String,
    pub account_sid: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierConfig {
    pub active: CarrierKind,
    pub telnyx: TelnyxConfig,
    pub twilio: TwilioConfig,
}

fn filled(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A blank value counts as absent: an empty secret must never switch anything on (a
/// webhook "signed" with the empty key is one anyone can forge).
fn present(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl CarrierConfig {
    /// The same settings with every blank value made absent and the rest trimmed. Every
    /// way settings come in (configuration, Admin → Carrier, the saved copy) passes here.
    pub fn normalized(self) -> CarrierConfig {
        CarrierConfig {
            active: self.active,
            telnyx: TelnyxConfig {
                api_base: self.telnyx.api_base.trim().to_string(),
                api_key: present(self.telnyx.api_key),
                messaging_profile_id: present(self.telnyx.messaging_profile_id),
                public_key: present(self.telnyx.public_key),
            },
            twilio: TwilioConfig {
                api_base: self.twilio.api_base.trim().to_string(),
                account_sid: present(self.twilio.account_sid),
                auth_token: present(self.twilio.auth_token),
            },
        }
    }

    /// What the active carrier still needs, in words naming the field; Ok when complete.
    pub fn check(&self) -> Result<(), String> {
        match self.active {
            CarrierKind::Sandbox => Ok(()),
            CarrierKind::Telnyx => {
                if filled(&self.telnyx.api_key).is_none() {
                    return Err("Telnyx needs its API key.".into());
                }
                match filled(&self.telnyx.public_key) {
                    None => Err("Telnyx needs its webhook public key (inbound texts are verified with it).".into()),
                    Some(key) if super::telnyx::parse_public_key(key).is_none() => Err(
                        "The Telnyx public key should be the base64 key shown in the Telnyx portal.".into(),
                    ),
                    Some(_) => Ok(()),
                }
            }
            CarrierKind::Twilio => {
                let sid_ok = filled(&self.twilio.account_sid).is_some_and(|s| {
                    s.len() == 34
                        && s.starts_with("AC")
                        && s.chars().all(|c| c.is_ascii_alphanumeric())
                });
                if !sid_ok {
                    return Err("Twilio needs its account SID (34 characters, starting AC).".into());
                }
                if filled(&self.twilio.auth_token).is_none() {
                    return Err("Twilio needs its auth token.".into());
                }
                Ok(())
            }
        }
    }

    /// The carrier client for the active carrier (the sandbox is shared, not rebuilt);
    /// `public_url` is where this instance's webhooks are (a carrier commanded mid-call by
    /// pointing a call at new TwiML, Twilio, needs it); `http` gives the instance's HTTP
    /// client for carrier APIs (asked for only by a real carrier).
    pub fn build(
        &self,
        sandbox: &Arc<super::sandbox::Sandbox>,
        public_url: &str,
        http: impl FnOnce() -> reqwest::Client,
    ) -> Arc<dyn Carrier> {
        let or_default = |base: &str, default: &str| {
            if base.trim().is_empty() {
                default.to_string()
            } else {
                base.trim().to_string()
            }
        };
        match self.active {
            CarrierKind::Sandbox => sandbox.clone(),
            CarrierKind::Telnyx => Arc::new(super::telnyx::api::Telnyx::new(
                &or_default(&self.telnyx.api_base, super::telnyx::api::API_BASE),
                filled(&self.telnyx.api_key).unwrap_or_default(),
                filled(&self.telnyx.messaging_profile_id).map(str::to_owned),
                http(),
            )),
            CarrierKind::Twilio => Arc::new(
                super::twilio::api::Twilio::new(
                    &or_default(&self.twilio.api_base, super::twilio::api::API_BASE),
                    filled(&self.twilio.account_sid).unwrap_or_default(),
                    filled(&self.twilio.auth_token).unwrap_or_default(),
                    http(),
                )
                .with_webhook(&format!(
                    "{}/webhooks/twilio",
                    public_url.trim_end_matches('/')
                )),
            ),
        }
    }
}

const SETTINGS_KEY: &str = "carrier";

/// The key that seals saved carrier secrets: derived from the instance secret, so there is
/// one secret to keep (and back up), and a database copy alone reveals no credentials.
fn sealing_key(secret: &[u8; 32]) -> Aes256Gcm {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"switchboard carrier secrets v1");
    Aes256Gcm::new_from_slice(&mac.finalize().into_bytes()).expect("32-byte key")
}

/// AES-256-GCM with a random nonce; `field` is bound as associated data, so a sealed value
/// can't be moved to another field. Stored as base64(nonce ‖ ciphertext).
pub fn seal(secret: &[u8; 32], field: &str, plaintext: &str) -> String {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = sealing_key(secret)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: field.as_bytes(),
            },
        )
        .expect("AES-GCM encryption does not fail for small inputs");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    STANDARD.encode(out)
}

/// The plaintext of [`seal`]; None if it was sealed under another key or altered.
pub fn open(secret: &[u8; 32], field: &str, sealed: &str) -> Option<String> {
    let bytes = STANDARD.decode(sealed).ok()?;
    if bytes.len() < 12 + 16 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let plain = sealing_key(secret)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: field.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
}

#[derive(Serialize, Deserialize)]
struct Saved {
    config: CarrierConfig,
    saved_at: i64,
}

/// The settings an admin saved (secrets opened), with when; None if never saved.
pub async fn load_saved(db: &Db, secret: &[u8; 32]) -> AppResult<Option<(CarrierConfig, i64)>> {
    let Some(value) = instance_settings::get(db, SETTINGS_KEY).await? else {
        return Ok(None);
    };
    let saved: Saved = serde_json::from_str(&value).map_err(AppError::internal)?;
    let mut config = saved.config;
    let unseal = |field: &str, value: &mut Option<String>| -> AppResult<()> {
        if let Some(sealed) = value.take() {
            *value = Some(open(secret, field, &sealed).ok_or_else(|| {
                AppError::internal(format!(
                    "the saved {field} can't be decrypted: was the instance secret changed?"
                ))
            })?);
        }
        Ok(())
    };
    unseal("telnyx.api_key", &mut config.telnyx.api_key)?;
    unseal("twilio.auth_token", &mut config.twilio.auth_token)?;
    Ok(Some((config.normalized(), saved.saved_at)))
}

/// Saves `config` (checked first) with its secrets sealed. Returns when it was saved.
pub async fn save(db: &Db, secret: &[u8; 32], config: &CarrierConfig) -> AppResult<i64> {
    let config = config.clone().normalized();
    config.check().map_err(AppError::invalid)?;
    let mut sealed = config;
    let seal_field = |field: &str, value: &mut Option<String>| {
        *value = filled(value).map(|v| seal(secret, field, v));
    };
    seal_field("telnyx.api_key", &mut sealed.telnyx.api_key);
    seal_field("twilio.auth_token", &mut sealed.twilio.auth_token);
    // What instances compare to see new settings (`AppState::reload_carrier`): a save in
    // the same millisecond as the last one must still differ from it, or the other instances
    // would keep the old settings (seen: an integration test saving twice in a millisecond).
    let last = match instance_settings::get(db, SETTINGS_KEY).await? {
        Some(value) => serde_json::from_str::<Saved>(&value).map_or(0, |s| s.saved_at),
        None => 0,
    };
    let saved_at = now_ms().max(last + 1);
    let value = serde_json::to_string(&Saved {
        config: sealed,
        saved_at,
    })
    .map_err(AppError::internal)?;
    instance_settings::put(db, SETTINGS_KEY, &value).await?;
    Ok(saved_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_field() {
        let key = [9u8; 32];
        let sealed = seal(&key, "telnyx.api_key", "KEY0123");
        assert!(!sealed.contains("KEY0123"));
        assert_eq!(
            open(&key, "telnyx.api_key", &sealed).as_deref(),
            Some("KEY0123")
        );
        assert_eq!(open(&[8u8; 32], "telnyx.api_key", &sealed), None);
        assert_eq!(open(&key, "twilio.auth_token", &sealed), None);
        assert_eq!(open(&key, "telnyx.api_key", "not base64!"), None);
        // Each seal has its own nonce.
        assert_ne!(sealed, seal(&key, "telnyx.api_key", "KEY0123"));
    }

    #[test]
    fn blank_values_count_as_absent() {
        let config = CarrierConfig {
            active: CarrierKind::Twilio,
            telnyx: TelnyxConfig {
                api_base: " ".into(),
                api_key: Some("".into()),
                messaging_profile_id: Some("  ".into()),
                public_key: Some("\t".into()),
            },
            twilio: TwilioConfig {
                api_base: String::new(),
                account_sid: Some(" AC123 ".into()),
                auth_token: Some(" \n".into()),
            },
        }
        .normalized();
        assert_eq!(config.telnyx.api_key, None);
        assert_eq!(config.telnyx.messaging_profile_id, None);
        assert_eq!(config.telnyx.public_key, None);
        assert_eq!(config.twilio.auth_token, None);
        assert_eq!(config.twilio.account_sid.as_deref(), Some("AC123"));
        assert_eq!(config.telnyx.api_base, "");
    }

    #[test]
    fn the_active_carrier_needs_its_credentials() {
        let mut config = CarrierConfig::default();
        assert!(config.check().is_ok());
        config.active = CarrierKind::Telnyx;
        assert!(config.check().unwrap_err().contains("API key"));
        config.telnyx.api_key = Some("KEY".into());
        assert!(config.check().unwrap_err().contains("public key"));
        config.telnyx.public_key = Some("not a key".into());
        assert!(config.check().unwrap_err().contains("base64"));
        config.telnyx.public_key = Some("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".into());
        assert!(config.check().is_ok());
        config.active = CarrierKind::Twilio;
        assert!(config.check().unwrap_err().contains("account SID"));
        config.twilio.account_sid = Some("AC".to_string() + &"a".repeat(32));
        assert!(config.check().unwrap_err().contains("auth token"));
        config.twilio.auth_token = Some("token".into());
        assert!(config.check().is_ok());
    }
}
