//! The Twilio API (2010-04-01) client behind the `Carrier` trait: AvailablePhoneNumbers,
//! IncomingPhoneNumbers (with SmsUrl and VoiceUrl pointing at `/webhooks/twilio`, so texts
//! and calls come in without hand steps), Messages (with a status callback). Tested against
//! Twilio's published OpenAPI spec served by Prism.

use async_trait::async_trait;
use serde::Deserialize;

use crate::server::carrier::{
    self, Accepted, AvailableNumber, CallAction, Carrier, CarrierError, NumberQuery,
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
    pub fn new(base: &str, account_sid: &str, auth_token: &str) -> Twilio {
        let http = carrier::api_client();
        Twilio {
            http,
            base: base.trim_end_matches('/').to_string(),
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            webhook: String::new(),
        }
    }

    /// Where this instance's Twilio webhook is (see [`Twilio::webhook`]).
    pub fn with_webhook(mut self, webhook: &str) -> Twilio {
        self.webhook = webhook.to_string();
        self
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
        let form = [
            ("PhoneNumber", e164),
            ("SmsUrl", webhook_url),
            ("SmsMethod", "POST"),
            // Its calls come to the same webhook (calls/carrier.rs answers them with TwiML).
            ("VoiceUrl", webhook_url),
            ("VoiceMethod", "POST"),
        ];
        let created: Option<Created> = self
            .call(
                self.http
                    .post(self.url("/IncomingPhoneNumbers.json"))
                    .form(&form),
            )
            .await?;
        let sid = created
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
    /// timer, a hang-up here), by updating the live call: pointed back at our webhook for
    /// the voicemail (`step=voicemail`), or ended. `call_id` is a CallSid from a verified
    /// webhook (checked by `twilio::parse`).
    async fn call_action(
        &self,
        call_id: &str,
        action: &CallAction,
        _command_id: &str,
        state: &str,
    ) -> Result<Option<String>, CarrierError> {
        let voicemail = format!("{}?step=voicemail", self.webhook);
        let form: Vec<(&str, &str)> = match action {
            CallAction::Answer if state == "voicemail" => {
                vec![("Url", voicemail.as_str()), ("Method", "POST")]
            }
            CallAction::HangUp => vec![("Status", "completed")],
            other => {
                return Err(CarrierError::Config(format!(
                    "Twilio takes {other:?} only in a webhook's answer"
                )))
            }
        };
        let _: Option<serde_json::Value> = self
            .call(
                self.http
                    .post(self.url(&format!("/Calls/{call_id}.json")))
                    .form(&form),
            )
            .await?;
        Ok(None)
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
