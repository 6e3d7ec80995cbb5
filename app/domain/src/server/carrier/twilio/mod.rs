//! Twilio (API 2010-04-01) webhooks: `X-Twilio-Signature`, the messaging callbacks, and the
//! voice ones of calls to our numbers (answered with TwiML: [`voicemail_twiml`]).
//!
//! The signature is base64(HMAC-SHA1(auth token, URL + each POST parameter name and value,
//! names sorted, a repeated name's values sorted and de-duplicated)). For JSON bodies the URL
//! carries `bodySHA256` and only the URL is signed. Twilio's own validators accept the URL
//! with the default port (443/80) either present or absent; so do we.

pub mod api;
pub mod voice;

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{CallEvent, CarrierEvent, DeliveryStatus, MediaRef};

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// The signature Twilio computes for `url` and form `params`.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in params {
        sorted.entry(k.as_str()).or_default().push(v.as_str());
    }
    let mut data = url.to_string();
    for (k, mut values) in sorted {
        values.sort_unstable();
        values.dedup();
        for v in values {
            data.push_str(k);
            data.push_str(v);
        }
    }
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The URL as given, plus the same URL with the scheme's default port toggled (added when
/// absent, removed when present).
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return variants,
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let toggled = match authority.rsplit_once(':') {
        Some((host, port)) if port == default_port => host.to_string(),
        Some(_) => return variants,
        None => format!("{authority}:{default_port}"),
    };
    variants.push(format!("{scheme}://{toggled}{tail}"));
    variants
}

