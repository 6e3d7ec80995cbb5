//! One `Carrier` trait; features never ask which carrier is behind it.
//!
//! Carriers also talk back: inbound texts and delivery statuses arrive as [`CarrierEvent`]s,
//! from a verified webhook or from the sandbox, and take one ingestion path
//! (`messaging::ingest`).

pub mod config;
pub mod errors;
pub mod sandbox;
pub mod telnyx;
pub mod twilio;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::types::Capabilities;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberQuery {
    /// ISO country code, e.g. "US".
    pub country: String,
    pub area_code: Option<String>,
    /// Digits the number must contain.
    pub contains: Option<String>,
    pub needs: Capabilities,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailableNumber {
    pub e164: String,
    pub locality: String,
    pub capabilities: Capabilities,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchasedNumber {
    /// The carrier's id for the number (to update or release it).
    pub carrier_ref: String,
    pub capabilities: Capabilities,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// Our message id; carriers that support it use it to deduplicate retries.
    pub id: String,
    pub from: String,
    pub to: String,
    pub body: String,
    /// Pictures for an MMS: URLs the carrier fetches them from (unguessable, expiring).
    pub media_urls: Vec<String>,
    /// Where this message's delivery reports go: our webhook with our message id in it, so a
    /// report names the message even when we never learnt the carrier's id (a crash between
    /// the carrier's acceptance and our commit). Telnyx `webhook_url`, Twilio `StatusCallback`.
    pub status_callback: String,
}

/// A picture an inbound MMS carries, where the carrier keeps it (for a while).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    pub url: String,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub carrier_message_id: String,
}

/// How a carrier call failed, which decides what the job queue does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// 429: try again later.
    #[error("rate limited by the carrier")]
    RateLimited { retry_after_ms: Option<i64> },
    /// 5xx, timeouts, connection failures: worth retrying.
    #[error("carrier unavailable: {0}")]
    Transient(String),
    /// The carrier refused this request; retrying won't help. `code` is the carrier's own.
    #[error("carrier refused ({code}): {detail}")]
    Rejected { code: String, detail: String },
    /// Credentials or configuration are wrong.
    #[error("carrier configuration: {0}")]
    Config(String),
    /// The request went out but its answer never came back whole (a timeout, a broken
    /// connection, an unreadable answer): the carrier may have taken it. A send that ends
    /// like this is not sent again blindly; its delivery report decides.
    #[error("no answer from the carrier: {0}")]
    Uncertain(String),
}

impl CarrierError {
    /// What a failed request's transport error means: refused before it reached the carrier
    /// (nothing happened, retry) or lost on the way back (it may have happened).
    pub fn from_transport(carrier: &str, e: &reqwest::Error) -> CarrierError {
        if e.is_connect() || e.is_builder() {
            CarrierError::Transient(format!("{carrier} unreachable: {e}"))
        } else {
            CarrierError::Uncertain(format!("{carrier}: {e}"))
        }
    }
}

/// The HTTP client carrier APIs are called with: bounded waits, our user agent.
/// The name of what this instance makes at a carrier (Telnyx's Call Control application,
/// Twilio's TwiML application) and finds again after a restart instead of making another:
/// its own, by the host its webhooks go to, so two instances on one account each keep
/// theirs. At most 64 characters (Twilio's limit for friendly names).
pub fn instance_name(webhook_url: &str) -> String {
    let host = url::Url::parse(webhook_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    format!("Switchboard {host}").chars().take(64).collect()
}

/// A client for carrier APIs. Build one per instance and share it (`AppState::carrier_http`):
/// each new client loads the system's CA bundle (OpenSSL parses every certificate, about
/// 100 ms of CPU here) and keeps connections of its own.
pub fn api_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .connect_timeout(std::time::Duration::from_secs(5))
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("HTTP client")
}

/// What a carrier API's failed answer means for the job queue: 401/403 is configuration,
/// 429 is "later", 5xx is worth retrying, any other refusal is final (with the carrier's code).
pub fn classify_failure(
    carrier: &str,
    status: u16,
    code: String,
    detail: String,
    retry_after_ms: Option<i64>,
) -> CarrierError {
    match status {
        401 | 403 => CarrierError::Config(format!(
            "{carrier} refused the credentials ({code}): {detail}"
        )),
        429 => CarrierError::RateLimited { retry_after_ms },
        500..=599 => CarrierError::Transient(format!("{carrier} {status}: {detail}")),
        _ => CarrierError::Rejected { code, detail },
    }
}

