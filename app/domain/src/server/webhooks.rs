//! Carrier webhooks: verify the signature on the raw body, then parse, then ingest.
//! Answers fast (ingestion is a few row writes; slow work goes to jobs).

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::carrier::config::CarrierKind;
use super::carrier::{CarrierEvent, DeliveryStatus};
use super::ids::MessageId;
use super::messaging::{self, Ingested};
use super::{crypto, AppState, Db};

pub const SANDBOX_SIGNATURE_HEADER: &str = "x-sandbox-signature";

/// What the sandbox (and `switchboard sandbox …` on the command line) posts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SandboxWebhook {
    Inbound {
        id: String,
        from: String,
        to: String,
        body: String,
        /// Pictures, as `data:` URLs (the sandbox hosts nothing).
        #[serde(default)]
        media: Vec<String>,
    },
    Failed {
        id: String,
        carrier_message_id: String,
        error_code: String,
    },
}

/// How old a sandbox webhook's signature may be.
const SANDBOX_SIGNATURE_WINDOW_SECS: i64 = 300;

/// The sandbox's signature header, `t=<unix secs>,permit=<mac>,body=<mac>`, both HMAC-SHA256
/// under the instance secret. The permit covers only the time and the body's length, so it
/// is checked before a byte of the body is read: a stranger can't make the server buffer a
/// 7 MB picture-carrying body. The body MAC covers the body itself.
pub fn sandbox_signature(secret: &[u8; 32], body: &[u8]) -> String {
    sandbox_signature_at(secret, body, now_secs())
}

fn sandbox_signature_at(secret: &[u8; 32], body: &[u8], t: i64) -> String {
    format!(
        "t={t},permit={},body={}",
        crypto::sign(secret, &sandbox_permit(t, body.len())),
        crypto::sign(secret, &sandbox_body(t, body)),
    )
}

fn sandbox_permit(t: i64, length: usize) -> String {
    format!("sandbox-permit:{t}:{length}")
}

fn sandbox_body(t: i64, body: &[u8]) -> String {
    format!("sandbox-webhook:{t}:{}", String::from_utf8_lossy(body))
}

/// A parsed sandbox signature header.
struct SandboxSignature<'a> {
    t: i64,
    permit: &'a str,
    body: &'a str,
}

impl<'a> SandboxSignature<'a> {
    fn parse(header: &'a str) -> Option<Self> {
        let mut fields = header.split(',').map(|f| f.split_once('='));
        match (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next(),
        ) {
            (Some(("t", t)), Some(("permit", permit)), Some(("body", body)), None) => {
                Some(SandboxSignature {
                    t: t.parse().ok()?,
                    permit,
                    body,
                })
            }
            _ => None,
        }
    }

    /// Recent, and made by someone holding the secret for a body of `length` bytes.
    fn permits(&self, secret: &[u8; 32], length: usize, now: i64) -> bool {
        (now - self.t).abs() <= SANDBOX_SIGNATURE_WINDOW_SECS
            && crypto::verify_signature(secret, &sandbox_permit(self.t, length), self.permit)
    }

    fn covers(&self, secret: &[u8; 32], body: &[u8]) -> bool {
        crypto::verify_signature(secret, &sandbox_body(self.t, body), self.body)
    }
}

/// Our message id, when the webhook URL names one (each send's status callback does).
fn named_message(uri: &http::Uri) -> Option<MessageId> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "message")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map(MessageId::new)
}

async fn ingest_all(
    state: &AppState,
    carrier: CarrierKind,
    our_message: Option<MessageId>,
    events: Vec<CarrierEvent>,
) -> Response {
    for event in events {
        if let (
            Some(message_id),
            CarrierEvent::Status {
                carrier_message_id, ..
            },
        ) = (&our_message, &event)
        {
            match messaging::adopt_carrier_id(state, message_id, carrier_message_id).await {
                // Deleted since it was sent: nothing to update, and nothing to retry for.
                Ok(false) => continue,
                Ok(true) => {}
                Err(_) => {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "retry later").into_response()
                }
            }
        }
        match messaging::ingest(state, carrier, &event).await {
            Ok(Ingested::UnknownMessage) => {
                // Not ours yet (the send's bookkeeping may lag): ask the carrier to retry.
                return (StatusCode::SERVICE_UNAVAILABLE, "retry later").into_response();
            }
            Ok(_) => {}
            Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "retry later").into_response(),
        }
    }
    (StatusCode::OK, "ok").into_response()
}