/// Verifies a form-encoded webhook (or, with `raw_body`, a JSON one whose URL carries
/// `bodySHA256`).
pub fn verify(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    raw_body: Option<&[u8]>,
    signature: &str,
) -> bool {
    if let Some(body) = raw_body {
        let expected = hex::encode(Sha256::digest(body));
        let claimed = url::Url::parse(url).ok().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "bodySHA256")
                .map(|(_, v)| v.into_owned())
        });
        if claimed
            .as_deref()
            .map(|c| c.as_bytes().ct_eq(expected.as_bytes()).into())
            != Some(true)
        {
            return false;
        }
    }
    url_variants(url).iter().any(|candidate| {
        bool::from(
            compute(auth_token, candidate, params)
                .as_bytes()
                .ct_eq(signature.as_bytes()),
        )
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Event(CarrierEvent),
    Call(CallEvent),
    /// A callback we don't act on (intermediate statuses, voice…): acknowledged.
    Ignored {
        what: String,
    },
}

/// Where a forwarded call's TwiML sends Twilio back (`?forward=<our call>&step=<step>` on
/// our webhook): the forwarded phone answered (`whisper`), the key it pressed (`accept`),
/// how the forwarding went (`dialed`).
pub fn forward_url(webhook: &str, session_id: &str, step: &str) -> String {
    format!("{webhook}?forward={session_id}&step={step}")
}

/// Turns a verified webhook (the query of the URL it was posted to, which the signature
/// covers, and its form parameters) into what it means for us.
pub fn parse_request(query: Option<&str>, params: &[(String, String)]) -> Parsed {
    let asked = |name: &str| {
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    // A call we pointed back here for its voicemail (our ring timer ended it).
    if asked("step").as_deref() == Some("voicemail") && asked("forward").is_none() {
        return match sid(get("CallSid")) {
            Some(call) => Parsed::Call(CallEvent::Answered {
                event_id: format!("{call}:voicemail"),
                call_id: call,
                state: "voicemail".into(),
            }),
            None => Parsed::Ignored {
                what: "a voicemail step without a call".into(),
            },
        };
    }
    if let Some(step) = asked("step") {
        if let Some(state) = voice::STEP_KINDS.iter().find_map(|kind| {
            asked(kind)
                .filter(|id| !id.is_empty())
                .map(|id| format!("{kind}:{id}"))
        }) {
            return placed_step(&state, &step, &get);
        }
    }
    // After a voicemail was recorded (`<Record action>`): nothing more, goodbye.
    if asked("step").as_deref() == Some("recorded") {
        return Parsed::Ignored {
            what: "a voicemail recorded".into(),
        };
    }
    let (Some(session_id), Some(step)) = (asked("forward"), asked("step")) else {
        return parse(params);
    };
    let Some(call) = sid(get("CallSid")) else {
        return Parsed::Ignored {
            what: "a forwarding step without a call".into(),
        };
    };
    let state = format!("forward:{session_id}");
    Parsed::Call(match step.as_str() {
        "whisper" => CallEvent::Answered {
            event_id: format!("{call}:whisper"),
            call_id: call,
            state,
        },
        "accept" => CallEvent::Gathered {
            event_id: format!("{call}:accept"),
            call_id: call,
            state,
            digits: get("Digits").unwrap_or_default(),
        },
        // About the held call (`CallSid`); the forwarded phone's is `DialCallSid`, if one
        // was placed at all.
        "dialed" => CallEvent::HungUp {
            event_id: format!("{call}:dialed"),
            call_id: sid(get("DialCallSid")).unwrap_or_default(),
            state,
            declined: turned_down(get("DialCallStatus")),
        },
        other => {
            return Parsed::Ignored {
                what: format!("forwarding step {other}"),
            }
        }
    })
}

/// Whether a call's status says the phone turned it down: Twilio's `busy` (a busy line, or
/// a call refused).
fn turned_down(status: Option<String>) -> bool {
    status.as_deref() == Some("busy")
}

/// A step of a call we placed or dialed with `state` (`voice::step_url`): the call we
/// placed answered (`answered`) or ended (`ended`, its status callback); the browser or
/// phone a `<Dial>` rang picked up (`whisper`, about that call); the `<Dial>` ended
/// (`dialed`, about the call it rang, `DialCallSid`, if one was placed).
fn placed_step(state: &str, step: &str, get: &dyn Fn(&str) -> Option<String>) -> Parsed {
    let well_formed = (1..=100).contains(&state.len())
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'-' || b == b'_');
    let Some(call) = sid(get("CallSid")).filter(|_| well_formed) else {
        return Parsed::Ignored {
            what: format!("a {step} step without a call of ours"),
        };
    };
    let state = state.to_string();
    let event_id = format!("{call}:{step}");
    Parsed::Call(match step {
        "answered" | "whisper" => CallEvent::Answered {
            event_id,
            call_id: call,
            state,
        },
        "ended"
            if get("CallStatus").as_deref().is_some_and(|s| {
                matches!(
                    s,
                    "completed" | "busy" | "no-answer" | "failed" | "canceled"
                )
            }) =>
        {
            CallEvent::HungUp {
                event_id,
                call_id: call,
                state,
                declined: turned_down(get("CallStatus")),
            }
        }
        "dialed" => CallEvent::HungUp {
            event_id,
            call_id: sid(get("DialCallSid")).unwrap_or_default(),
            state,
            declined: turned_down(get("DialCallStatus")),
        },
        other => {
            return Parsed::Ignored {
                what: format!("call step {other}"),
            }
        }
    })
}

/// Turns a verified messaging webhook's form parameters into what it means for us.
pub fn parse(params: &[(String, String)]) -> Parsed {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let Some(sid) = get("MessageSid") else {
        return match get("CallSid") {
            Some(call) => parse_call(&get, call),
            None => Parsed::Ignored {
                what: "neither a messaging nor a voice callback".into(),
            },
        };
    };
    if let Some(status) = get("MessageStatus") {
        let status = match status.as_str() {
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "undelivered" | "failed" => DeliveryStatus::Failed,
            other => {
                return Parsed::Ignored {
                    what: format!("status {other}"),
                }
            }
        };
        return Parsed::Event(CarrierEvent::Status {
            event_id: format!("{sid}:{}", get("MessageStatus").unwrap_or_default()),
            carrier_message_id: sid,
            status,
            error_code: if status == DeliveryStatus::Failed {
                get("ErrorCode").or(Some("unknown".into()))
            } else {
                None
            },
        });
    }
    Parsed::Event(CarrierEvent::Inbound {
        event_id: sid.clone(),
        carrier_message_id: sid,
        from: get("From").unwrap_or_default(),
        to: get("To").unwrap_or_default(),
        body: get("Body").unwrap_or_default(),
        // MediaUrl0…MediaUrl{NumMedia-1}, with MediaContentType{n} beside each.
        media: (0..get("NumMedia")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
            .min(10))
            .filter_map(|n| {
                Some(MediaRef {
                    url: get(&format!("MediaUrl{n}"))?,
                    content_type: get(&format!("MediaContentType{n}")).unwrap_or_default(),
                })
            })
            .collect(),
    })
}

/// A Twilio SID (two letters and 32 hex digits): anything else is not taken.
fn sid(value: Option<String>) -> Option<String> {
    value.filter(|v| (2..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A voice callback on call `call`: the call arriving (answered with TwiML), its recording
/// saved, the recording's words.
fn parse_call(get: &dyn Fn(&str) -> Option<String>, call: String) -> Parsed {
    let ignored = |what: &str| Parsed::Ignored { what: what.into() };
    let Some(call) = sid(Some(call)) else {
        return ignored("a call id that is not Twilio's");
    };
    if get("TranscriptionStatus").is_some() {
        let (Some(id), Some("completed")) = (
            sid(get("TranscriptionSid")),
            get("TranscriptionStatus").as_deref(),
        ) else {
            return ignored("a transcription not completed");
        };
        return Parsed::Call(CallEvent::Transcribed {
            event_id: format!("{id}:transcription"),
            session: call,
            text: get("TranscriptionText").unwrap_or_default(),
        });
    }
    if get("RecordingStatus").is_some() {
        let (Some(id), Some(url), Some("completed")) = (
            sid(get("RecordingSid")),
            get("RecordingUrl"),
            get("RecordingStatus").as_deref(),
        ) else {
            return ignored("a recording not completed");
        };
        // The link without an extension serves WAV; ".mp3" asks for the smaller MP3.
        return Parsed::Call(CallEvent::RecordingSaved {
            event_id: format!("{id}:recording"),
            session: call,
            url: format!("{url}.mp3"),
        });
    }
    // A browser's call through the Voice SDK comes "inbound" too, from `client:<name>`: not
    // someone calling our number (and no SDK is in use here yet).
    let from = get("From").unwrap_or_default();
    if get("Direction").as_deref() == Some("inbound")
        && get("CallStatus").as_deref() == Some("ringing")
        && !from.starts_with("client:")
    {
        return Parsed::Call(CallEvent::Incoming {
            event_id: format!("{call}:incoming"),
            call_id: call.clone(),
            session: call,
            connection: String::new(),
            from,
            to: get("To").unwrap_or_default(),
            offer: None,
        });
    }
    // The number's status callback: a caller who hung up while held (browsers ringing)
    // ends our call.
    let over = get("CallStatus").as_deref().is_some_and(|s| {
        matches!(
            s,
            "completed" | "busy" | "no-answer" | "failed" | "canceled"
        )
    });
    if get("Direction").as_deref() == Some("inbound") && over && !from.starts_with("client:") {
        return Parsed::Call(CallEvent::HungUp {
            event_id: format!("{call}:ended"),
            call_id: call,
            state: String::new(),
            declined: false,
        });
    }
    // Other statuses, and the request after <Record> (answered with nothing: goodbye).
    ignored("a call status")
}

/// `text` as XML character data or an attribute value; characters XML 1.0 cannot hold
/// (most control characters, U+FFFE, U+FFFF) are left out, or Twilio would refuse the whole
/// answer.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// TwiML that says `greeting` (or plays the owner's `recording`), then beeps and records
/// the caller (up to `max_secs`, transcribed), the recording's and the transcript's
/// callbacks going to `callback`.
pub fn voicemail_twiml(
    greeting: &str,
    recording: Option<&str>,
    max_secs: u32,
    callback: &str,
) -> String {
    let callback = xml_escape(callback);
    let greet = match recording {
        Some(url) => format!("<Play>{}</Play>", xml_escape(url)),
        None => format!("<Say>{}</Say>", xml_escape(greeting)),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{greet}\
         <Record maxLength=\"{max_secs}\" timeout=\"10\" playBeep=\"true\" trim=\"trim-silence\" \
         action=\"{callback}?step=recorded\" method=\"POST\" \
         recordingStatusCallback=\"{callback}\" recordingStatusCallbackEvent=\"completed\" \
         transcribe=\"true\" transcribeCallback=\"{callback}\"/></Response>"
    )
}

/// TwiML that rings the phone `to` for `timeout_secs`, showing our number `caller_id`;
/// Twilio asks `whisper` what the phone hears when it answers, and tells `dialed` how it
/// went.
pub fn forward_twiml(
    to: &str,
    caller_id: &str,
    timeout_secs: u32,
    whisper: &str,
    dialed: &str,
) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
         <Dial timeout=\"{timeout_secs}\" callerId=\"{}\" action=\"{}\" method=\"POST\">\
         <Number url=\"{}\" method=\"POST\">{}</Number></Dial></Response>",
        xml_escape(caller_id),
        xml_escape(dialed),
        xml_escape(whisper),
        xml_escape(to),
    )
}

/// TwiML that says `text` and waits eight seconds for one key, sent to `accept`; no key
/// hangs up.
pub fn ask_for_key_twiml(text: &str, accept: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
         <Gather numDigits=\"1\" timeout=\"8\" action=\"{}\" method=\"POST\"><Say>{}</Say></Gather>\
         <Hangup/></Response>",
        xml_escape(accept),
        xml_escape(text),
    )
}

/// TwiML that ends the call.
pub const HANG_UP_TWIML: &str =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>";

#[cfg(test)]
mod twiml_tests {
    use super::*;

    #[test]
    fn greetings_cannot_write_twiml() {
        let twiml = voicemail_twiml(
            "Hi </Say><Dial>+1900</Dial> & bye",
            None,
            120,
            "https://x.example/w?a=1&b=2",
        );
        assert!(
            twiml.contains("<Say>Hi &lt;/Say&gt;&lt;Dial&gt;+1900&lt;/Dial&gt; &amp; bye</Say>"),
            "{twiml}"
        );
        assert!(!twiml.contains("<Dial>"));
        assert!(twiml.contains("recordingStatusCallback=\"https://x.example/w?a=1&amp;b=2\""));
        assert!(twiml.contains("maxLength=\"120\""));
        let odd = voicemail_twiml(
            "a\u{1}b\u{FFFF}c\u{FFFE}d\te",
            None,
            120,
            "https://x.example/w",
        );
        assert!(odd.contains("<Say>abcd\te</Say>"), "{odd}");
    }

    #[test]
    fn forwarding_twiml_escapes_what_it_carries() {
        let url = forward_url("https://x.example/webhooks/twilio", "0190-ab", "whisper");
        assert_eq!(
            url,
            "https://x.example/webhooks/twilio?forward=0190-ab&step=whisper"
        );
        let dial = forward_twiml(
            "+12025550188",
            "+12125550100",
            20,
            &url,
            "https://x/d?a=1&b=2",
        );
        assert!(
            dial.contains(
                "url=\"https://x.example/webhooks/twilio?forward=0190-ab&amp;step=whisper\""
            ),
            "{dial}"
        );
        assert!(
            dial.contains("action=\"https://x/d?a=1&amp;b=2\""),
            "{dial}"
        );
        let ask = ask_for_key_twiml("Call for <Ada>", &url);
        assert!(ask.contains("<Say>Call for &lt;Ada&gt;</Say>"), "{ask}");
        assert!(ask.ends_with("<Hangup/></Response>"));
    }

    #[test]
    fn a_recorded_greeting_is_played_instead_of_the_words() {
        let twiml = voicemail_twiml(
            "Words",
            Some("https://x.example/media/public/m?a=1&b=2"),
            120,
            "https://x.example/w",
        );
        assert!(
            twiml.contains("<Play>https://x.example/media/public/m?a=1&amp;b=2</Play><Record "),
            "{twiml}"
        );
        assert!(!twiml.contains("<Say>"));
    }
}

#[cfg(test)]
mod step_tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A step URL's state becomes the state our call machine matches on: only our own
    /// shape (`pickup:<id>`, `outbound:<id>`) with a Twilio call id is taken; anything
    /// else (an id with other characters, a call id that is not Twilio's, a status that is
    /// not an end) is acknowledged and acted on by nothing.
    #[test]
    fn only_well_formed_steps_of_our_calls_are_taken() {
        let call = form(&[("CallSid", "CA0123456789abcdef0123456789abcdef")]);
        assert_eq!(
            parse_request(Some("pickup=0190-ab&step=whisper"), &call),
            Parsed::Call(CallEvent::Answered {
                event_id: "CA0123456789abcdef0123456789abcdef:whisper".into(),
                call_id: "CA0123456789abcdef0123456789abcdef".into(),
                state: "pickup:0190-ab".into(),
            })
        );
        for query in [
            "pickup=0190%27%3BDROP&step=whisper",
            "outbound=a%2Fb&step=answered",
            "pickup=&step=whisper",
            "pickup=s-1&step=sideways",
        ] {
            assert!(
                matches!(parse_request(Some(query), &call), Parsed::Ignored { .. }),
                "{query}"
            );
        }
        let not_twilios = form(&[("CallSid", "CA../../Calls")]);
        assert!(matches!(
            parse_request(Some("pickup=s-1&step=whisper"), &not_twilios),
            Parsed::Ignored { .. }
        ));
        // Our placed call's status callback: an end ends it; anything else does not.
        let ringing = form(&[
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
            ("CallStatus", "in-progress"),
        ]);
        assert!(matches!(
            parse_request(Some("outbound=s-1&step=ended"), &ringing),
            Parsed::Ignored { .. }
        ));
    }
}
