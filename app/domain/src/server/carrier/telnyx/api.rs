//! The Telnyx API v2 client behind the `Carrier` trait: available numbers, number orders,
//! messaging profiles (so inbound texts reach `/webhooks/telnyx` without hand steps), the
//! Call Control application (so calls do too), phone numbers, messages and call commands. Tested against Telnyx's published OpenAPI spec served by Prism.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::OnceCell;

use crate::server::carrier::{
    self, Accepted, AvailableNumber, BrowserPhone, CallAction, Carrier, CarrierError, NumberQuery,
    OutboundMessage, PurchasedNumber,
};
use crate::types::{Capabilities, MediaLimits};

pub const API_BASE: &str = "https://api.telnyx.com/v2";

pub struct Telnyx {
    http: reqwest::Client,
    base: String,
    api_key: String,
    /// The messaging profile our numbers use; created on first purchase when not given.
    messaging_profile_id: OnceCell<String>,
    /// The Call Control application our numbers' calls go to; found by its name, or
    /// created, on first purchase.
    call_control_app_id: OnceCell<String>,
    /// The credential connection our browsers' telephony credentials hang from; found by its
    /// name, or created, when the first browser asks to take calls.
    browser_connection_id: OnceCell<String>,
}

#[derive(Deserialize)]
struct TelephonyCredential {
    id: String,
    sip_username: String,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct Available {
    phone_number: String,
    #[serde(default)]
    features: Vec<Feature>,
    #[serde(default)]
    region_information: Vec<Region>,
}

#[derive(Deserialize)]
struct Feature {
    name: String,
}

#[derive(Deserialize)]
struct Region {
    region_name: String,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct Order {
    #[serde(default)]
    phone_numbers: Vec<OrderedNumber>,
}

#[derive(Deserialize)]
struct OrderedNumber {
    id: Option<String>,
    phone_number: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    code: Option<serde_json::Value>,
    title: Option<String>,
    detail: Option<String>,
}

impl Telnyx {
    /// `base` is [`API_BASE`] in production (tests point it at a mock of the published spec);
    /// `http` is the instance's client for carrier APIs (`AppState::carrier_http`).
    pub fn new(
        base: &str,
        api_key: &str,
        messaging_profile_id: Option<String>,
        http: reqwest::Client,
    ) -> Telnyx {
        let profile = OnceCell::new();
        if let Some(id) = messaging_profile_id {
            let _ = profile.set(id);
        }
        Telnyx {
            http,
            base: base.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            messaging_profile_id: profile,
            call_control_app_id: OnceCell::new(),
            browser_connection_id: OnceCell::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and decodes `{"data": …}`, mapping failures to what the queue needs.
    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, CarrierError> {
        let response = request
            .bearer_auth(&self.api_key)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| CarrierError::from_transport("Telnyx", &e))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<Data<T>>()
                .await
                .map(|d| d.data)
                .map_err(|e| CarrierError::Uncertain(format!("unreadable Telnyx answer: {e}")));
        }
        let retry_after_ms = carrier::retry_after_ms(response.headers());
        let body: ErrorBody = response
            .json()
            .await
            .unwrap_or(ErrorBody { errors: Vec::new() });
        let first = body.errors.into_iter().next();
        let code = first
            .as_ref()
            .and_then(|e| e.code.as_ref())
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| c.to_string())
            })
            .unwrap_or_else(|| status.as_u16().to_string());
        let detail = first
            .and_then(|e| e.detail.or(e.title))
            .unwrap_or_else(|| status.to_string());
        Err(carrier::classify_failure(
            "Telnyx",
            status.as_u16(),
            code,
            detail,
            retry_after_ms,
        ))
    }

    /// Creates the messaging profile whose webhooks point at us (once).
    async fn messaging_profile(&self, webhook_url: &str) -> Result<String, CarrierError> {
        self.messaging_profile_id
            .get_or_try_init(|| async {
                let created: IdOnly = self
                    .call(
                        self.http
                            .post(self.url("/messaging_profiles"))
                            .json(&json!({
                                "name": "Switchboard",
                                "enabled": true,
                                "webhook_url": webhook_url,
                                "webhook_api_version": "2",
                                "whitelisted_destinations": ["US", "CA"],
                            })),
                    )
                    .await?;
                Ok(created.id)
            })
            .await
            .cloned()
    }
}

