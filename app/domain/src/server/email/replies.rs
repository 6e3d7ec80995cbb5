//! Replies by email: when an admin names an inbound address (`replies@sms.example.com`),
//! each forwarded text's email says `Reply-To: replies+<conversation>.<tag>@sms.example.com`
//! (both in base32: an address's local part holds at most 64 characters).
//! The admin's mail server hands what arrives there to `POST /webhooks/email` as it came
//! (RFC 5322, with the key Admin → Email shows), and the reply goes out as a text from the
//! number, as if typed in the app: the same checks, opt-outs and limits.
//!
//! Who may reply: the tag is an HMAC (instance secret) of the conversation and of the address
//! the text was forwarded to, so an address can't be guessed or moved to another
//! conversation, and it stops working when the number forwards elsewhere. The reply must
//! also come from that address. Each email is sent once: its Message-ID is recorded first.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::server::carrier::config::{open, seal};
use crate::server::ids::{ConversationId, NumberId, UserId};
use crate::server::{crypto, instance_settings, now_ms, AppState, Db};
use crate::types::EmailRepliesView;

const SETTINGS_KEY: &str = "email_replies";
const KEY_FIELD: &str = "email_replies.key";
/// An email handed to the webhook may be at most this big (a reply's text is what counts;
/// attachments are ignored, but a phone's reply may carry a picture).
pub const EMAIL_LIMIT: usize = 4 * 1024 * 1024;
/// Bytes of the HMAC kept in an address: 80 bits, 16 base32 characters. Guessing one also
/// needs the webhook's key and the forward address as sender.
const TAG_BYTES: usize = 10;
/// What `+<conversation>.<tag>` adds to the reply address's local part (1 + 26 + 1 + 16).
const TOKEN_CHARS: usize = 44;
/// RFC 5321: a local part holds at most 64 characters.
const MAX_LOCAL: usize = 64 - TOKEN_CHARS;

#[derive(Serialize, Deserialize)]
struct Saved {
    /// `replies@sms.example.com`: replies go to `replies+<token>@sms.example.com`.
    address: String,
    key_sealed: String,
}

/// The inbound address and the key the mail server presents, when replies are on.
pub struct Replies {
    local: String,
    domain: String,
    key: String,
}

pub async fn load(db: &Db, secret: &[u8; 32]) -> AppResult<Option<Replies>> {
    let Some(value) = instance_settings::get(db, SETTINGS_KEY).await? else {
        return Ok(None);
    };
    let saved: Saved = serde_json::from_str(&value).map_err(AppError::internal)?;
    let key = open(secret, KEY_FIELD, &saved.key_sealed).ok_or_else(|| {
        AppError::internal(
            "the email replies key can't be decrypted: was the instance secret changed?",
        )
    })?;
    let (local, domain) = saved
        .address
        .rsplit_once('@')
        .ok_or_else(|| AppError::internal("the saved reply address has no @"))?;
    Ok(Some(Replies {
        local: local.to_string(),
        domain: domain.to_lowercase(),
        key,
    }))
}

/// What Admin → Email shows about replies (admins only: the key lets mail in).
pub async fn view(state: &AppState) -> AppResult<EmailRepliesView> {
    Ok(match load(&state.db, &state.secret).await? {
        Some(replies) => EmailRepliesView {
            address: format!("{}@{}", replies.local, replies.domain),
            key: replies.key,
            webhook: format!("{}/webhooks/email", state.settings.base_url()),
        },
        None => EmailRepliesView::default(),
    })
}

/// Turns replies on at `address` (a new key unless one is kept), or off ('').
pub async fn save(db: &Db, secret: &[u8; 32], address: &str, new_key: bool) -> AppResult<()> {
    if address.trim().is_empty() {
        return instance_settings::clear(db, SETTINGS_KEY).await;
    }
    let address = super::check_address(address)?.to_lowercase();
    if address
        .split('@')
        .next()
        .is_some_and(|local| local.contains('+'))
    {
        return Err(AppError::invalid(
            "The reply address can't contain a + (replies go to its +tagged forms).",
        ));
    }
    if address
        .split('@')
        .next()
        .is_some_and(|local| local.len() > MAX_LOCAL)
    {
        return Err(AppError::invalid(format!(
            "The part before @ can be at most {MAX_LOCAL} characters: replies add {TOKEN_CHARS} to it and an address may have 64."
        )));
    }
    let kept = match load(db, secret).await? {
        Some(replies) if !new_key => Some(replies.key),
        _ => None,
    };
    let key = kept.unwrap_or_else(crypto::random_token);
    let saved = Saved {
        address,
        key_sealed: seal(secret, KEY_FIELD, &key),
    };
    let value = serde_json::to_string(&saved).map_err(AppError::internal)?;
    instance_settings::put(db, SETTINGS_KEY, &value).await
}

/// 80 bits of HMAC-SHA256 in lowercase base32: mail servers may change an address's case.
fn tag(secret: &[u8; 32], conversation_id: &str, forwarded_to: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(
        format!(
            "email reply\n{conversation_id}\n{}",
            forwarded_to.to_lowercase()
        )
        .as_bytes(),
    );
    data_encoding::BASE32_DNSSEC.encode(&mac.finalize().into_bytes()[..TAG_BYTES])
}

