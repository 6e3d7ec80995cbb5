//! Twilio calls in the browser (`@twilio/voice-sdk`): the Access Token a browser signs in
//! with, the TwiML that holds a caller while browsers ring and rings one browser or phone,
//! and the ringback a held caller hears.
//!
//! A browser's token lets it take calls only (no outgoing grant): calls out are placed by
//! the server, which checks the caller id, as for Telnyx.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::xml_escape;

/// An API key of the account (`POST Keys.json`): its secret signs browsers' tokens. Made
/// once per instance and kept sealed (`calls::browser_phone`); Twilio shows the secret
/// only when it makes the key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub sid: String,
    pub secret: String,
}

/// The secret never goes into a log.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

/// How long a browser's token lasts (Twilio refuses more than 24 h; the browser signs in
/// afresh after 12).
pub const TOKEN_SECS: i64 = 23 * 60 * 60;

#[derive(Serialize)]
struct Header {
    alg: &'static str,
    typ: &'static str,
    cty: &'static str,
}

#[derive(Serialize)]
struct Incoming {
    allow: bool,
}

#[derive(Serialize)]
struct Outgoing<'a> {
    application_sid: &'a str,
}

#[derive(Serialize)]
struct Voice<'a> {
    incoming: Incoming,
    #[serde(skip_serializing_if = "Option::is_none")]
    outgoing: Option<Outgoing<'a>>,
}

#[derive(Serialize)]
struct Grants<'a> {
    identity: &'a str,
    voice: Voice<'a>,
}

#[derive(Serialize)]
struct Claims<'a> {
    jti: String,
    grants: Grants<'a>,
    iat: i64,
    exp: i64,
    iss: &'a str,
    sub: &'a str,
}

/// A Twilio Access Token (JWT, HS256, `cty: twilio-fpa;v=1`) for browser `identity` of
/// account `account_sid`, signed with `key`, issued at `issued_at` (seconds) for `secs`;
/// `outgoing_app` would let it place calls through that TwiML app (we never do: see above).
pub fn access_token(
    account_sid: &str,
    key: &SigningKey,
    identity: &str,
    outgoing_app: Option<&str>,
    issued_at: i64,
    secs: i64,
) -> String {
    let header = Header {
        alg: "HS256",
        typ: "JWT",
        cty: "twilio-fpa;v=1",
    };
    let claims = Claims {
        jti: format!("{}-{issued_at}", key.sid),
        grants: Grants {
            identity,
            voice: Voice {
                incoming: Incoming { allow: true },
                outgoing: outgoing_app.map(|application_sid| Outgoing { application_sid }),
            },
        },
        iat: issued_at,
        exp: issued_at + secs,
        iss: &key.sid,
        sub: account_sid,
    };
    let signed = format!("{}.{}", segment(&header), segment(&claims));
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key.secret.as_bytes()).expect("HMAC takes any key");
    mac.update(signed.as_bytes());
    format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// One part of a JWT: compact JSON, fields in declaration order (Twilio reads them by name;
/// the order only matters to compare with the published vector), base64url.
fn segment<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("plain structs serialize"))
}

/// A browser's identity at Twilio: letters, digits and `_` only, at most 121 (Twilio's
/// rule); ours are `sb_` and 32 hex digits.
pub fn is_identity(identity: &str) -> bool {
    (4..=121).contains(&identity.len())
        && identity
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The kinds of state a step URL carries: `<kind>:<our call id>`.
pub const STEP_KINDS: [&str; 2] = ["pickup", "outbound"];

/// Where Twilio tells us about a call we placed or dialed: our webhook with the state our
/// command handed over (`pickup:<id>` as `?pickup=<id>`: nothing in it that URL encoders
/// disagree on, since Twilio signs the URL as it was given) and the step (`answered`: the
/// call we placed picked up; `whisper`: the browser or phone a `<Dial>` rang picked up,
/// before it is put through; `dialed`: the `<Dial>` ended; `ended`: the call we placed
/// ended).
pub fn step_url(webhook: &str, state: &str, step: &str) -> String {
    match state.split_once(':') {
        // A call forwarded after ringing browsers: its steps are a forwarded call's
        // (`super::forward_url`).
        Some(("forward", id)) => super::forward_url(webhook, id, step),
        Some((kind, id)) if STEP_KINDS.contains(&kind) => {
            format!("{webhook}?{kind}={id}&step={step}")
        }
        _ => format!("{webhook}?step={step}"),
    }
}

/// TwiML that keeps a caller (answered) hearing it ring, ours to redirect (a browser picks
/// up, or the voicemail); if nothing does in `secs`, the voicemail.
pub fn hold_twiml(ringback: &str, secs: u32, webhook: &str) -> String {
    // One ring cycle is six seconds.
    let rings = secs.div_ceil(6).max(1);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
         <Play loop=\"{rings}\">{}</Play>\
         <Redirect method=\"POST\">{}</Redirect></Response>",
        xml_escape(ringback),
        xml_escape(&format!("{webhook}?step=voicemail")),
    )
}