/// A `Retry-After` header in seconds, as milliseconds.
pub fn retry_after_ms(headers: &reqwest::header::HeaderMap) -> Option<i64> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .map(|s| s * 1000)
}

impl CarrierError {
    /// A picture bigger than we keep: final, whoever hosts it.
    pub fn media_too_large(max_bytes: usize) -> CarrierError {
        CarrierError::Rejected {
            code: "media-too-large".into(),
            detail: format!("the picture is over {max_bytes} bytes"),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CarrierError::RateLimited { .. }
                | CarrierError::Transient(_)
                | CarrierError::Uncertain(_)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Failed,
}

/// Something a carrier told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarrierEvent {
    Inbound {
        /// The carrier's event id: a redelivery carries the same one.
        event_id: String,
        carrier_message_id: String,
        from: String,
        to: String,
        body: String,
        media: Vec<MediaRef>,
    },
    Status {
        event_id: String,
        carrier_message_id: String,
        status: DeliveryStatus,
        error_code: Option<String>,
    },
}

/// Something a carrier told us about a call it holds: the outside party's leg, which we
/// command ([`CallAction`]). Ids are the carrier's; `state` is what our last command asked the
/// carrier to hand back with the events it causes (empty when none), so an event is acted on
/// only when it follows a step we took. (Serialised: the sandbox's events wait in the job
/// queue, as a carrier's webhooks wait in its retries.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallEvent {
    /// Someone outside calls `to`, one of our numbers; the carrier holds them until told.
    /// `connection` is what the call came through (Telnyx: the Call Control application),
    /// which a call we place for it goes out through.
    Incoming {
        event_id: String,
        call_id: String,
        session: String,
        connection: String,
        from: String,
        to: String,
        /// The caller's WebRTC session description, when the browser that answers talks
        /// to the caller directly: the sandbox's outside phone. A real carrier's callers
        /// are audio it holds (None), which its SDK in the browser joins.
        #[serde(default)]
        offer: Option<String>,
    },
    /// The carrier picked the call up, as we asked.
    Answered {
        event_id: String,
        call_id: String,
        state: String,
    },
    /// The words we asked to be said, or the recording to be played, have ended.
    SpeakEnded {
        event_id: String,
        call_id: String,
        state: String,
    },
    /// The call's recording is ready at `url` (for minutes only: copy it at once).
    RecordingSaved {
        event_id: String,
        session: String,
        url: String,
    },
    /// The recording's words.
    Transcribed {
        event_id: String,
        session: String,
        text: String,
    },
    /// The keys pressed on call `call_id` when we asked (empty: none in time).
    Gathered {
        event_id: String,
        call_id: String,
        state: String,
        digits: String,
    },
    /// Call `call_id` has ended (hung up, not answered, refused).
    HungUp {
        event_id: String,
        call_id: String,
        state: String,
        /// The phone called turned the call down while it rang (Telnyx's hang-up cause
        /// `call_rejected` or `user_busy`, Twilio's status `busy`, the sandbox's outside
        /// phone declining).
        #[serde(default)]
        declined: bool,
    },
}

impl CallEvent {
    pub fn event_id(&self) -> &str {
        match self {
            CallEvent::Incoming { event_id, .. }
            | CallEvent::Answered { event_id, .. }
            | CallEvent::SpeakEnded { event_id, .. }
            | CallEvent::RecordingSaved { event_id, .. }
            | CallEvent::Transcribed { event_id, .. }
            | CallEvent::Gathered { event_id, .. }
            | CallEvent::HungUp { event_id, .. } => event_id,
        }
    }
}