/// Whether `given` is the tag of that conversation and address (in constant time).
fn tag_holds(secret: &[u8; 32], conversation_id: &str, forwarded_to: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = tag(secret, conversation_id, forwarded_to);
    expected
        .as_bytes()
        .ct_eq(given.to_ascii_lowercase().as_bytes())
        .into()
}

/// The Reply-To of a text from `conversation_id` (a UUID, as every id here) forwarded to
/// `forwarded_to`; none for an id that is not a UUID.
pub fn reply_to(
    replies: &Replies,
    secret: &[u8; 32],
    conversation_id: &str,
    forwarded_to: &str,
) -> Option<String> {
    let id = uuid::Uuid::parse_str(conversation_id).ok()?;
    Some(format!(
        "{}+{}.{}@{}",
        replies.local,
        data_encoding::BASE32_DNSSEC.encode(id.as_bytes()),
        tag(secret, conversation_id, forwarded_to),
        replies.domain
    ))
}

/// The conversation and tag an address of ours names (`replies+<conversation>.<tag>@…`).
fn token_in(replies: &Replies, address: &str) -> Option<(String, String)> {
    let (local, domain) = address.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(&replies.domain) {
        return None;
    }
    let rest = local.get(replies.local.len()..)?;
    if !local[..replies.local.len()].eq_ignore_ascii_case(&replies.local) {
        return None;
    }
    let (conversation, tag) = rest.strip_prefix('+')?.split_once('.')?;
    let bytes = data_encoding::BASE32_DNSSEC
        .decode(conversation.to_ascii_lowercase().as_bytes())
        .ok()?;
    let id = uuid::Uuid::from_slice(&bytes).ok()?;
    Some((id.hyphenated().to_string(), tag.to_string()))
}

/// What the person wrote: the text above the quoted email (`> …`, "On … wrote:",
/// "-----Original Message-----") and above their signature (`-- `).
pub fn reply_text(body: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        let quoted = t.starts_with('>')
            || t == "--"
            || t.starts_with("-----Original Message")
            || t.starts_with("________________________________")
            || (t.ends_with("wrote:")
                && (t.starts_with("On ") || kept.iter().all(|l| l.trim().is_empty())))
            || (t.starts_with("On ") && t.contains('@'));
        if quoted {
            break;
        }
        if t.ends_with("wrote:") {
            // Mail apps wrap a long "On <date> <name> <address> wrote:" line: the part
            // that starts with "On " is the line before.
            let previous = kept.iter().rposition(|l| !l.trim().is_empty());
            if let Some(at) = previous.filter(|&at| kept[at].trim().starts_with("On ")) {
                kept.truncate(at);
                break;
            }
        }
        kept.push(line);
    }
    kept.join("\n").trim().to_string()
}

