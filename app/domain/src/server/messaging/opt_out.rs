//! Opt-outs, by the carriers' and the CTIA's keyword rules: a peer who texts STOP (or any
//! of its synonyms) to one of our numbers gets nothing more from that number until they
//! text START; HELP is answered with the number's help text. Carriers that report a send
//! to an unsubscribed peer (Telnyx 40300, Twilio 21610) mark the opt-out too.

use sqlx::{Any, Transaction};

use crate::error::{AppError, AppResult};
use crate::server::ids::NumberId;
use crate::server::now_ms;

/// What a whole inbound text asks for, when it is one of the keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    Stop,
    Start,
    Help,
}

/// Stop words: the CTIA's and both carriers' lists (Twilio's Advanced Opt-Out adds
/// REVOKE and OPTOUT; Telnyx stops on the same set).
const STOP_WORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const START_WORDS: [&str; 3] = ["START", "UNSTOP", "YES"];
const HELP_WORDS: [&str; 2] = ["HELP", "INFO"];

/// The carrier errors that mean "this peer unsubscribed".
pub const OPT_OUT_ERRORS: [&str; 2] = ["40300", "21610"];

/// The keyword a text is, if the whole text is one (any case, surrounding spaces and
/// punctuation ignored): "Stop." is one, "please don't stop" is not.
pub fn keyword(body: &str) -> Option<Keyword> {
    let word = body
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace());
    if word.len() > 11 {
        return None;
    }
    let word = word.to_ascii_uppercase();
    let word = word.as_str();
    if STOP_WORDS.contains(&word) {
        Some(Keyword::Stop)
    } else if START_WORDS.contains(&word) {
        Some(Keyword::Start)
    } else if HELP_WORDS.contains(&word) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// Records that `peer` opted out of `number_id`'s texts (`source`: `keyword` or the
/// carrier's error code). Repeating it changes nothing.
pub async fn opt_out(
    tx: &mut Transaction<'_, Any>,
    number_id: &NumberId,
    peer: &str,
    source: &str,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO opt_outs (number_id, peer, source, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (number_id, peer) DO NOTHING",
    )
    .bind(number_id)
    .bind(peer)
    .bind(source)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn opt_in(
    tx: &mut Transaction<'_, Any>,
    number_id: &NumberId,
    peer: &str,
) -> AppResult<()> {
    sqlx::query("DELETE FROM opt_outs WHERE number_id = $1 AND peer = $2")
        .bind(number_id)
        .bind(peer)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether `peer` opted out of `number_id`'s texts.
pub async fn opted_out(
    db: &crate::server::Db,
    number_id: &NumberId,
    peer: &str,
) -> AppResult<bool> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM opt_outs WHERE number_id = $1 AND peer = $2")
            .bind(number_id)
            .bind(peer)
            .fetch_one(db.pool())
            .await?;
    Ok(n > 0)
}

/// Why a text to an opted-out peer is not sent, in plain words.
pub fn refusal(peer_display: &str, number_display: &str) -> AppError {
    AppError::invalid(format!(
        "{peer_display} opted out of texts from {number_display} (they replied STOP). \
         Nothing was sent; they can text START to {number_display} to get texts again."
    ))
}

/// What a HELP text is answered with when the number has no help text of its own.
pub fn default_help(number_name: &str) -> String {
    let who = if number_name.trim().is_empty() {
        "This number"
    } else {
        number_name.trim()
    };
    format!("{who}: reply STOP to stop these texts, START to get them again. Msg & data rates may apply.")
}

/// The longest help text a number may have (one SMS segment of GSM characters, ×2).
pub const MAX_HELP_CHARS: usize = 320;
/// A peer who keeps texting HELP (or another auto-replier) gets one answer per this long.
pub const HELP_REPLY_EVERY_MS: i64 = 10 * 60 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_texts_that_are_keywords() {
        for stop in [
            "STOP",
            "stop",
            " Stop. ",
            "STOPALL",
            "unsubscribe",
            "Cancel",
            "END",
            "quit!",
            "REVOKE",
            "optout",
        ] {
            assert_eq!(keyword(stop), Some(Keyword::Stop), "{stop}");
        }
        for start in ["START", "unstop", "Yes"] {
            assert_eq!(keyword(start), Some(Keyword::Start), "{start}");
        }
        for help in ["HELP", "help?", "Info"] {
            assert_eq!(keyword(help), Some(Keyword::Help), "{help}");
        }
        for other in [
            "please stop",
            "stop it",
            "STOPPED",
            "",
            "yes please",
            "don't stop",
            "S T O P",
            "helpme",
        ] {
            assert_eq!(keyword(other), None, "{other}");
        }
    }

    #[test]
    fn default_help_names_the_number() {
        assert!(default_help("Bakery").starts_with("Bakery: reply STOP"));
        assert!(default_help(" ").starts_with("This number: reply STOP"));
        assert!(default_help("A".repeat(100).as_str()).chars().count() <= MAX_HELP_CHARS);
    }
}