impl Telnyx {
    /// The id of the resource at `path` (a list filtered by `name_field`) named `name`:
    /// the one made before (found again after a restart instead of made twice), else one
    /// made with `body`.
    async fn found_or_made(
        &self,
        path: &str,
        name_field: &str,
        name: &str,
        body: serde_json::Value,
    ) -> Result<String, CarrierError> {
        let filter = format!("filter[{name_field}][contains]");
        let found: Vec<serde_json::Value> = self
            .call(
                self.http
                    .get(self.url(path))
                    .query(&[(filter.as_str(), name)]),
            )
            .await?;
        if let Some(id) = found
            .iter()
            .find(|r| r[name_field] == name)
            .and_then(|r| r["id"].as_str())
        {
            return Ok(id.to_string());
        }
        let created: IdOnly = self
            .call(self.http.post(self.url(path)).json(&body))
            .await?;
        Ok(created.id)
    }

    /// The Call Control application whose webhooks point at us.
    async fn call_control_app(&self, webhook_url: &str) -> Result<String, CarrierError> {
        self.call_control_app_id
            .get_or_try_init(|| async {
                let name = carrier::instance_name(webhook_url);
                let body = json!({
                    "application_name": name,
                    "webhook_event_url": webhook_url,
                    "webhook_api_version": "2",
                });
                self.found_or_made(
                    "/call_control_applications",
                    "application_name",
                    &name,
                    body,
                )
                .await
            })
            .await
            .cloned()
    }

    /// The credential connection for this instance's browsers. Its SIP addresses take calls
    /// from this account only (`internal`), so nobody else can ring a user's browser. Its
    /// own user name and password are never used (each browser signs in with a token of
    /// its own credential), so they are random and not kept.
    async fn browser_connection(&self, webhook_url: &str) -> Result<String, CarrierError> {
        self.browser_connection_id
            .get_or_try_init(|| async {
                let name = format!("{} browsers", carrier::instance_name(webhook_url));
                let secret = || crate::server::crypto::new_id().replace('-', "");
                let body = json!({
                    "connection_name": name,
                    "user_name": format!("switchboard{}", &secret()[..12]),
                    "password": secret(),
                    "sip_uri_calling_preference": "internal",
                    "webhook_event_url": webhook_url,
                    "webhook_api_version": "2",
                });
                self.found_or_made("/credential_connections", "connection_name", &name, body)
                    .await
            })
            .await
            .cloned()
    }
}

/// The spoken words' settings: Telnyx's basic voice (US English, plain text).
fn voice(text: &str) -> serde_json::Value {
    json!({
        "payload": text,
        "payload_type": "text",
        "voice": "female",
        "language": "en-US",
        "service_level": "basic",
    })
}

/// A call command's path for the held call `call_id` and its body (without `command_id`
/// and `client_state`).
fn call_command(call_id: &str, action: &CallAction) -> (String, serde_json::Value) {
    let on_call = |command: &str| format!("/calls/{call_id}/actions/{command}");
    match action {
        CallAction::Answer => (on_call("answer"), json!({})),
        CallAction::Speak { text } => (on_call("speak"), voice(text)),
        CallAction::Play { url } => (on_call("playback_start"), json!({ "audio_url": url })),
        CallAction::AskForKey { text } => {
            let mut body = voice(text);
            body["minimum_digits"] = 1.into();
            body["maximum_digits"] = 1.into();
            body["timeout_millis"] = 8000.into();
            (on_call("gather_using_speak"), body)
        }
        CallAction::Bridge { other } => (on_call("bridge"), json!({ "call_control_id": other })),
        CallAction::Dial {
            to,
            from,
            connection,
            timeout_secs,
        } => {
            let mut body = json!({
                "connection_id": connection,
                "to": to,
                "from": from,
                "timeout_secs": timeout_secs,
            });
            // Tied to the held call it is for; a call placed for a browser calling out is
            // tied to nothing yet.
            if !call_id.is_empty() {
                body["link_to"] = call_id.into();
            }
            ("/calls".into(), body)
        }
        CallAction::RecordVoicemail { max_secs } => (
            on_call("record_start"),
            json!({
                "format": "mp3",
                "channels": "single",
                "play_beep": true,
                "max_length": max_secs,
                // Ten seconds of silence end it: the caller has said their piece.
                "timeout_secs": 10,
                "trim": "trim-silence",
                "transcription": true,
                "transcription_engine": "B",
                "transcription_language": "en",
            }),
        ),
        CallAction::HangUp => (on_call("hangup"), json!({})),
    }
}

