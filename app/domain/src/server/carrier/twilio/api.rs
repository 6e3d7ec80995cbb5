//! The Twilio API (2010-04-01) client behind the `Carrier` trait: AvailablePhoneNumbers,
//! IncomingPhoneNumbers (texts to `/webhooks/twilio` by the number's SmsUrl, calls by this
//! instance's TwiML application, so both come in without hand steps), Messages (with a
//! status callback), Calls and Keys (calls in browsers). Tested against Twilio's published
//! OpenAPI spec served by Prism.

use async_trait::async_trait;
use serde::Deserialize;

use super::voice;
use crate::server::carrier::{
    self, Accepted, AvailableNumber, BrowserPhone, CallAction, Carrier, CarrierError, NumberQuery,
    OutboundMessage, PurchasedNumber,
};
use crate::types::{Capabilities, MediaLimits};

pub const API_BASE: &str = "https://api.twilio.com";

pub struct Twilio {
    http: reqwest::Client,
    base: String,
    account_sid: String,
    auth_token: String,
    /// Our webhook (`<public url>/webhooks/twilio`): a call commanded outside a webhook's
    /// answer is pointed back at it.
    webhook: String,
    /// This instance's TwiML application, once found or made ([`Twilio::voice_application`]);
    /// forgotten when Twilio refuses a purchase (someone may have deleted it there).
    voice_application: tokio::sync::Mutex<Option<String>>,
}

#[derive(Deserialize)]
struct ApplicationList {
    #[serde(default)]
    applications: Vec<Application>,
}

#[derive(Deserialize)]
struct Application {
    sid: Option<String>,
    friendly_name: Option<String>,
}

/// Whether `sid` is a Twilio sid of the kind `prefix` (two letters and 32 hex digits): what
/// goes into a path or a number's settings is only ever that.
fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.len() == 34 && sid.starts_with(prefix) && sid.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
}

#[derive(Deserialize)]
struct AvailableList {
    #[serde(default)]
    available_phone_numbers: Vec<AvailableTwilio>,
}

#[derive(Deserialize)]
struct AvailableTwilio {
    phone_number: Option<String>,
    locality: Option<String>,
    region: Option<String>,
    capabilities: Option<TwilioCapabilities>,
}

#[derive(Deserialize)]
struct TwilioCapabilities {
    #[serde(default, rename = "SMS", alias = "sms")]
    sms: bool,
    #[serde(default, rename = "MMS", alias = "mms")]
    mms: bool,
    #[serde(default)]
    voice: bool,
}

#[derive(Deserialize)]
struct Created {
    sid: Option<String>,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

impl Twilio {
    /// Each number's webhook comes with `buy_number`, each message's with the message.
    /// `http` is the instance's client for carrier APIs (`AppState::carrier_http`).
    pub fn new(base: &str, account_sid: &str, auth_token: &str, http: reqwest::Client) -> Twilio {
        Twilio {
            http,
            base: base.trim_end_matches('/').to_string(),
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            webhook: String::new(),
            voice_application: Default::default(),
        }
    }

    /// Where this instance's Twilio webhook is (see [`Twilio::webhook`]).
    pub fn with_webhook(mut self, webhook: &str) -> Twilio {
        self.webhook = webhook.to_string();
        self
    }

    /// This instance's TwiML application (found by its name, else made), pointed at
    /// `webhook_url`: it takes the calls of every number bought here, and tells us when a
    /// caller hangs up. A number carries only its sid, so the voice webhooks live in one
    /// place at Twilio. A found one is pointed at us again (the instance may have moved
    /// from http to https).
    async fn voice_application(&self, webhook_url: &str) -> Result<String, CarrierError> {
        let mut kept = self.voice_application.lock().await;
        if let Some(sid) = kept.as_ref() {
            return Ok(sid.clone());
        }
        let sid = self.find_or_make_application(webhook_url).await?;
        *kept = Some(sid.clone());
        Ok(sid)
    }