/// `POST /webhooks/sandbox`: the signature's permit is checked before the body is read
/// (and then only as many bytes as it permits), the body's MAC after.
pub async fn sandbox(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let refused = || {
        tracing::warn!("sandbox webhook with a bad signature refused");
        (StatusCode::UNAUTHORIZED, "bad signature").into_response()
    };
    let Some(signature) = parts
        .headers
        .get(SANDBOX_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(SandboxSignature::parse)
    else {
        return refused();
    };
    let Some(length) = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return (StatusCode::LENGTH_REQUIRED, "content-length required").into_response();
    };
    if !signature.permits(&state.secret, length, now_secs()) {
        return refused();
    }
    let Ok(body) = axum::body::to_bytes(body, length).await else {
        return (
            StatusCode::BAD_REQUEST,
            "body unreadable or longer than declared",
        )
            .into_response();
    };
    if !signature.covers(&state.secret, &body) {
        return refused();
    }
    let Ok(hook) = serde_json::from_slice::<SandboxWebhook>(&body) else {
        return (StatusCode::BAD_REQUEST, "unreadable payload").into_response();
    };
    let event = match hook {
        SandboxWebhook::Inbound {
            id,
            from,
            to,
            body,
            media,
        } => CarrierEvent::Inbound {
            event_id: id.clone(),
            carrier_message_id: id,
            from,
            to,
            body,
            media: media
                .into_iter()
                .map(|url| super::carrier::MediaRef {
                    url,
                    content_type: String::new(),
                })
                .collect(),
        },
        SandboxWebhook::Failed {
            id,
            carrier_message_id,
            error_code,
        } => CarrierEvent::Status {
            event_id: id,
            carrier_message_id,
            status: DeliveryStatus::Failed,
            error_code: Some(error_code),
        },
    };
    ingest_all(&state, CarrierKind::Sandbox, None, vec![event]).await
}

fn now_secs() -> i64 {
    super::now_ms() / 1000
}