/// A command to a call the carrier holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CallAction {
    /// Pick up: the caller stops hearing it ring.
    Answer,
    /// Say `text` to the caller in the carrier's synthetic voice.
    Speak { text: String },
    /// Play the recording at `url` (WAV or MP3, a link the carrier can fetch) to the caller.
    Play { url: String },
    /// Beep, then record the caller (mp3) for up to `max_secs`, transcribed where the
    /// carrier can; the recording ends at silence or when they hang up.
    RecordVoicemail { max_secs: u32 },
    /// End the call.
    HangUp,
    /// Place a call to `to` from our number `from` through `connection`, tied to the held
    /// call (it rings up to `timeout_secs`); its events carry the command's state.
    Dial {
        to: String,
        from: String,
        connection: String,
        timeout_secs: u32,
    },
    /// Say `text` and wait a few seconds for one key (the whisper of a forwarded call).
    AskForKey { text: String },
    /// Join the held call with the call `other` (the forwarded phone that took it).
    Bridge { other: String },
}

/// A carrier credential for one browser: its id at the carrier, and the address the
/// carrier calls to ring it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserPhone {
    pub credential_id: String,
    pub sip_username: String,
}

impl BrowserPhone {
    /// The address a call to this browser is placed to through `kind` (Telnyx: its
    /// telephony credential's SIP URI; Twilio: its client identity).
    pub fn address(kind: config::CarrierKind, sip_username: &str) -> String {
        match kind {
            config::CarrierKind::Twilio => format!("client:{sip_username}"),
            _ => format!("sip:{sip_username}@sip.telnyx.com"),
        }
    }
}

