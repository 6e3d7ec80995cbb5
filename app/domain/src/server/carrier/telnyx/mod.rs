//! Telnyx (API v2) webhooks: Ed25519 signatures, the messaging events and the Call Control
//! events of calls to our numbers.
//!
//! Telnyx signs `"{telnyx-timestamp}|{raw body}"` with Ed25519 and sends the signature in
//! `telnyx-signature-ed25519` (base64). The public key (base64, 32 bytes) is shown in the
//! Telnyx portal. Requests more than 300 s from now either way are refused (replays).

pub mod api;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::Deserialize;

use super::{CallEvent, CarrierEvent, DeliveryStatus, MediaRef};

pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    InvalidPublicKey,
    InvalidSignature,
    TimestampOutOfTolerance,
}

/// The portal's base64 public key as an Ed25519 key; None if it isn't one.
pub fn parse_public_key(public_key_b64: &str) -> Option<VerifyingKey> {
    let key: [u8; 32] = STANDARD
        .decode(public_key_b64.trim())
        .ok()
        .and_then(|k| k.try_into().ok())?;
    VerifyingKey::from_bytes(&key).ok()
}

/// Checks a webhook on its raw bytes, before anything parses them.
pub fn verify(
    public_key_b64: &str,
    timestamp: &str,
    signature_b64: &str,
    raw_body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    let key = parse_public_key(public_key_b64).ok_or(VerifyError::InvalidPublicKey)?;
    verify_with(&key, timestamp, signature_b64, raw_body, now_secs)
}

/// [`verify`] with the key already parsed (the webhook handler keeps it parsed: decoding
/// the curve point costs as much as a tenth of the whole check).
pub fn verify_with(
    key: &VerifyingKey,
    timestamp: &str,
    signature_b64: &str,
    raw_body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    let sent_at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidSignature)?;
    if (now_secs - sent_at).abs() > TOLERANCE_SECS {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    let signature: [u8; 64] = STANDARD
        .decode(signature_b64.trim())
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(VerifyError::InvalidSignature)?;
    let mut message = Vec::with_capacity(timestamp.len() + 1 + raw_body.len());
    message.extend_from_slice(timestamp.trim().as_bytes());
    message.push(b'|');
    message.extend_from_slice(raw_body);
    key.verify(&message, &Signature::from_bytes(&signature))
        .map_err(|_| VerifyError::InvalidSignature)
}

#[derive(Deserialize)]
struct Envelope {
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    id: String,
    event_type: String,
    payload: serde_json::Value,
}

#[derive(Deserialize)]
struct MessagePayload {
    id: String,
    #[serde(default)]
    text: Option<String>,
    from: Party,
    #[serde(default)]
    to: Vec<Party>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
    #[serde(default)]
    media: Vec<Media>,
}

#[derive(Deserialize)]
struct Media {
    url: String,
    #[serde(default)]
    content_type: Option<String>,
}

