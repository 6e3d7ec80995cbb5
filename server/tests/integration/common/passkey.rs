//! A software passkey: answers the server's WebAuthn options as a browser and a device
//! would (ES256 on P-256, "none" attestation, user verified), so the server's rules can be
//! tested without a browser. The end-to-end test uses Chromium's own virtual authenticator.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct SoftPasskey {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    /// The account's WebAuthn user handle, learnt at registration (a discoverable key).
    pub user_handle: Vec<u8>,
    pub counter: u32,
    /// The page's origin as the browser reports it in the client data.
    pub origin: String,
}

/// Flags of authenticator data: user present, user verified, attested credential data.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    match bytes.len() {
        n if n < 24 => out.push(0x40 | n as u8),
        n if n < 256 => out.extend([0x58, n as u8]),
        n => out.extend([0x59, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    out.push(0x60 | text.len() as u8); // all ours are under 24 bytes
    out.extend_from_slice(text.as_bytes());
}

impl SoftPasskey {
    pub fn new(origin: &str) -> SoftPasskey {
        SoftPasskey {
            key: SigningKey::random(&mut rand::rngs::OsRng),
            credential_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
            user_handle: Vec::new(),
            counter: 0,
            origin: origin.to_string(),
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    /// The COSE form of the public key: {kty: EC2, alg: ES256, crv: P-256, x, y}.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut out = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut out, point.x().unwrap());
        out.push(0x22);
        cbor_bytes(&mut out, point.y().unwrap());
        out
    }

    fn auth_data(&self, rp_id: &str, flags: u8, attested: bool) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        if attested {
            data.extend([0u8; 16]); // AAGUID: none
            data.extend((self.credential_id.len() as u16).to_be_bytes());
            data.extend(&self.credential_id);
            data.extend(self.cose_key());
        }
        data
    }

    /// The browser's answer (JSON) to registration options (`options`: the server's JSON).
    pub fn register(&mut self, options: &str) -> String {
        let options: Value = serde_json::from_str(options).unwrap();
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().unwrap();
        let challenge = public_key["challenge"].as_str().unwrap();
        self.user_handle = B64
            .decode(public_key["user"]["id"].as_str().unwrap())
            .unwrap();
        let mut attestation = vec![0xa3];
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        attestation.push(0xa0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &self.auth_data(rp_id, UP | UV | AT, true));
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(attestation),
                "clientDataJSON": B64.encode(self.client_data("webauthn.create", challenge)),
            },
            "extensions": {},
        })
        .to_string()
    }

    /// The browser's answer (JSON) to sign-in options; the signature counter goes up.
    pub fn sign_in(&mut self, options: &str) -> String {
        let options: Value = serde_json::from_str(options).unwrap();
        let public_key = &options["publicKey"];
        let rp_id = public_key["rpId"].as_str().unwrap();
        let challenge = public_key["challenge"].as_str().unwrap();
        self.counter += 1;
        let auth_data = self.auth_data(rp_id, UP | UV, false);
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(auth_data),
                "clientDataJSON": B64.encode(client_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "extensions": {},
        })
        .to_string()
    }
}