    /// [`Twilio::voice_application`], asked of Twilio.
    async fn find_or_make_application(&self, webhook_url: &str) -> Result<String, CarrierError> {
        let name = carrier::instance_name(webhook_url);
        let form = [
            ("FriendlyName", name.as_str()),
            ("VoiceUrl", webhook_url),
            ("VoiceMethod", "POST"),
            // A caller hanging up while browsers ring for them ends the ringing.
            ("StatusCallback", webhook_url),
            ("StatusCallbackMethod", "POST"),
        ];
        let found: Option<ApplicationList> = self
            .call(
                self.http
                    .get(self.url("/Applications.json"))
                    .query(&[("FriendlyName", name.as_str())]),
            )
            .await?;
        let found = found
            .map(|l| l.applications)
            .unwrap_or_default()
            .into_iter()
            .find(|a| a.friendly_name.as_deref() == Some(name.as_str()))
            .and_then(|a| a.sid);
        let path = match &found {
            Some(sid) if is_sid(sid, "AP") => format!("/Applications/{sid}.json"),
            Some(_) => {
                return Err(CarrierError::Uncertain(
                    "Twilio answered an unusable application sid".into(),
                ))
            }
            None => "/Applications.json".to_string(),
        };
        let made: Option<Created> = self
            .call(self.http.post(self.url(&path)).form(&form))
            .await?;
        match made.and_then(|m| m.sid) {
            Some(sid) if is_sid(&sid, "AP") => Ok(sid),
            _ => Err(CarrierError::Uncertain(
                "Twilio made no usable TwiML application".into(),
            )),
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}{path}",
            self.base, self.account_sid
        )
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Option<T>, CarrierError> {
        let response = request
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| CarrierError::from_transport("Twilio", &e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if status.is_success() {
            return response
                .json::<T>()
                .await
                .map(Some)
                .map_err(|e| CarrierError::Uncertain(format!("unreadable Twilio answer: {e}")));
        }
        let retry_after_ms = carrier::retry_after_ms(response.headers());
        let error: Option<TwilioError> = response.json().await.ok();
        let code = error
            .as_ref()
            .and_then(|e| e.code.as_ref())
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| c.to_string())
            })
            .unwrap_or_else(|| status.as_u16().to_string());
        let detail = error
            .and_then(|e| e.message)
            .unwrap_or_else(|| status.to_string());
        Err(carrier::classify_failure(
            "Twilio",
            status.as_u16(),
            code,
            detail,
            retry_after_ms,
        ))
    }
}

#[async_trait]
impl Carrier for Twilio {
    fn kind(&self) -> crate::server::carrier::config::CarrierKind {
        crate::server::carrier::config::CarrierKind::Twilio
    }