/// Sends the reply an email carries as a text. `raw` is the email as it arrived.
pub async fn receive(state: &AppState, raw: &[u8]) -> AppResult<ConversationId> {
    let replies = load(&state.db, &state.secret)
        .await?
        .ok_or_else(|| AppError::not_found("Replies by email"))?;
    let email = mail_parser::MessageParser::default()
        .parse(raw)
        .ok_or_else(|| AppError::invalid("That is not an email."))?;
    let addresses = |list: Option<&mail_parser::Address>| -> Vec<String> {
        list.map(|a| {
            a.iter()
                .filter_map(|addr| addr.address().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
    };
    let mut recipients = addresses(email.to());
    recipients.extend(addresses(email.cc()));
    let (conversation_id, given_tag) = recipients
        .iter()
        .find_map(|r| token_in(&replies, r))
        .ok_or_else(|| AppError::not_found("A reply address"))?;
    let row: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.user_id, c.number_id, c.peer, n.forward_email
         FROM conversations c JOIN phone_numbers n ON n.id = c.number_id
         WHERE c.id = $1",
    )
    .bind(&conversation_id)
    .fetch_optional(state.db.pool())
    .await?;
    // Not found alike: no such conversation, a wrong tag, or a number that forwards
    // elsewhere now (the address was for the old one).
    let (user_id, number_id, peer, forwarded_to) = row
        .filter(|(_, _, _, to)| {
            !to.is_empty() && tag_holds(&state.secret, &conversation_id, to, &given_tag)
        })
        .ok_or_else(|| AppError::not_found("A reply address"))?;
    let from = addresses(email.from());
    if !from.iter().any(|f| f.eq_ignore_ascii_case(&forwarded_to)) {
        return Err(AppError::Forbidden);
    }
    let text = reply_text(&email.body_text(0).unwrap_or_default());
    if text.is_empty() {
        return Err(AppError::invalid(
            "The email had no text above the quoted message: nothing was sent.",
        ));
    }
    // Each email once: a mail server that retries (it never heard our answer) sends nothing
    // twice. The claim is taken before the text is queued and given back if that fails.
    let email_id = email
        .message_id()
        .map(str::to_string)
        .unwrap_or_else(|| crypto::hash_token(&String::from_utf8_lossy(raw)));
    let claimed = sqlx::query(
        "INSERT INTO email_replies (email_id, conversation_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (email_id) DO NOTHING",
    )
    .bind(&email_id)
    .bind(&conversation_id)
    .bind(now_ms())
    .execute(state.db.pool())
    .await?;
    if claimed.rows_affected() == 0 {
        return Ok(ConversationId::new(conversation_id));
    }
    let sent = crate::server::messaging::send(
        state,
        &UserId::new(user_id),
        &NumberId::new(number_id),
        &peer,
        &text,
        &[],
    )
    .await;
    if sent.is_err() {
        sqlx::query("DELETE FROM email_replies WHERE email_id = $1")
            .bind(&email_id)
            .execute(state.db.pool())
            .await?;
    }
    sent
}

/// `POST /webhooks/email`: an email for the reply address, as it arrived, from the admin's
/// mail server (`Authorization: Bearer <key>`). Answers 200 once the text is queued.
pub async fn webhook(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use subtle::ConstantTimeEq;
    let replies = match load(&state.db, &state.secret).await {
        Ok(Some(replies)) => replies,
        Ok(None) => return AppError::not_found("Replies by email").into_response(),
        Err(e) => return e.into_response(),
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(given.as_bytes().ct_eq(replies.key.as_bytes())) {
        return AppError::Unauthorized.into_response();
    }
    match receive(&state, &body).await {
        Ok(conversation_id) => {
            tracing::info!(%conversation_id, "a reply by email went out as a text");
            "Sent as a text.\n".into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_person_wrote_is_sent() {
        let cases = [
            ("Sure, 3pm works.\n\nOn Tue, Dec 1, 2026 at 9:00 AM Switchboard <s@example.com> wrote:\n> Can we meet?", "Sure, 3pm works."),
            ("Yes!\r\n\r\n> Can we meet?\r\n", "Yes!"),
            ("See you\n-- \nAda Lovelace\nAnalytical Engines Ltd", "See you"),
            ("Fine.\n\n-----Original Message-----\nFrom: Switchboard", "Fine."),
            ("Two\nlines\n\nOn Tue, Dec 1, 2026 at 9:00 AM Switchboard\n<s@example.com> wrote:\n> x", "Two\nlines"),
            ("> only quoted", ""),
            ("Ada wrote:\n> only quoted", ""),
            ("   \n", ""),
        ];
        for (body, sent) in cases {
            assert_eq!(reply_text(body), sent, "{body:?}");
        }
    }

    #[test]
    fn reply_addresses_name_their_conversation_and_resist_guessing() {
        let replies = Replies {
            local: "replies".into(),
            domain: "sms.example.com".into(),
            key: String::new(),
        };
        let secret = [3u8; 32];
        let conv = "01a23edd-42ab-7664-998d-e32f48b32604";
        let address = reply_to(&replies, &secret, conv, "Ada@Example.com").unwrap();
        assert!(address.starts_with("replies+"), "{address}");
        assert!(address.ends_with("@sms.example.com"));
        let (conversation, given) = token_in(&replies, &address).unwrap();
        assert_eq!(conversation, conv);
        assert!(tag_holds(&secret, conv, "ada@example.com", &given));
        // A mail server that folds the address to upper case changes nothing.
        let (conversation, given) = token_in(&replies, &address.to_uppercase()).unwrap();
        assert_eq!(conversation, conv);
        assert!(tag_holds(&secret, conv, "ada@example.com", &given));
        // The tag is for one conversation and one forward address.
        let other_conv = "01a23edd-42ab-7664-998d-e32f48b32605";
        assert_ne!(tag(&secret, other_conv, "ada@example.com"), given);
        assert_ne!(tag(&secret, conv, "eve@example.com"), given);
        assert_ne!(tag(&[4u8; 32], conv, "ada@example.com"), given);
        for other in [
            "replies@sms.example.com".to_string(),
            address.replace("replies+", "other+"),
            address.replace("@sms.example.com", "@example.com"),
            address.replace("replies+", "replies+x"),
            "replies+zz.x@sms.example.com".into(),
            "repl@sms.example.com".into(),
            String::new(),
        ] {
            assert!(token_in(&replies, &other).is_none(), "{other}");
        }
        assert!(reply_to(&replies, &secret, "not-a-uuid", "ada@example.com").is_none());
    }

    #[test]
    fn the_longest_reply_address_is_still_an_email_address() {
        let replies = Replies {
            local: "r".repeat(MAX_LOCAL),
            domain: "sms.example.com".into(),
            key: String::new(),
        };
        let conv = "01a23edd-42ab-7664-998d-e32f48b32604";
        let address = reply_to(&replies, &[3u8; 32], conv, "ada@example.com").unwrap();
        assert_eq!(address.split('@').next().unwrap().len(), 64, "{address}");
        // lettre refuses a longer local part: the email would not go out at all.
        assert!(address.parse::<lettre::Address>().is_ok(), "{address}");
        let longer = address.replacen('r', "rr", 1);
        assert!(longer.parse::<lettre::Address>().is_err(), "{longer}");
    }
}
