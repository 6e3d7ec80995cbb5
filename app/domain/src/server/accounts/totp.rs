//! Time-based one-time passwords (RFC 6238) as every authenticator app reads them from an
//! `otpauth://` link: HMAC-SHA1, 30-second steps, 6 digits. Written here from the RFC
//! (twenty lines over the hmac and sha1 crates already in use) and checked against its
//! test vectors.

use hmac::{Hmac, Mac};
use rand::RngCore;

/// Seconds per code.
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps either side of now that still count (a phone's clock a little off, a code typed
/// as it turned over).
const SKEW_STEPS: i64 = 1;

/// A new 160-bit secret (RFC 4226 recommends the HMAC-SHA1 output size).
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The secret as people type it into an app: base32, no padding.
pub fn secret_text(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// A secret as [`secret_text`] wrote it.
pub fn secret_from_text(text: &str) -> Option<Vec<u8>> {
    data_encoding::BASE32_NOPAD.decode(text.as_bytes()).ok()
}

/// The HOTP value (RFC 4226) of `secret` at `counter`, `digits` long.
pub fn code_at(secret: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    // Dynamic truncation: four bytes at the offset the last nibble names.
    let offset = (hash[hash.len() - 1] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    format!(
        "{:0width$}",
        value % 10u32.pow(digits),
        width = digits as usize
    )
}

/// The step a unix time (seconds) falls in.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The step whose code `code` is, within [`SKEW_STEPS`] of `unix_seconds` and after
/// `last_used` (a code works once: one seen over a shoulder can't be replayed).
pub fn matching_step(secret: &[u8], code: &str, unix_seconds: i64, last_used: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds);
    (now - SKEW_STEPS..=now + SKEW_STEPS)
        .filter(|step| *step > last_used && *step >= 0)
        .find(|step| {
            let expected = code_at(secret, *step as u64, DIGITS);
            // Compared in constant time: the difference must not leak through timing.
            expected
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        })
}

/// The `otpauth://` link an authenticator app reads (from the QR code or pasted).
pub fn otpauth_url(secret: &[u8], issuer: &str, account: &str) -> String {
    let label = format!("{issuer}:{account}");
    let mut url = url::Url::parse("otpauth://totp/").expect("a valid base");
    url.set_path(&format!("/{}", urlencoding(&label)));
    url.query_pairs_mut()
        .append_pair("secret", &secret_text(secret))
        .append_pair("issuer", issuer)
        .append_pair("algorithm", "SHA1")
        .append_pair("digits", &DIGITS.to_string())
        .append_pair("period", &STEP_SECONDS.to_string());
    url.to_string()
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The link as a QR code, an SVG image (black modules on white, a quiet zone around).
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA1 rows: the 20-byte ASCII secret, 8 digits.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(
                code_at(secret, step_at(time) as u64, 8),
                expected,
                "at {time}"
            );
        }
    }

    /// RFC 4226 Appendix D: HOTP values for counters 0…9, 6 digits.
    #[test]
    fn rfc_4226_test_vectors() {
        let secret = b"12345678901234567890";
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(code_at(secret, counter as u64, 6), *code);
        }
    }

    #[test]
    fn a_code_counts_near_its_time_and_only_once() {
        let secret = b"12345678901234567890";
        let now = 1_234_567_890;
        let code = code_at(secret, step_at(now) as u64, DIGITS);
        assert_eq!(matching_step(secret, &code, now, 0), Some(step_at(now)));
        assert_eq!(
            matching_step(secret, &code, now + 30, 0),
            Some(step_at(now))
        );
        assert_eq!(matching_step(secret, &code, now + 90, 0), None, "too late");
        assert_eq!(
            matching_step(secret, &code, now, step_at(now)),
            None,
            "already used"
        );
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(matching_step(secret, &spaced, now, 0), Some(step_at(now)));
        assert_eq!(matching_step(secret, "12345", now, 0), None);
        assert_eq!(matching_step(secret, "abcdef", now, 0), None);
        assert_eq!(matching_step(secret, "", now, 0), None);
        assert_eq!(matching_step(b"another secret", &code, now, 0), None);
    }

    #[test]
    fn the_link_names_the_account_and_carries_the_secret() {
        let url = otpauth_url(b"12345678901234567890", "Switchboard", "ada@example.com");
        assert!(
            url.starts_with("otpauth://totp/Switchboard%3Aada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Switchboard"),
            "{url}"
        );
        let svg = qr_svg(&url).unwrap();
        assert!(svg.contains("<svg") && svg.len() > 1000);
    }
}