/// TwiML that rings `to` (a phone, or `client:<identity>`, a browser) for `timeout_secs`
/// showing our number `caller_id`; its answer (`whisper`) and its end (`dialed`) come back
/// with `state`.
pub fn dial_twiml(
    to: &str,
    caller_id: &str,
    timeout_secs: u32,
    webhook: &str,
    state: &str,
) -> String {
    let whisper = xml_escape(&step_url(webhook, state, "whisper"));
    let noun = match to.strip_prefix("client:") {
        Some(identity) => format!(
            "<Client url=\"{whisper}\" method=\"POST\">{}</Client>",
            xml_escape(identity)
        ),
        None => format!(
            "<Number url=\"{whisper}\" method=\"POST\">{}</Number>",
            xml_escape(to)
        ),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
         <Dial timeout=\"{timeout_secs}\" callerId=\"{}\" action=\"{}\" method=\"POST\">{noun}</Dial>\
         </Response>",
        xml_escape(caller_id),
        xml_escape(&step_url(webhook, state, "dialed")),
    )
}

/// Six seconds of ringback (North American: 440 + 480 Hz, two seconds on, four off), as an
/// 8 kHz 16-bit mono WAV, for [`hold_twiml`]'s `<Play>`.
pub fn ringback_wav() -> Vec<u8> {
    const RATE: u32 = 8_000;
    let samples: Vec<i16> = (0..RATE * 6)
        .map(|n| {
            if n >= RATE * 2 {
                return 0;
            }
            let t = f64::from(n) / f64::from(RATE);
            let tone = (std::f64::consts::TAU * 440.0 * t).sin()
                + (std::f64::consts::TAU * 480.0 * t).sin();
            (tone * 0.25 * f64::from(i16::MAX / 2)) as i16
        })
        .collect();
    wav(RATE, &samples)
}

/// A tenth of a second of silence: what the browser SDK plays instead of its own sounds
/// (which it would fetch from Twilio's servers; the app shows and rings calls itself).
pub fn silence_wav() -> Vec<u8> {
    wav(8_000, &[0; 800])
}

fn wav(rate: u32, samples: &[i16]) -> Vec<u8> {
    let data = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The token matches Twilio's published shape byte for byte (the vector in the
    /// carriers' test data, derived from Twilio's own helper libraries).
    #[test]
    fn access_tokens_match_the_vector() {
        let vectors: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../../../testdata/carriers/twilio/webhook-vectors.json"
        ))
        .unwrap();
        let v = &vectors["access_token_jwt"];
        let payload = &v["payload"];
        let key = SigningKey {
            sid: payload["iss"].as_str().unwrap().into(),
            secret: v["api_key_secret"].as_str().unwrap().into(),
        };
        let token = access_token(
            payload["sub"].as_str().unwrap(),
            &key,
            payload["grants"]["identity"].as_str().unwrap(),
            payload["grants"]["voice"]["outgoing"]["application_sid"].as_str(),
            payload["iat"].as_i64().unwrap(),
            payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
        );
        assert_eq!(token, v["token"].as_str().unwrap());
        // Ours carry no outgoing grant: a browser can't place calls by itself.
        let ours = access_token("AC1", &key, "sb_1", None, 10, TOKEN_SECS);
        let claims = URL_SAFE_NO_PAD
            .decode(ours.split('.').nth(1).unwrap())
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(
            claims["grants"]["voice"],
            serde_json::json!({"incoming": {"allow": true}})
        );
        assert_eq!(claims["exp"], 10 + TOKEN_SECS);
    }

    #[test]
    fn dial_twiml_rings_a_browser_or_a_phone_and_escapes_what_it_carries() {
        let browser = dial_twiml(
            "client:sb_1",
            "+12125550100",
            15,
            "https://x/w",
            "pickup:s-1",
        );
        assert!(
            browser.contains(
                "<Client url=\"https://x/w?pickup=s-1&amp;step=whisper\" method=\"POST\">sb_1</Client>"
            ),
            "{browser}"
        );
        assert!(browser.contains("action=\"https://x/w?pickup=s-1&amp;step=dialed\""));
        let phone = dial_twiml("+1<2>", "+1\"", 30, "https://x/w", "outbound:s-2");
        assert!(phone.contains(">+1&lt;2&gt;</Number>"), "{phone}");
        assert!(phone.contains("callerId=\"+1&quot;\""), "{phone}");
    }

    #[test]
    fn a_held_caller_hears_ringing_then_the_voicemail() {
        let held = hold_twiml("https://x/sounds/ringback.wav", 30, "https://x/w");
        assert!(held.contains("<Play loop=\"5\">https://x/sounds/ringback.wav</Play>"));
        assert!(held.contains("<Redirect method=\"POST\">https://x/w?step=voicemail</Redirect>"));
        let wav = ringback_wav();
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(wav.len(), 44 + 8_000 * 6 * 2);
    }
}