/// An id Telnyx gave us goes into a URL path: only the characters its ids hold.
fn check_id(id: &str) -> Result<(), CarrierError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(CarrierError::Uncertain(format!(
            "Telnyx answered an unusable id ({} characters)",
            id.len()
        )));
    }
    Ok(())
}

fn capabilities(features: &[Feature]) -> Capabilities {
    let has = |n: &str| features.iter().any(|f| f.name == n);
    Capabilities {
        sms: has("sms"),
        mms: has("mms"),
        voice: has("voice"),
    }
}

#[async_trait]
impl Carrier for Telnyx {
    fn kind(&self) -> crate::server::carrier::config::CarrierKind {
        crate::server::carrier::config::CarrierKind::Telnyx
    }

    async fn search_numbers(
        &self,
        query: &NumberQuery,
    ) -> Result<Vec<AvailableNumber>, CarrierError> {
        let mut params: Vec<(String, String)> = vec![
            ("filter[country_code]".into(), query.country.clone()),
            ("filter[limit]".into(), query.limit.to_string()),
        ];
        if let Some(code) = &query.area_code {
            params.push(("filter[national_destination_code]".into(), code.clone()));
        }
        if let Some(digits) = &query.contains {
            params.push(("filter[phone_number][contains]".into(), digits.clone()));
        }
        for (wanted, name) in [
            (query.needs.sms, "sms"),
            (query.needs.mms, "mms"),
            (query.needs.voice, "voice"),
        ] {
            if wanted {
                params.push(("filter[features]".into(), name.into()));
            }
        }
        let found: Vec<Available> = self
            .call(
                self.http
                    .get(self.url("/available_phone_numbers"))
                    .query(&params),
            )
            .await?;
        Ok(found
            .into_iter()
            .map(|n| AvailableNumber {
                locality: n
                    .region_information
                    .first()
                    .map(|r| r.region_name.clone())
                    .unwrap_or_default(),
                capabilities: capabilities(&n.features),
                e164: n.phone_number,
            })
            .collect())
    }

    async fn buy_number(
        &self,
        e164: &str,
        webhook_url: &str,
    ) -> Result<PurchasedNumber, CarrierError> {
        let profile = self.messaging_profile(webhook_url).await?;
        let calls_to = self.call_control_app(webhook_url).await?;
        let order: Order = self
            .call(self.http.post(self.url("/number_orders")).json(&json!({
                "phone_numbers": [{ "phone_number": e164 }],
                "messaging_profile_id": profile,
                "connection_id": calls_to,
                "customer_reference": "switchboard",
            })))
            .await?;
        let ordered = order
            .phone_numbers
            .into_iter()
            .find(|n| n.phone_number == e164);
        let carrier_ref = ordered
            .and_then(|n| n.id)
            .unwrap_or_else(|| e164.to_string());
        // What an order returns says nothing of features; a bought long code does SMS/MMS/voice.
        Ok(PurchasedNumber {
            carrier_ref,
            capabilities: Capabilities::ALL,
        })
    }

    async fn release_number(&self, carrier_ref: &str) -> Result<(), CarrierError> {
        let _: serde_json::Value = self
            .call(
                self.http
                    .delete(self.url(&format!("/phone_numbers/{carrier_ref}"))),
            )
            .await?;
        Ok(())
    }

