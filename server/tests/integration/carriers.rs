//! Carrier webhooks against the carriers' own data in `testdata/carriers/`: every signature
//! vector (valid accepted, invalid rejected for the stated reason) and every example payload.

use crate::common;

use std::path::PathBuf;

use app::server::carrier::{telnyx, twilio, CallEvent, CarrierEvent, DeliveryStatus, MediaRef};
use common::carrier_data;
use serde_json::Value;

fn json(path: PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn telnyx_signature_vectors() {
    let vectors = json(carrier_data().join("telnyx/webhook-vectors.json"));
    let mut checked = 0;
    for v in vectors["valid"]
        .as_array()
        .unwrap()
        .iter()
        .chain(vectors["invalid"].as_array().unwrap())
    {
        let got = telnyx::verify(
            v["public_key_b64"].as_str().unwrap(),
            v["timestamp_header"].as_str().unwrap(),
            v["signature_header_b64"].as_str().unwrap(),
            v["raw_body"].as_str().unwrap().as_bytes(),
            v["now"].as_i64().unwrap(),
        );
        let expected = match v["expected"].as_str().unwrap() {
            "valid" => Ok(()),
            "invalid_signature" => Err(telnyx::VerifyError::InvalidSignature),
            "invalid_public_key" => Err(telnyx::VerifyError::InvalidPublicKey),
            "timestamp_out_of_tolerance" => Err(telnyx::VerifyError::TimestampOutOfTolerance),
            other => panic!("unknown expectation {other}"),
        };
        assert_eq!(got, expected, "vector {}", v["name"]);
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} vectors");
}

fn params_of(v: &Value) -> Vec<(String, String)> {
    let mut params = Vec::new();
    for (k, value) in v.as_object().unwrap() {
        match value {
            Value::Array(items) => params.extend(
                items
                    .iter()
                    .map(|i| (k.clone(), i.as_str().unwrap().to_string())),
            ),
            other => params.push((k.clone(), other.as_str().unwrap().to_string())),
        }
    }
    params
}

#[test]
fn twilio_signature_vectors() {
    let vectors = json(carrier_data().join("twilio/webhook-vectors.json"));
    let mut checked = 0;
    for v in vectors["vectors"].as_array().unwrap() {
        let token = v["auth_token"].as_str().unwrap();
        let url = v["signed_url"].as_str().unwrap();
        let signature = v["expected_signature"].as_str().unwrap();
        let params = params_of(&v["params"]);
        let body = v.get("raw_body").and_then(Value::as_str).map(str::as_bytes);
        assert!(
            twilio::verify(token, url, &params, body, signature),
            "vector {} should verify",
            v["name"]
        );
        if body.is_none() {
            assert_eq!(
                twilio::compute(token, url, &params),
                signature,
                "vector {}",
                v["name"]
            );
        }
        // Every vector turned invalid must be rejected.
        assert!(
            !twilio::verify("54321", url, &params, body, signature),
            "wrong token: {}",
            v["name"]
        );
        let mut tampered = params.clone();
        tampered.push(("Extra".into(), "1".into()));
        assert!(
            !twilio::verify(token, url, &tampered, body, signature),
            "extra param: {}",
            v["name"]
        );
        if let Some(body) = body {
            let mut other = body.to_vec();
            other.push(b' ');
            assert!(
                !twilio::verify(token, url, &params, Some(&other), signature),
                "changed body: {}",
                v["name"]
            );
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} vectors");
}

#[test]
fn every_telnyx_example_parses() {
    let dir = carrier_data().join("telnyx/examples/webhooks");
    let (mut messaging, mut calls) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let raw = std::fs::read(&path).unwrap();
        let parsed = telnyx::parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("call.") {
            calls += 1;
            check_call_example(&name, parsed);
            continue;
        }
        match (name.starts_with("message."), parsed) {
            (true, telnyx::Parsed::Event(event)) => {
                messaging += 1;
                match (name.as_str(), event) {
                    ("message.received.json", CarrierEvent::Inbound { from, to, body, .. }) => {
                        assert_eq!(
                            (from.as_str(), to.as_str(), body.as_str()),
                            ("+18665550001", "+18445550001", "Hello, World!")
                        );
                    }
                    ("message.sent.json", CarrierEvent::Status { status, .. }) => {
                        assert_eq!(status, DeliveryStatus::Sent)
                    }
                    ("message.finalized.DERIVED.json", CarrierEvent::Status { status, .. }) => {
                        assert_eq!(status, DeliveryStatus::Delivered)
                    }
                    (n, e) => panic!("{n}: unexpected {e:?}"),
                }
            }
            (false, telnyx::Parsed::Ignored { .. }) => {}
            (_, other) => panic!("{name}: unexpected {other:?}"),
        }
    }
    assert_eq!((messaging, calls), (3, 8));
}

/// The call examples: those we act on read as what they mean; the rest are acknowledged.
fn check_call_example(name: &str, parsed: telnyx::Parsed) {
    let call_id = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";
    let session = "428c31b6-7af4-4bcb-b7f5-5013ef9657c1";
    match (name, parsed) {
        (
            "call.initiated.json",
            telnyx::Parsed::Call(CallEvent::Incoming {
                call_id: c,
                session: s,
                from,
                to,
                ..
            }),
        ) => {
            assert_eq!((c.as_str(), s.as_str()), (call_id, session));
            assert_eq!(
                (from.as_str(), to.as_str()),
                ("+35319605860", "+35319605860")
            );
        }
        (
            "call.answered.json",
            telnyx::Parsed::Call(CallEvent::Answered {
                call_id: c, state, ..
            }),
        )
        | (
            "call.speak.ended.json",
            telnyx::Parsed::Call(CallEvent::SpeakEnded {
                call_id: c, state, ..
            }),
        ) => {
            assert_eq!(c, call_id);
            // The examples' client_state, decoded.
            assert_eq!(state, "have a nice day =]");
        }
        (
            "call.recording.saved.json",
            telnyx::Parsed::Call(CallEvent::RecordingSaved {
                session: s, url, ..
            }),
        ) => {
            assert_eq!(
                (s.as_str(), url.as_str()),
                (session, "http://example.com/recording.mp3")
            );
        }
        (
            "call.recording.transcription.saved.SPEC.json",
            telnyx::Parsed::Call(CallEvent::Transcribed {
                session: s, text, ..
            }),
        ) => {
            assert_eq!((s.as_str(), text.as_str()), (session, "Hi!"));
        }
        (
            "call.hangup.json",
            telnyx::Parsed::Call(CallEvent::HungUp {
                call_id: c,
                state,
                declined,
                ..
            }),
        ) => {
            assert_eq!(
                (c.as_str(), state.as_str()),
                (call_id, "have a nice day =]")
            );
            assert!(declined, "its hangup_cause is call_rejected");
        }
        (
            "call.bridged.json" | "call.machine.detection.ended.json",
            telnyx::Parsed::Ignored { .. },
        ) => {}
        (name, other) => panic!("{name}: unexpected {other:?}"),
    }
}

#[test]
fn every_twilio_example_parses() {
    let dir = carrier_data().join("twilio/examples/webhooks");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let example = json(path.clone());
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let params = params_of(&example["form"]);
        let parsed = twilio::parse(&params);
        seen += 1;
        match name.as_str() {
            "sms.incoming.json" | "mms.incoming.json" => match parsed {
                twilio::Parsed::Event(CarrierEvent::Inbound { media, .. }) => {
                    let expected: Vec<MediaRef> = if name == "mms.incoming.json" {
                        vec![MediaRef {
                            url: example["form"]["MediaUrl0"].as_str().unwrap().into(),
                            content_type: "image/jpeg".into(),
                        }]
                    } else {
                        Vec::new()
                    };
                    assert_eq!(media, expected, "{name}");
                }
                other => panic!("{name}: {other:?}"),
            },
            "sms.status_callback.delivered.CONSTRUCTED.json" => assert!(
                matches!(
                    parsed,
                    twilio::Parsed::Event(CarrierEvent::Status {
                        status: DeliveryStatus::Delivered,
                        ..
                    })
                ),
                "{name}: {parsed:?}"
            ),
            "sms.status_callback.undelivered.CONSTRUCTED.json" => match parsed {
                twilio::Parsed::Event(CarrierEvent::Status {
                    status, error_code, ..
                }) => {
                    assert_eq!(
                        (status, error_code.as_deref()),
                        (DeliveryStatus::Failed, Some("30003"))
                    )
                }
                other => panic!("{name}: {other:?}"),
            },
            // A call to one of our numbers, answered with TwiML.
            "voice.incoming.json" => match parsed {
                twilio::Parsed::Call(CallEvent::Incoming {
                    call_id, from, to, ..
                }) => assert_eq!(
                    (call_id.as_str(), from.as_str(), to.as_str()),
                    (
                        "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                        "+15017122661",
                        "+15558675310"
                    )
                ),
                other => panic!("{name}: {other:?}"),
            },
            // Its recording: Twilio's link, asked for as MP3.
            "voice.recording_status_callback.CONSTRUCTED.json" => match parsed {
                twilio::Parsed::Call(CallEvent::RecordingSaved { session, url, .. }) => {
                    assert_eq!(session, "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
                    assert_eq!(
                        url,
                        format!("{}.mp3", example["form"]["RecordingUrl"].as_str().unwrap())
                    );
                }
                other => panic!("{name}: {other:?}"),
            },
            _ => assert!(
                matches!(parsed, twilio::Parsed::Ignored { .. }),
                "{name}: {parsed:?}"
            ),
        }
    }
    assert!(seen >= 8);
}

/// An MMS's pictures come in the payload's `media` list (the published example has none, so
/// one is added here in the spec's shape).
#[test]
fn telnyx_mms_pictures_are_read() {
    let raw = std::fs::read(carrier_data().join("telnyx/examples/webhooks/message.received.json"))
        .unwrap();
    let mut example: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    example["data"]["payload"]["media"] = serde_json::json!([
        { "url": "https://media.telnyx.example/a.jpg", "content_type": "image/jpeg", "size": 1200, "hash_sha256": "00" },
        { "url": "https://media.telnyx.example/b.png", "content_type": "image/png" }
    ]);
    let parsed = telnyx::parse(&serde_json::to_vec(&example).unwrap()).unwrap();
    let telnyx::Parsed::Event(CarrierEvent::Inbound { media, .. }) = parsed else {
        panic!("{parsed:?}");
    };
    assert_eq!(
        media,
        vec![
            MediaRef {
                url: "https://media.telnyx.example/a.jpg".into(),
                content_type: "image/jpeg".into()
            },
            MediaRef {
                url: "https://media.telnyx.example/b.png".into(),
                content_type: "image/png".into()
            },
        ]
    );
}