#[async_trait]
pub trait Carrier: Send + Sync {
    /// Which carrier this is.
    fn kind(&self) -> config::CarrierKind;
    async fn search_numbers(
        &self,
        query: &NumberQuery,
    ) -> Result<Vec<AvailableNumber>, CarrierError>;
    /// Buys `e164` and points its messaging webhooks at `webhook_url`.
    async fn buy_number(
        &self,
        e164: &str,
        webhook_url: &str,
    ) -> Result<PurchasedNumber, CarrierError>;
    async fn release_number(&self, carrier_ref: &str) -> Result<(), CarrierError>;
    /// Points the calls of a number bought before this instance had its calls application
    /// at the carrier (Telnyx's Call Control application, Twilio's TwiML application) at
    /// that application, as a purchase now does (`numbers::route_calls_of_earlier_numbers`).
    /// Doing it twice does no harm. The sandbox has nothing to point.
    async fn route_calls(
        &self,
        _carrier_ref: &str,
        _webhook_url: &str,
    ) -> Result<(), CarrierError> {
        Ok(())
    }
    async fn send_message(&self, message: &OutboundMessage) -> Result<Accepted, CarrierError>;
    /// A cheap authenticated call, for Admin → Carrier's "test connection".
    async fn test_connection(&self) -> Result<(), CarrierError>;
    /// Messages per second one number may send (the carrier's documented long-code limit).
    fn sends_per_second(&self) -> f64;
    /// What an outbound MMS may carry (the carrier's documented limits).
    fn media_limits(&self) -> crate::types::MediaLimits;
    /// Sends `action` to the call `call_id` this carrier holds, asking it to hand `state`
    /// back with the events the action causes. `command_id` makes a repeat harmless (the
    /// carrier ignores a command id it has seen on that call), so a command whose answer was
    /// lost is simply sent again. A `Dial` answers the new call's id.
    async fn call_action(
        &self,
        _call_id: &str,
        _action: &CallAction,
        _command_id: &str,
        _state: &str,
    ) -> Result<Option<String>, CarrierError> {
        Err(CarrierError::Config(format!(
            "calls through {} are not built yet",
            self.kind().label()
        )))
    }
    /// Makes a credential for one browser to take calls through this carrier's WebRTC SDK,
    /// named `name`, on the instance's connection for browsers (found by the host of
    /// `webhook_url`, or made). The server rings that browser by calling its address.
    async fn new_browser_phone(
        &self,
        _webhook_url: &str,
        _name: &str,
    ) -> Result<BrowserPhone, CarrierError> {
        Err(CarrierError::Config(format!(
            "{} calls can't be taken in the browser yet",
            self.kind().label()
        )))
    }
    /// The name under which what this carrier's browser phones need made once (see
    /// [`Carrier::browser_phones_setup`]) is kept; it belongs to the carrier account it was
    /// made in. None: the carrier needs nothing kept (Telnyx finds its connection by name).
    fn browser_setup_name(&self) -> Option<String> {
        None
    }
    /// Makes what this carrier's browser phones need once per instance, for the caller to
    /// keep sealed and hand back to [`Carrier::browser_phone_token`] (Twilio: the API key
    /// that signs their tokens, whose secret Twilio shows only when it makes it).
    async fn browser_phones_setup(&self) -> Result<String, CarrierError> {
        Err(CarrierError::Config(format!(
            "{} browser phones need no setup",
            self.kind().label()
        )))
    }
    /// Whether what [`Carrier::browser_phones_setup`] made (`setup`) is gone at the carrier
    /// (deleted in its console): then it is made again. Not known (the carrier can't be
    /// reached): not gone, the kept one is used.
    async fn browser_setup_gone(&self, _setup: &str) -> bool {
        false
    }
    /// A short-lived token with which the browser of `credential_id` signs in to the
    /// carrier's SDK (Telnyx: a JWT for a day; Twilio: an Access Token for 23 hours, signed
    /// with the key in `setup`).
    async fn browser_phone_token(
        &self,
        _credential_id: &str,
        _setup: Option<&str>,
    ) -> Result<String, CarrierError> {
        Err(CarrierError::Config(format!(
            "{} calls can't be taken in the browser yet",
            self.kind().label()
        )))
    }
    /// The connection calls we place go through (Telnyx: our Call Control application,
    /// found by the host of `webhook_url`, or made), so their events come to us.
    async fn calls_connection(&self, _webhook_url: &str) -> Result<String, CarrierError> {
        Err(CarrierError::Config(format!(
            "calls out through {} are not built yet",
            self.kind().label()
        )))
    }
    /// Deletes a browser's credential (its browser was replaced by a newer one).
    async fn forget_browser_phone(&self, _credential_id: &str) -> Result<(), CarrierError> {
        Ok(())
    }
    /// Downloads an inbound MMS picture at `url` (carriers' URLs expire, so we keep a copy)
    /// with `http`, a client that reaches public addresses only (`safe_http`): the URL came
    /// from outside. The default is a plain GET; carriers whose media needs credentials
    /// override it (and send them only to their own hosts).
    async fn fetch_media(
        &self,
        http: &reqwest::Client,
        url: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, CarrierError> {
        download(&http.get(url), max_bytes).await
    }
}

/// Downloads at most `max_bytes`; a bigger body is refused without reading it all.
pub async fn download(
    request: &reqwest::RequestBuilder,
    max_bytes: usize,
) -> Result<Vec<u8>, CarrierError> {
    let request = request
        .try_clone()
        .ok_or_else(|| CarrierError::Config("media request cannot be sent".into()))?;
    let mut response = request
        .send()
        .await
        .map_err(|e| CarrierError::Transient(format!("media unreachable: {e}")))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(classify_failure(
            "media host",
            status,
            status.to_string(),
            "media download refused".into(),
            retry_after_ms(response.headers()),
        ));
    }
    if response
        .content_length()
        .is_some_and(|n| n > max_bytes as u64)
    {
        return Err(CarrierError::media_too_large(max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| CarrierError::Transient(format!("media download broke off: {e}")))?
    {
        if body.len() + chunk.len() > max_bytes {
            return Err(CarrierError::media_too_large(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A carrier that took the request but whose answer never came in time may have sent the
    /// text: the job waits for its report (jobs.rs) instead of sending again. A carrier that
    /// could not be reached took nothing: retrying is safe.
    #[tokio::test]
    async fn an_answer_that_times_out_is_uncertain_and_a_refused_connection_is_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // Takes the request, never answers.
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let timed_out = http
            .post(format!("http://{silent}/v2/messages"))
            .body("{}")
            .send()
            .await
            .unwrap_err();
        assert!(timed_out.is_timeout(), "{timed_out}");
        assert!(matches!(
            CarrierError::from_transport("Telnyx", &timed_out),
            CarrierError::Uncertain(_)
        ));

        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let refused = http
            .post(format!("http://{closed}/v2/messages"))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(
            CarrierError::from_transport("Telnyx", &refused),
            CarrierError::Transient(_)
        ));
    }
}