/// `POST /webhooks/telnyx`: Ed25519 over the raw body, 300 s window, then the messaging and
/// call events.
pub async fn telnyx(
    State(state): State<AppState>,
    uri: http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use super::carrier::telnyx;
    let Some(key) = state.telnyx_webhook_key() else {
        tracing::warn!("Telnyx webhook refused: no Telnyx public key is configured (SWITCHBOARD_TELNYX_PUBLIC_KEY or Admin → Carrier)");
        return (StatusCode::NOT_FOUND, "Telnyx is not configured").into_response();
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if let Err(why) = telnyx::verify_with(
        &key,
        header(telnyx::TIMESTAMP_HEADER),
        header(telnyx::SIGNATURE_HEADER),
        &body,
        now_secs(),
    ) {
        tracing::warn!(?why, "Telnyx webhook refused");
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    match telnyx::parse(&body) {
        Ok(telnyx::Parsed::Event(event)) => {
            ingest_all(
                &state,
                CarrierKind::Telnyx,
                named_message(&uri),
                vec![event],
            )
            .await
        }
        Ok(telnyx::Parsed::Call(event)) => {
            match super::calls::carrier::handle(&state, CarrierKind::Telnyx, &event).await {
                Ok(_) => (StatusCode::OK, "ok").into_response(),
                Err(e) => {
                    tracing::error!(error = ?e, "Telnyx call event not handled; Telnyx retries");
                    (StatusCode::INTERNAL_SERVER_ERROR, "retry later").into_response()
                }
            }
        }
        Ok(telnyx::Parsed::Ignored { event_type }) => {
            tracing::info!(%event_type, "Telnyx event acknowledged, not used");
            (StatusCode::OK, "ok").into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "unreadable Telnyx webhook");
            (StatusCode::BAD_REQUEST, "unreadable payload").into_response()
        }
    }
}

/// Where the ringback a caller held for browsers hears is served (public: Twilio fetches it).
pub const RINGBACK_PATH: &str = "/sounds/ringback.wav";
/// The silence the Twilio browser SDK plays instead of its own sounds.
pub const SILENCE_PATH: &str = "/sounds/silence.wav";

/// `GET /sounds/{ringback,silence}.wav`: made once, kept for a day by whoever fetches it.
pub async fn sound(uri: http::Uri) -> Response {
    use super::carrier::twilio::voice;
    use std::sync::LazyLock;
    static RINGBACK: LazyLock<Vec<u8>> = LazyLock::new(voice::ringback_wav);
    static SILENCE: LazyLock<Vec<u8>> = LazyLock::new(voice::silence_wav);
    let body: &'static [u8] = match uri.path() {
        RINGBACK_PATH => &RINGBACK,
        SILENCE_PATH => &SILENCE,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (http::header::CONTENT_TYPE, "audio/wav"),
            (http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// `POST /webhooks/twilio`: X-Twilio-Signature over the URL Twilio was given and the form.
pub async fn twilio(
    State(state): State<AppState>,
    uri: http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use super::carrier::twilio;
    // Blank tokens never get here (`CarrierConfig::normalized`): a signature under the
    // empty key is one anyone can make.
    let Some(token) = state.carrier_config().0.twilio.auth_token else {
        tracing::warn!("Twilio webhook refused: no Twilio auth token is configured (SWITCHBOARD_TWILIO_AUTH_TOKEN or Admin → Carrier)");
        return (StatusCode::NOT_FOUND, "Twilio is not configured").into_response();
    };
    let url = format!(
        "{}{}",
        state.settings.base_url(),
        uri.path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/webhooks/twilio")
    );
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let signature = headers
        .get(twilio::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !twilio::verify(&token, &url, &params, None, signature) {
        tracing::warn!("Twilio webhook refused: bad signature");
        return (StatusCode::FORBIDDEN, "bad signature").into_response();
    }
    match twilio::parse_request(uri.query(), &params) {
        twilio::Parsed::Event(event) => {
            let res = ingest_all(
                &state,
                CarrierKind::Twilio,
                named_message(&uri),
                vec![event],
            )
            .await;
            if res.status() != StatusCode::OK {
                return res;
            }
            // An empty TwiML answer: no auto-reply.
            ([(http::header::CONTENT_TYPE, "text/xml")], "<Response/>").into_response()
        }
        twilio::Parsed::Call(event) => {
            use super::calls::carrier::{handle, Reply, MAX_VOICEMAIL_SECS};
            let webhook = format!("{}/webhooks/twilio", state.settings.base_url());
            let twiml = match handle(&state, CarrierKind::Twilio, &event).await {
                Ok(Reply::Voicemail {
                    greeting,
                    recording,
                }) => twilio::voicemail_twiml(
                    &greeting,
                    recording.as_deref(),
                    MAX_VOICEMAIL_SECS,
                    &webhook,
                ),
                Ok(Reply::Forward {
                    to,
                    caller_id,
                    timeout_secs,
                    session_id,
                }) => twilio::forward_twiml(
                    &to,
                    &caller_id,
                    timeout_secs,
                    &twilio::forward_url(&webhook, &session_id, "whisper"),
                    &twilio::forward_url(&webhook, &session_id, "dialed"),
                ),
                Ok(Reply::AskForKey { text, session_id }) => twilio::ask_for_key_twiml(
                    &text,
                    &twilio::forward_url(&webhook, &session_id, "accept"),
                ),
                Ok(Reply::Hold { secs }) => twilio::voice::hold_twiml(
                    &format!("{}{}", state.settings.base_url(), RINGBACK_PATH),
                    secs,
                    &webhook,
                ),
                Ok(Reply::Dial {
                    to,
                    caller_id,
                    timeout_secs,
                    state: step,
                }) => twilio::voice::dial_twiml(&to, &caller_id, timeout_secs, &webhook, &step),
                Ok(Reply::HangUp) => twilio::HANG_UP_TWIML.to_string(),
                Ok(Reply::Nothing | Reply::Connect) => "<Response/>".to_string(),
                Err(e) => {
                    tracing::error!(error = ?e, "Twilio call callback not handled; Twilio retries");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "retry later").into_response();
                }
            };
            ([(http::header::CONTENT_TYPE, "text/xml")], twiml).into_response()
        }
        twilio::Parsed::Ignored { what } => {
            tracing::info!(%what, "Twilio callback acknowledged, not used");
            ([(http::header::CONTENT_TYPE, "text/xml")], "<Response/>").into_response()
        }
    }
}

/// How long a carrier event's id is remembered: far past any carrier's redelivery (hours to
/// a few days), so an event is still acted on once; then forgotten, so the table does not
/// grow with every event ever received.
pub const EVENTS_KEPT_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// Forgets carrier events received more than [`EVENTS_KEPT_MS`] before `now`, a bounded
/// batch at a time (no long write lock); answers how many went.
pub async fn purge_old_events(db: &Db, now: i64) -> crate::error::AppResult<u64> {
    let mut purged = 0;
    loop {
        let done = sqlx::query(
            "DELETE FROM webhook_events WHERE (carrier, event_id) IN
                 (SELECT carrier, event_id FROM webhook_events WHERE received_at < $1
                  ORDER BY received_at LIMIT 1000)",
        )
        .bind(now - EVENTS_KEPT_MS)
        .execute(db.pool())
        .await?;
        purged += done.rows_affected();
        if done.rows_affected() < 1000 {
            return Ok(purged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];

    #[test]
    fn a_sandbox_signature_permits_its_own_length_and_time_only() {
        let body = br#"{"type":"inbound"}"#;
        let header = sandbox_signature_at(&SECRET, body, 1_000);
        let signed = SandboxSignature::parse(&header).unwrap();
        assert!(signed.permits(&SECRET, body.len(), 1_000));
        assert!(signed.covers(&SECRET, body));
        assert!(!signed.permits(&SECRET, 7_000_000, 1_000), "another length");
        assert!(!signed.permits(&SECRET, body.len(), 1_000 + 301), "too old");
        assert!(
            !signed.permits(&[8; 32], body.len(), 1_000),
            "another secret"
        );
        assert!(
            !signed.covers(&SECRET, br#"{"type":"failed"}"#),
            "another body"
        );
        for bad in [
            "",
            "forged",
            "t=1,permit=x",
            "t=x,permit=a,body=b",
            "t=1,permit=a,body=b,x=c",
        ] {
            assert!(SandboxSignature::parse(bad).is_none(), "{bad}");
        }
    }
}