    async fn search_numbers(
        &self,
        query: &NumberQuery,
    ) -> Result<Vec<AvailableNumber>, CarrierError> {
        let mut params: Vec<(&str, String)> = vec![("PageSize", query.limit.to_string())];
        if let Some(code) = &query.area_code {
            params.push(("AreaCode", code.clone()));
        }
        if let Some(digits) = &query.contains {
            params.push(("Contains", digits.clone()));
        }
        for (wanted, name) in [
            (query.needs.sms, "SmsEnabled"),
            (query.needs.mms, "MmsEnabled"),
            (query.needs.voice, "VoiceEnabled"),
        ] {
            if wanted {
                params.push((name, "true".into()));
            }
        }
        let path = format!("/AvailablePhoneNumbers/{}/Local.json", query.country);
        let list: Option<AvailableList> = self
            .call(self.http.get(self.url(&path)).query(&params))
            .await?;
        Ok(list
            .map(|l| l.available_phone_numbers)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| {
                let caps = n
                    .capabilities
                    .map(|c| Capabilities {
                        sms: c.sms,
                        mms: c.mms,
                        voice: c.voice,
                    })
                    .unwrap_or_default();
                let place = [n.locality, n.region]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                Some(AvailableNumber {
                    e164: n.phone_number?,
                    locality: place,
                    capabilities: caps,
                })
            })
            .collect())
    }

    async fn buy_number(
        &self,
        e164: &str,
        webhook_url: &str,
    ) -> Result<PurchasedNumber, CarrierError> {
        // Its calls come to the same webhook, through this instance's TwiML application
        // (calls/carrier.rs answers them with TwiML).
        let calls_to = self.voice_application(webhook_url).await?;
        let form = [
            ("PhoneNumber", e164),
            ("SmsUrl", webhook_url),
            ("SmsMethod", "POST"),
            ("VoiceApplicationSid", calls_to.as_str()),
        ];
        let bought: Result<Option<Created>, CarrierError> = self
            .call(
                self.http
                    .post(self.url("/IncomingPhoneNumbers.json"))
                    .form(&form),
            )
            .await;
        if let Err(CarrierError::Rejected { .. }) = &bought {
            // Maybe for an application deleted at Twilio: the next purchase asks again.
            *self.voice_application.lock().await = None;
        }
        let sid = bought?
            .and_then(|c| c.sid)
            .ok_or_else(|| CarrierError::Transient("Twilio gave no number sid".into()))?;
        Ok(PurchasedNumber {
            carrier_ref: sid,
            capabilities: Capabilities::ALL,
        })
    }

    async fn release_number(&self, carrier_ref: &str) -> Result<(), CarrierError> {
        let _: Option<serde_json::Value> = self
            .call(
                self.http
                    .delete(self.url(&format!("/IncomingPhoneNumbers/{carrier_ref}.json"))),
            )
            .await?;
        Ok(())
    }

    /// A number bought before the TwiML application kept a VoiceUrl of its own: its calls
    /// came, but the application's StatusCallback (a held caller hanging up) did not.
    async fn route_calls(&self, carrier_ref: &str, webhook_url: &str) -> Result<(), CarrierError> {
        // The sid goes into the path: nothing but a number's sid may.
        if !is_sid(carrier_ref, "PN") {
            return Err(CarrierError::Config(format!(
                "not a Twilio number sid: {carrier_ref:?}"
            )));
        }
        let calls_to = self.voice_application(webhook_url).await?;
        let updated: Result<Option<serde_json::Value>, CarrierError> = self
            .call(
                self.http
                    .post(self.url(&format!("/IncomingPhoneNumbers/{carrier_ref}.json")))
                    .form(&[("VoiceApplicationSid", calls_to.as_str())]),
            )
            .await;
        if let Err(CarrierError::Rejected { .. }) = &updated {
            // Maybe for an application deleted at Twilio, as in buy_number.
            *self.voice_application.lock().await = None;
        }
        updated.map(|_| ())
    }

    async fn send_message(&self, message: &OutboundMessage) -> Result<Accepted, CarrierError> {
        let mut form = vec![
            ("To", message.to.as_str()),
            ("From", message.from.as_str()),
            ("Body", message.body.as_str()),
            ("StatusCallback", message.status_callback.as_str()),
        ];
        // Twilio takes one `MediaUrl` parameter per picture.
        form.extend(message.media_urls.iter().map(|u| ("MediaUrl", u.as_str())));
        let created: Option<Created> = self
            .call(self.http.post(self.url("/Messages.json")).form(&form))
            .await?;
        let sid = created
            .and_then(|c| c.sid)
            .ok_or_else(|| CarrierError::Uncertain("Twilio gave no message sid".into()))?;
        Ok(Accepted {
            carrier_message_id: sid,
        })
    }

    async fn test_connection(&self) -> Result<(), CarrierError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}.json",
            self.base, self.account_sid
        );
        let _: Option<serde_json::Value> = self.call(self.http.get(url)).await?;
        Ok(())
    }

    /// Calls are commanded by the TwiML answering their webhooks; outside one (our ring
    /// timer, a hang-up here, a browser picking up), by updating the live call: pointed
    /// back at our webhook for the voicemail (`step=voicemail`), ringing a browser (a
    /// `<Dial>`), or ended. A `Dial` with no call places a new one (to a browser: its
    /// events come back with `state`). `call_id` is a CallSid from a verified webhook
    /// (checked by `twilio::parse`).
    async fn call_action(
        &self,
        call_id: &str,
        action: &CallAction,
        _command_id: &str,
        state: &str,
    ) -> Result<Option<String>, CarrierError> {
        let voicemail = format!("{}?step=voicemail", self.webhook);
        let dial_twiml;
        let form: Vec<(&str, &str)> = match action {
            CallAction::Answer if state == "voicemail" => {
                vec![("Url", voicemail.as_str()), ("Method", "POST")]
            }
            CallAction::Dial {
                to,
                from,
                timeout_secs,
                ..
            } if call_id.is_empty() => return self.place(to, from, *timeout_secs, state).await,
            CallAction::Dial {
                to,
                from,
                timeout_secs,
                ..
            } => {
                dial_twiml = voice::dial_twiml(to, from, *timeout_secs, &self.webhook, state);
                vec![("Twiml", dial_twiml.as_str())]
            }
            CallAction::HangUp => vec![("Status", "completed")],
            other => {
                return Err(CarrierError::Config(format!(
                    "Twilio takes {other:?} only in a webhook's answer"
                )))
            }
        };
        let updated: Result<Option<serde_json::Value>, CarrierError> = self
            .call(
                self.http
                    .post(self.url(&format!("/Calls/{call_id}.json")))
                    .form(&form),
            )
            .await;
        match updated {
            // Twilio takes no command id: pointing a call at a new <Dial> twice would
            // cancel the browser the first one rang (it may have answered). Not repeated
            // unless Twilio said it did nothing (429).
            Err(e @ (CarrierError::Uncertain(_) | CarrierError::Transient(_)))
                if matches!(action, CallAction::Dial { .. }) =>
            {
                Err(CarrierError::Rejected {
                    code: "not-repeated".into(),
                    detail: e.to_string(),
                })
            }
            other => other.map(|_| None),
        }
    }

    /// A browser's identity: ours to choose (Twilio rings whoever signs in with a token
    /// for it, and only we sign them). Nothing is made at Twilio.
    async fn new_browser_phone(
        &self,
        _webhook_url: &str,
        _name: &str,
    ) -> Result<BrowserPhone, CarrierError> {
        let identity = format!("sb_{}", crate::server::crypto::new_id().replace('-', ""));
        Ok(BrowserPhone {
            credential_id: identity.clone(),
            sip_username: identity,
        })
    }

    fn browser_setup_name(&self) -> Option<String> {
        Some(format!("twilio.{}", self.account_sid))
    }

    /// An API key of the account, whose secret signs browsers' tokens.
    async fn browser_phones_setup(&self) -> Result<String, CarrierError> {
        #[derive(Deserialize)]
        struct Key {
            sid: Option<String>,
            secret: Option<String>,
        }
        let made: Option<Key> = self
            .call(
                self.http
                    .post(self.url("/Keys.json"))
                    .form(&[("FriendlyName", "Switchboard browsers")]),
            )
            .await?;
        let key = match made {
            Some(Key {
                sid: Some(sid),
                secret: Some(secret),
            }) if sid.starts_with("SK") && !secret.is_empty() => voice::SigningKey { sid, secret },
            _ => {
                return Err(CarrierError::Uncertain(
                    "Twilio made no usable API key".into(),
                ))
            }
        };
        serde_json::to_string(&key).map_err(|e| CarrierError::Config(e.to_string()))
    }

    /// The API key deleted at Twilio: tokens it signs are refused, so a new one is made.
    async fn browser_setup_gone(&self, setup: &str) -> bool {
        let Ok(key) = serde_json::from_str::<voice::SigningKey>(setup) else {
            return true;
        };
        if !is_sid(&key.sid, "SK") {
            return true;
        }
        let asked = self
            .call::<serde_json::Value>(self.http.get(self.url(&format!("/Keys/{}.json", key.sid))))
            .await;
        // Twilio's "not found" (20404); a bare 404 when it names no code.
        matches!(asked, Err(CarrierError::Rejected { code, .. }) if code == "20404" || code == "404")
    }

    async fn browser_phone_token(
        &self,
        credential_id: &str,
        setup: Option<&str>,
    ) -> Result<String, CarrierError> {
        let key: voice::SigningKey = setup
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| CarrierError::Config("no Twilio key signs browser tokens".into()))?;
        if !voice::is_identity(credential_id) {
            return Err(CarrierError::Config("not a browser identity".into()));
        }
        Ok(voice::access_token(
            &self.account_sid,
            &key,
            credential_id,
            None,
            crate::server::now_ms() / 1000,
            voice::TOKEN_SECS,
        ))
    }

    /// Calls we place carry their own webhooks: no connection to find.
    async fn calls_connection(&self, _webhook_url: &str) -> Result<String, CarrierError> {
        Ok(String::new())
    }

    fn sends_per_second(&self) -> f64 {
        // Twilio long codes: 1 message segment per second per number (US/Canada).
        1.0
    }

    fn media_limits(&self) -> MediaLimits {
        MediaLimits::TWILIO
    }

    /// Twilio's media URLs need the account's credentials (when HTTP auth is on for media);
    /// they are sent only to Twilio's own API host, never to wherever a URL points.
    async fn fetch_media(
        &self,
        http: &reqwest::Client,
        url: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, CarrierError> {
        let mut request = http.get(url);
        if same_host(url, &self.base) {
            request = request.basic_auth(&self.account_sid, Some(&self.auth_token));
        }
        carrier::download(&request, max_bytes).await
    }
}

