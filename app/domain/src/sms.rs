//! SMS segment arithmetic, shared by the composer (live counter) and the server.
//!
//! A text that fits the GSM 03.38 alphabet is sent 7 bits a character: 160 characters in one
//! segment, 153 per segment when split (the rest carries the concatenation header). Characters
//! of the extension table (`^{}\[~]|€`, form feed) take two. Anything else forces UCS-2: 70
//! UTF-16 units in one segment, 67 per segment when split.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2) used.
    pub units: usize,
    pub segments: usize,
    /// Units left before another segment is needed.
    pub remaining: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED: &str = "\u{c}^{}\\[~]|€";

fn gsm7_cost(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

pub fn count(text: &str) -> Segments {
    let gsm: Option<usize> = text.chars().map(gsm7_cost).sum();
    let (encoding, units, single, multi) = match gsm {
        Some(septets) => (Encoding::Gsm7, septets, 160, 153),
        None => (Encoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        units.div_ceil(multi)
    };
    let capacity = match segments {
        0 => single,
        1 => single,
        n => n * multi,
    };
    Segments {
        encoding,
        units,
        segments,
        remaining: capacity - units,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_boundaries() {
        assert_eq!(count("").segments, 0);
        assert_eq!(count(&"a".repeat(160)).segments, 1);
        assert_eq!(count(&"a".repeat(161)).segments, 2);
        assert_eq!(count(&"a".repeat(306)).segments, 2);
        assert_eq!(count(&"a".repeat(307)).segments, 3);
        let s = count("hello");
        assert_eq!((s.encoding, s.units, s.remaining), (Encoding::Gsm7, 5, 155));
    }

    #[test]
    fn extension_characters_take_two_septets() {
        let s = count("€[]");
        assert_eq!((s.encoding, s.units), (Encoding::Gsm7, 6));
        assert_eq!(count(&"€".repeat(80)).segments, 1);
        assert_eq!(count(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn anything_else_is_ucs2() {
        assert_eq!(
            count("héllo").encoding,
            Encoding::Gsm7,
            "é is in the GSM alphabet"
        );
        let s = count("ça va 🙂");
        assert_eq!(s.encoding, Encoding::Ucs2);
        assert_eq!(s.units, 8, "the emoji is two UTF-16 units");
        assert_eq!(count(&"ж".repeat(70)).segments, 1);
        assert_eq!(count(&"ж".repeat(71)).segments, 2);
        assert_eq!(count(&"ж".repeat(134)).segments, 2);
        assert_eq!(count(&"ж".repeat(135)).segments, 3);
    }
}