    /// A number bought before the Call Control application had no connection: its calls
    /// never reached us.
    async fn route_calls(&self, carrier_ref: &str, webhook_url: &str) -> Result<(), CarrierError> {
        // Telnyx's number ids are digits; an order that named none left the number itself
        // (its '+' escaped in the path). Nothing else goes into the path.
        let digits =
            |d: &str| !d.is_empty() && d.len() <= 20 && d.bytes().all(|b| b.is_ascii_digit());
        let id = match carrier_ref.strip_prefix('+') {
            Some(d) if digits(d) => format!("%2B{d}"),
            None if digits(carrier_ref) => carrier_ref.to_string(),
            _ => {
                return Err(CarrierError::Config(format!(
                    "not a Telnyx number id: {carrier_ref:?}"
                )))
            }
        };
        let calls_to = self.call_control_app(webhook_url).await?;
        let _: serde_json::Value = self
            .call(
                self.http
                    .patch(self.url(&format!("/phone_numbers/{id}")))
                    .json(&json!({ "connection_id": calls_to })),
            )
            .await?;
        Ok(())
    }

    async fn send_message(&self, message: &OutboundMessage) -> Result<Accepted, CarrierError> {
        // Telnyx replays the first answer to a request repeated with the same key (24 h), so
        // a send retried after an unanswered try is not delivered twice.
        let sent: IdOnly = self
            .call(
                self.http
                    .post(self.url("/messages"))
                    .header("Idempotency-Key", &message.id)
                    .json(&json!({
                        "from": message.from,
                        "to": message.to,
                        "text": message.body,
                        "media_urls": message.media_urls,
                        // This message's reports come to a URL naming it (see OutboundMessage).
                        "webhook_url": message.status_callback,
                    })),
            )
            .await?;
        Ok(Accepted {
            carrier_message_id: sent.id,
        })
    }

    async fn call_action(
        &self,
        call_id: &str,
        action: &CallAction,
        command_id: &str,
        state: &str,
    ) -> Result<Option<String>, CarrierError> {
        let (path, mut body) = call_command(call_id, action);
        body["command_id"] = command_id.into();
        if !state.is_empty() {
            body["client_state"] = super::encode_state(state).into();
        }
        // `call_id` came from a verified webhook and holds only URL-safe characters
        // (telnyx::parse checks).
        let answer: serde_json::Value = self
            .call(self.http.post(self.url(&path)).json(&body))
            .await?;
        // A placed call (`POST /calls`) answers its id; commands answer `{"result": "ok"}`.
        Ok(answer["call_control_id"].as_str().map(str::to_owned))
    }

