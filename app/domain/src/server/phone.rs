//! Phone numbers: parsed and normalised with libphonenumber's rules (the `phonenumber`
//! crate), stored as E.164, shown in national or international format as fits the viewer.

use phonenumber::{country, Mode, PhoneNumber};

use crate::error::{AppError, AppResult};

/// True for NANP numbers in the fictional 555-0100…555-0199 block, which the sandbox carrier
/// hands out. libphonenumber calls them invalid; here they are the sandbox's real numbers.
pub fn is_fictional(e164: &str) -> bool {
    e164.len() == 12 && e164.starts_with("+1") && &e164[5..10] == "55501"
}

/// Parses what a person typed (`(212) 555-0123`, `+44 20 7946 0018`, …) into E.164, reading
/// national numbers as in `default_region` (an ISO country code, e.g. "US").
pub fn parse(input: &str, default_region: &str) -> AppResult<String> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(AppError::invalid("Enter a phone number."));
    }
    if trimmed.len() > 40 {
        return Err(AppError::invalid("That is too long to be a phone number."));
    }
    let region: Option<country::Id> = default_region.parse().ok();
    let parsed = phonenumber::parse(region, trimmed).map_err(|_| {
        AppError::invalid(format!("\u{201c}{trimmed}\u{201d} is not a phone number."))
    })?;
    let e164 = parsed.format().mode(Mode::E164).to_string();
    if phonenumber::is_valid(&parsed) || is_fictional(&e164) {
        Ok(e164)
    } else {
        Err(AppError::invalid(format!(
            "\u{201c}{trimmed}\u{201d} is not a valid phone number."
        )))
    }
}

fn parsed(e164: &str) -> Option<PhoneNumber> {
    phonenumber::parse(None, e164).ok()
}

/// Parsing with libphonenumber's metadata costs tens of microseconds, and lists show the same
/// numbers again and again, so results are remembered (bounded: forgotten when full).
fn remembered(key: String, compute: impl FnOnce() -> Option<String>) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Option<String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return hit.clone();
    }
    let value = compute();
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= 50_000 {
        cache.clear();
    }
    cache.insert(key, value.clone());
    value
}

/// Whether `e164` is a phone we may place calls to for someone (the instance pays for
/// each): a landline, a mobile or a toll-free number, by libphonenumber's metadata. Not
/// premium-rate, shared-cost, personal-number, pager, VoIP or unknown lines, which can
/// cost far more than a call (the toll-fraud kind).
pub fn is_callable(e164: &str) -> bool {
    use phonenumber::Type;
    parsed(e164).is_some_and(|n| {
        matches!(
            n.number_type(&phonenumber::metadata::DATABASE),
            Type::FixedLine | Type::Mobile | Type::FixedLineOrMobile | Type::TollFree
        )
    })
}

/// Refuses a phone the instance would pay too much to call from our number `own` for
/// someone (forwarding, calls out through the carrier): one abroad, or not
/// [`is_callable`].
pub fn check_payable(own: &str, to: &str) -> AppResult<()> {
    if region_of(to).is_none() || region_of(to) != region_of(own) {
        return Err(AppError::invalid(
            "Calls go to phones in your number's own country: pick a phone there.",
        ));
    }
    if !is_callable(to) {
        return Err(AppError::invalid(
            "Landlines, mobiles and toll-free numbers only: premium-rate and other paid \
             numbers are never called from here.",
        ));
    }
    Ok(())
}

/// The number's country (ISO code), e.g. "US".
pub fn region_of(e164: &str) -> Option<String> {
    remembered(format!("region:{e164}"), || {
        let id = parsed(e164)?.country().id()?;
        Some(format!("{id:?}"))
    })
}

/// National format when the number is in `viewer_region` (`(212) 555-0123`), international
/// otherwise (`+44 20 7946 0018`). Falls back to the E.164 text.
pub fn display(e164: &str, viewer_region: &str) -> String {
    remembered(format!("display:{viewer_region}:{e164}"), || {
        let number = parsed(e164)?;
        let same_country = number
            .country()
            .id()
            .map(|id| format!("{id:?}") == viewer_region)
            .unwrap_or(false);
        let mode = if same_country {
            Mode::National
        } else {
            Mode::International
        };
        Some(number.format().mode(mode).to_string())
    })
    .unwrap_or_else(|| e164.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ordinary_phones_are_called_for_someone() {
        for ordinary in [
            "+12025550188",
            "+18005550199",
            "+447400123456",
            "+442079460018",
        ] {
            assert!(super::is_callable(ordinary), "{ordinary}");
        }
        // Premium-rate (US 900, UK 09), shared-cost (UK 0845), personal numbers (UK 070).
        for dear in [
            "+19002345678",
            "+449098790000",
            "+448451234567",
            "+447011234567",
        ] {
            assert!(!super::is_callable(dear), "{dear}");
        }
    }

    #[test]
    fn parses_what_people_type() {
        assert_eq!(parse("(201) 555-0123", "US").unwrap(), "+12015550123");
        assert_eq!(parse("+44 20 7946 0018", "US").unwrap(), "+442079460018");
        assert_eq!(parse("020 7946 0018", "GB").unwrap(), "+442079460018");
        assert_eq!(parse("+1 650-253-0000", "GB").unwrap(), "+16502530000");
        for bad in ["", "hello", "123", "+1 000 000 0000", &"9".repeat(60)] {
            assert!(parse(bad, "US").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn displays_for_the_viewer() {
        assert_eq!(display("+16502530000", "US"), "(650) 253-0000");
        assert_eq!(display("+442079460018", "US"), "+44 20 7946 0018");
        assert_eq!(region_of("+442079460018").as_deref(), Some("GB"));
        assert!(is_fictional("+12125550142"));
        assert!(!is_fictional("+12125550042"));
    }
}