/// Whether `url` is on the same scheme, host and port as `base` (where credentials may go).
impl Twilio {
    /// Places a call to `to` (a browser, `client:<identity>`) from our number `from`,
    /// ringing `timeout_secs`; its answer and its end come back to our webhook with
    /// `state`. Answers its CallSid. Twilio takes no idempotency key: a call whose answer
    /// was lost, or that met a server error, is not placed again (it could ring twice); it
    /// counts as failed.
    async fn place(
        &self,
        to: &str,
        from: &str,
        timeout_secs: u32,
        state: &str,
    ) -> Result<Option<String>, CarrierError> {
        let answered = voice::step_url(&self.webhook, state, "answered");
        let ended = voice::step_url(&self.webhook, state, "ended");
        let timeout = timeout_secs.to_string();
        let form = [
            ("To", to),
            ("From", from),
            ("Url", answered.as_str()),
            ("Method", "POST"),
            ("StatusCallback", ended.as_str()),
            ("StatusCallbackMethod", "POST"),
            ("Timeout", timeout.as_str()),
        ];
        let placed: Result<Option<Created>, CarrierError> = self
            .call(self.http.post(self.url("/Calls.json")).form(&form))
            .await;
        match placed {
            Ok(created) => {
                created
                    .and_then(|c| c.sid)
                    .map(Some)
                    .ok_or_else(|| CarrierError::Rejected {
                        code: "no-sid".into(),
                        detail: "Twilio gave no call sid".into(),
                    })
            }
            Err(e @ (CarrierError::Uncertain(_) | CarrierError::Transient(_))) => {
                Err(CarrierError::Rejected {
                    code: "not-repeated".into(),
                    detail: e.to_string(),
                })
            }
            Err(e) => Err(e),
        }
    }
}

fn same_host(url: &str, base: &str) -> bool {
    match (url::Url::parse(url), url::Url::parse(base)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod credential_tests {
    #[test]
    fn credentials_go_only_to_twilios_own_host() {
        let base = "https://api.twilio.com";
        assert!(super::same_host(
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            base
        ));
        assert!(!super::same_host("https://media.telnyx.com/x.jpg", base));
        assert!(!super::same_host("http://api.twilio.com/x", base));
        assert!(!super::same_host(
            "https://api.twilio.com.evil.example/x",
            base
        ));
    }
}