    async fn new_browser_phone(
        &self,
        webhook_url: &str,
        name: &str,
    ) -> Result<BrowserPhone, CarrierError> {
        let connection = self.browser_connection(webhook_url).await?;
        let made: TelephonyCredential = self
            .call(
                self.http
                    .post(self.url("/telephony_credentials"))
                    .json(&json!({
                        "connection_id": connection,
                        "name": name,
                        "tag": "switchboard",
                    })),
            )
            .await?;
        check_id(&made.id)?;
        // It becomes part of a SIP address we dial: only what such a name holds.
        if made.sip_username.is_empty()
            || made.sip_username.len() > 64
            || !made.sip_username.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(CarrierError::Uncertain(
                "Telnyx answered an unusable SIP user name".into(),
            ));
        }
        Ok(BrowserPhone {
            credential_id: made.id,
            sip_username: made.sip_username,
        })
    }

    async fn calls_connection(&self, webhook_url: &str) -> Result<String, CarrierError> {
        self.call_control_app(webhook_url).await
    }

    async fn browser_phone_token(
        &self,
        credential_id: &str,
        _setup: Option<&str>,
    ) -> Result<String, CarrierError> {
        check_id(credential_id)?;
        let response = self
            .http
            .post(self.url(&format!("/telephony_credentials/{credential_id}/token")))
            .bearer_auth(&self.api_key)
            .header("accept", "text/plain")
            .send()
            .await
            .map_err(|e| CarrierError::from_transport("Telnyx", &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(carrier::classify_failure(
                "Telnyx",
                status.as_u16(),
                status.as_u16().to_string(),
                "no token for this browser".into(),
                carrier::retry_after_ms(response.headers()),
            ));
        }
        let token = response
            .text()
            .await
            .map_err(|e| CarrierError::from_transport("Telnyx", &e))?;
        let token = token.trim();
        // A JWT: three base64url parts. Anything else is not handed to a browser.
        let parts: Vec<&str> = token.split('.').collect();
        let base64url = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        };
        if token.len() > 8_192 || parts.len() != 3 || !parts.iter().all(|p| base64url(p)) {
            return Err(CarrierError::Uncertain(
                "Telnyx answered something that is not a token".into(),
            ));
        }
        Ok(token.to_string())
    }

    async fn forget_browser_phone(&self, credential_id: &str) -> Result<(), CarrierError> {
        check_id(credential_id)?;
        let _: serde_json::Value = self
            .call(
                self.http
                    .delete(self.url(&format!("/telephony_credentials/{credential_id}"))),
            )
            .await?;
        Ok(())
    }

    async fn test_connection(&self) -> Result<(), CarrierError> {
        let _: serde_json::Value = self
            .call(
                self.http
                    .get(self.url("/messaging_profiles"))
                    .query(&[("page[size]", "1")]),
            )
            .await?;
        Ok(())
    }

    fn sends_per_second(&self) -> f64 {
        // Telnyx long codes: 1 message per second per number unless the campaign allows more.
        1.0
    }

    fn media_limits(&self) -> MediaLimits {
        // The spec's `media_urls`: "The total media size must be less than 1 MB."
        MediaLimits {
            max_files: 10,
            max_file_bytes: 1_000_000,
            max_total_bytes: 1_000_000,
        }
    }
}

#[cfg(test)]
mod answer_checks {
    //! What Telnyx answers becomes part of a SIP address we dial, a token a browser runs
    //! with, a path we call: a Telnyx (or anything posing as its API) answering something
    //! else is refused, never passed on.
    use super::*;
    use axum::routing::{get, post};

    /// A Telnyx that answers a SIP user name that is an address elsewhere, a token that is
    /// a script, and a credential id that climbs out of its path.
    async fn hostile_telnyx() -> Telnyx {
        let router = axum::Router::new()
            .route(
                "/credential_connections",
                get(|| async { axum::Json(json!({"data": []})) })
                    .post(|| async { axum::Json(json!({"data": {"id": "conn-1"}})) }),
            )
            .route(
                "/telephony_credentials",
                post(|| async {
                    axum::Json(json!({"data": {
                        "id": "cred-1",
                        "sip_username": "victim@sip.elsewhere.example;transport=tcp",
                    }}))
                }),
            )
            .route(
                "/telephony_credentials/{id}/token",
                post(|| async { "<script>alert(1)</script>" }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Telnyx::new(&base, "KEY", None, carrier::api_client())
    }

    #[tokio::test]
    async fn what_telnyx_answers_for_a_browser_phone_is_checked() {
        let telnyx = hostile_telnyx().await;
        let made = telnyx
            .new_browser_phone(
                "https://switchboard.example/webhooks/telnyx",
                "Switchboard x",
            )
            .await;
        assert!(
            matches!(&made, Err(CarrierError::Uncertain(why)) if why.contains("SIP user name")),
            "{made:?}"
        );
        let token = telnyx.browser_phone_token("cred-1", None).await;
        assert!(
            matches!(&token, Err(CarrierError::Uncertain(why)) if why.contains("not a token")),
            "{token:?}"
        );
        for id in ["../calls", "cred-1/token?x=", ""] {
            assert!(telnyx.browser_phone_token(id, None).await.is_err(), "{id}");
            assert!(telnyx.forget_browser_phone(id).await.is_err(), "{id}");
        }
    }
}