#[derive(Deserialize)]
struct Party {
    phone_number: String,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct ErrorItem {
    code: serde_json::Value,
}

/// A Call Control event's payload: the fields the events we act on carry.
#[derive(Deserialize)]
struct CallPayload {
    #[serde(default)]
    call_control_id: String,
    #[serde(default)]
    call_session_id: String,
    #[serde(default)]
    client_state: Option<String>,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    recording_urls: Option<RecordingUrls>,
    #[serde(default)]
    transcription_text: Option<String>,
    #[serde(default)]
    connection_id: String,
    #[serde(default)]
    digits: Option<String>,
    #[serde(default)]
    status: Option<String>,
    /// Why a call ended: `call_rejected` and `user_busy` are the phone turning it down.
    #[serde(default)]
    hangup_cause: Option<String>,
}

#[derive(Deserialize)]
struct RecordingUrls {
    #[serde(default)]
    mp3: Option<String>,
}

/// Longest call id we take: they go into command URLs.
const CALL_ID_MAX: usize = 256;

/// A call id or session id as Telnyx makes them (`v3:…` base64url, UUIDs): anything else is
/// not put into a URL or a query.
fn call_id(id: String) -> Result<String, serde_json::Error> {
    use serde::de::Error;
    if id.is_empty()
        || id.len() > CALL_ID_MAX
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_'))
    {
        return Err(serde_json::Error::custom("not a Telnyx call id"));
    }
    Ok(id)
}

/// The `client_state` our command set, as we gave it (Telnyx hands it back in base64).
fn client_state(state: Option<String>) -> String {
    state
        .and_then(|s| STANDARD.decode(s.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default()
}

/// Turns a call event into what it means for us; None for the events we don't act on.
fn parse_call(
    event_id: String,
    event_type: &str,
    payload: serde_json::Value,
) -> Result<Option<CallEvent>, serde_json::Error> {
    let p: CallPayload = serde_json::from_value(payload)?;
    Ok(Some(match event_type {
        // Calls we place come with direction "outgoing": not acted on yet.
        "call.initiated" if p.direction == "incoming" => CallEvent::Incoming {
            event_id,
            call_id: call_id(p.call_control_id)?,
            session: call_id(p.call_session_id)?,
            connection: p.connection_id,
            from: p.from,
            to: p.to,
            offer: None,
        },
        "call.answered" => CallEvent::Answered {
            event_id,
            call_id: call_id(p.call_control_id)?,
            state: client_state(p.client_state),
        },
        "call.speak.ended" | "call.playback.ended" => CallEvent::SpeakEnded {
            event_id,
            call_id: call_id(p.call_control_id)?,
            state: client_state(p.client_state),
        },
        "call.recording.saved" => {
            let Some(url) = p.recording_urls.and_then(|u| u.mp3) else {
                return Ok(None);
            };
            CallEvent::RecordingSaved {
                event_id,
                session: call_id(p.call_session_id)?,
                url,
            }
        }
        "call.gather.ended" => CallEvent::Gathered {
            event_id,
            call_id: call_id(p.call_control_id)?,
            state: client_state(p.client_state),
            digits: p.digits.unwrap_or_default(),
        },
        "call.hangup" => CallEvent::HungUp {
            event_id,
            call_id: call_id(p.call_control_id)?,
            state: client_state(p.client_state),
            declined: matches!(
                p.hangup_cause.as_deref(),
                Some("call_rejected" | "user_busy")
            ),
        },
        // A transcription that failed has no words to keep.
        "call.recording.transcription.saved"
            if p.status.as_deref().is_some_and(|s| s != "completed") =>
        {
            return Ok(None)
        }
        "call.recording.transcription.saved" => CallEvent::Transcribed {
            event_id,
            session: call_id(p.call_session_id)?,
            text: p.transcription_text.unwrap_or_default(),
        },
        _ => return Ok(None),
    }))
}

/// What a client_state holds, in base64 as Telnyx wants it.
pub fn encode_state(state: &str) -> String {
    STANDARD.encode(state)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Event(CarrierEvent),
    Call(CallEvent),
    /// A well-formed event we don't act on (calls, number orders…): acknowledged and logged.
    Ignored {
        event_type: String,
    },
}

/// Turns a verified webhook body into what it means for us.
pub fn parse(raw_body: &[u8]) -> Result<Parsed, serde_json::Error> {
    let envelope: Envelope = serde_json::from_slice(raw_body)?;
    let data = envelope.data;
    let message = |payload: serde_json::Value| serde_json::from_value::<MessagePayload>(payload);
    Ok(match data.event_type.as_str() {
        "message.received" => {
            let m = message(data.payload)?;
            let to =
                m.to.first()
                    .map(|p| p.phone_number.clone())
                    .unwrap_or_default();
            Parsed::Event(CarrierEvent::Inbound {
                event_id: data.id,
                carrier_message_id: m.id,
                from: m.from.phone_number,
                to,
                body: m.text.unwrap_or_default(),
                media: m
                    .media
                    .into_iter()
                    .map(|item| MediaRef {
                        url: item.url,
                        content_type: item.content_type.unwrap_or_default(),
                    })
                    .collect(),
            })
        }
        "message.sent" => {
            let m = message(data.payload)?;
            Parsed::Event(CarrierEvent::Status {
                event_id: data.id,
                carrier_message_id: m.id,
                status: DeliveryStatus::Sent,
                error_code: None,
            })
        }
        "message.finalized" => {
            let m = message(data.payload)?;
            let delivered = m.to.first().and_then(|p| p.status.as_deref()) == Some("delivered");
            let error_code = m.errors.first().map(|e| match &e.code {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            Parsed::Event(CarrierEvent::Status {
                event_id: data.id,
                carrier_message_id: m.id,
                status: if delivered {
                    DeliveryStatus::Delivered
                } else {
                    DeliveryStatus::Failed
                },
                error_code: if delivered {
                    None
                } else {
                    error_code.or(Some("unknown".into()))
                },
            })
        }
        other if other.starts_with("call.") => match parse_call(data.id, other, data.payload)? {
            Some(event) => Parsed::Call(event),
            None => Parsed::Ignored {
                event_type: data.event_type,
            },
        },
        _ => Parsed::Ignored {
            event_type: data.event_type,
        },
    })
}
