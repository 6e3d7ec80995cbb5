//! Twilio (API 2010-04-01) webhooks: `X-Twilio-Signature` and the messaging callbacks.
//!
//! The signature is base64(HMAC-SHA1(auth token, URL + each POST parameter name and value,
//! names sorted, a repeated name's values sorted and de-duplicated)). For JSON bodies the URL
//! carries `bodySHA256` and only the URL is signed. Twilio's own validators accept the URL
//! with the default port (443/80) either present or absent; so do we.

pub mod api;

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{CarrierEvent, DeliveryStatus, MediaRef};

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
    /// A callback we don't act on (intermediate statuses, voice…): acknowledged.
    Ignored {
        what: String,
    },
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
        return Parsed::Ignored {
            what: "not a messaging callback".into(),
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
