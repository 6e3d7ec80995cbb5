//! Texts to email: an admin configures the SMTP server (host, port, STARTTLS / TLS, user,
//! password sealed at rest); a number's owner names an address its inbound texts go to.
//! Each forward is a durable job (`Job::ForwardEmail`), retried, and capped per number.
//! With an inbound address configured, a reply to that email goes back out as a text
//! ([`replies`]).

pub mod replies;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::server::carrier::config::{open, seal};
use crate::server::ids::{MessageId, NumberId, UserId};
use crate::server::throttle::{self, Limit};
use crate::server::{instance_settings, phone, AppState, Db};
use crate::types::EmailSettingsView;

const SETTINGS_KEY: &str = "smtp";
const PASSWORD_FIELD: &str = "smtp.password";
/// Emails forwarded per number: a flood of texts doesn't become a flood of mail.
pub const FORWARDS: Limit = Limit {
    action: "forwarded emails",
    per_window: 60,
    window_ms: 60 * 60 * 1000,
};
/// "Send a test email" per admin.
pub const TESTS: Limit = Limit {
    action: "test emails",
    per_window: 5,
    window_ms: 60 * 1000,
};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain, upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// Unencrypted: only to a mail server on this machine.
    None,
}

impl Security {
    fn parse(s: &str) -> Option<Security> {
        Some(match s {
            "starttls" => Security::Starttls,
            "tls" => Security::Tls,
            "none" => Security::None,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Security::Starttls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        }
    }
}

/// The SMTP server, as saved (the password sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    host: String,
    port: u16,
    security: Security,
    username: String,
    password_sealed: Option<String>,
    from: String,
}

/// The SMTP server with its password opened, ready to send.
#[derive(Debug, Clone)]
pub struct Smtp {
    host: String,
    port: u16,
    security: Security,
    username: String,
    password: Option<String>,
    from: Mailbox,
}

async fn load_saved(db: &Db) -> AppResult<Option<Saved>> {
    let saved = instance_settings::get(db, SETTINGS_KEY).await?;
    saved
        .map(|value| serde_json::from_str(&value).map_err(AppError::internal))
        .transpose()
}

/// The configured SMTP server, if an admin saved one.
pub async fn smtp(db: &Db, secret: &[u8; 32]) -> AppResult<Option<Smtp>> {
    let Some(saved) = load_saved(db).await? else {
        return Ok(None);
    };
    let password = match &saved.password_sealed {
        Some(sealed) => Some(open(secret, PASSWORD_FIELD, sealed).ok_or_else(|| {
            AppError::internal(
                "the saved SMTP password can't be decrypted: was the instance secret changed?",
            )
        })?),
        None => None,
    };
    Ok(Some(Smtp {
        from: saved.from.parse().map_err(AppError::internal)?,
        host: saved.host,
        port: saved.port,
        security: saved.security,
        username: saved.username,
        password,
    }))
}

/// What Admin → Email shows (never the password).
pub async fn view(db: &Db) -> AppResult<EmailSettingsView> {
    Ok(match load_saved(db).await? {
        Some(saved) => EmailSettingsView {
            host: saved.host,
            port: i64::from(saved.port),
            security: saved.security.as_str().into(),
            username: saved.username,
            password_saved: saved.password_sealed.is_some(),
            from: saved.from,
        },
        None => EmailSettingsView {
            port: 587,
            security: "starttls".into(),
            ..Default::default()
        },
    })
}

/// An email address a person typed: one mailbox, no display-name tricks.
pub fn check_address(address: &str) -> AppResult<String> {
    let address = address.trim();
    if address.len() > 254
        || address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        || address.parse::<lettre::Address>().is_err()
    {
        return Err(AppError::invalid(format!(
            "\u{201c}{address}\u{201d} is not an email address."
        )));
    }
    Ok(address.to_string())
}

/// The SMTP settings as an admin typed them.
pub struct SmtpInput<'a> {
    pub host: &'a str,
    pub port: i64,
    pub security: &'a str,
    pub username: &'a str,
    /// Empty keeps the saved password.
    pub password: &'a str,
    pub from: &'a str,
}

pub async fn save(db: &Db, secret: &[u8; 32], input: SmtpInput<'_>) -> AppResult<()> {
    let host = input.host.trim().to_lowercase();
    if host.is_empty()
        || host.len() > 253
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(AppError::invalid(
            "Enter the mail server's host name, like smtp.example.com.",
        ));
    }
    let port = u16::try_from(input.port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| AppError::invalid("A port is a number from 1 to 65535."))?;
    let security = Security::parse(input.security)
        .ok_or_else(|| AppError::invalid("Choose STARTTLS, TLS or none."))?;
    if security == Security::None && !matches!(host.as_str(), "localhost" | "127.0.0.1") {
        return Err(AppError::invalid(
            "Unencrypted SMTP is only for a mail server on this machine (localhost): choose STARTTLS or TLS.",
        ));
    }
    let from = check_address(input.from)?;
    let username = input.username.trim().to_string();
    if username.len() > 254 {
        return Err(AppError::invalid("That user name is too long."));
    }
    if input.password.len() > 1024 {
        return Err(AppError::invalid("That password is too long."));
    }
    let kept = load_saved(db).await?.and_then(|s| s.password_sealed);
    let password_sealed = if !input.password.is_empty() {
        Some(seal(secret, PASSWORD_FIELD, input.password))
    } else if username.is_empty() {
        None
    } else {
        kept
    };
    let saved = Saved {
        host,
        port,
        security,
        username,
        password_sealed,
        from,
    };
    let value = serde_json::to_string(&saved).map_err(AppError::internal)?;
    instance_settings::put(db, SETTINGS_KEY, &value).await
}

/// Sends one plain-text email (with a Reply-To when replies come back by email); the error
/// is in words an admin can act on.
pub async fn send(
    smtp: &Smtp,
    to: &str,
    reply_to: Option<&str>,
    subject: &str,
    body: String,
) -> Result<(), String> {
    let to: Mailbox = to
        .parse()
        .map_err(|_| format!("{to} is not an email address"))?;
    let mut message = Message::builder().from(smtp.from.clone()).to(to);
    if let Some(reply_to) = reply_to {
        message = message.reply_to(
            reply_to
                .parse()
                .map_err(|_| format!("{reply_to} is not an email address"))?,
        );
    }
    let message = message
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())?;
    let builder = match smtp.security {
        Security::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
            .map_err(|e| e.to_string())?,
        Security::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|e| e.to_string())?
        }
        Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
    };
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(std::time::Duration::from_secs(15)));
    if !smtp.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            smtp.username.clone(),
            smtp.password.clone().unwrap_or_default(),
        ));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("the mail server said no: {e}"))
}

/// "Send a test email" (admins): to `to`, through the saved server.
pub async fn send_test(state: &AppState, admin: &UserId, to: &str) -> AppResult<()> {
    let to = check_address(to)?;
    throttle::take(&state.db, TESTS, admin.as_str()).await?;
    let smtp = smtp(&state.db, &state.secret)
        .await?
        .ok_or_else(|| AppError::invalid("Save the mail server's settings first."))?;
    send(
        &smtp,
        &to,
        None,
        "Switchboard test email",
        format!(
            "This is a test from Switchboard at {}: texts forwarded by email will arrive like this.\n",
            state.settings.base_url()
        ),
    )
    .await
    .map_err(|why| AppError::invalid(format!("The test email was not sent: {why}.")))
}

/// Where the user's number forwards its inbound texts ('' stops forwarding).
pub async fn set_forward(
    state: &AppState,
    user_id: &UserId,
    number_id: &NumberId,
    address: &str,
) -> AppResult<()> {
    let address = if address.trim().is_empty() {
        String::new()
    } else {
        check_address(address)?
    };
    let done =
        sqlx::query("UPDATE phone_numbers SET forward_email = $1 WHERE id = $2 AND user_id = $3")
            .bind(&address)
            .bind(number_id)
            .bind(user_id)
            .execute(state.db.pool())
            .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That number"));
    }
    Ok(())
}

/// What a forward job does: the outcome the job runner acts on.
pub enum Forwarded {
    Sent,
    /// Nothing to send (the text or the forward address is gone, no server, over the cap).
    Dropped,
    /// The server failed; a later try may work.
    Retry(String),
}

/// The job of one forwarded text: an email to the number's address with the sender (by
/// contact name when known), the text and a link to the thread.
pub async fn forward_inbound(state: &AppState, message_id: &MessageId) -> AppResult<Forwarded> {
    type Row = (String, String, String, String, String, String, i64, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT n.forward_email, n.e164, n.name, c.peer, m.body, c.id,
             (SELECT COUNT(*) FROM media p WHERE p.message_id = m.id), m.user_id
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
         JOIN phone_numbers n ON n.id = c.number_id WHERE m.id = $1",
    )
    .bind(message_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((to, number, number_name, peer, body, conversation_id, pictures, user_id)) = row
    else {
        return Ok(Forwarded::Dropped);
    };
    if to.is_empty() {
        return Ok(Forwarded::Dropped);
    }
    let Some(smtp) = smtp(&state.db, &state.secret).await? else {
        tracing::warn!("a text to forward by email, but no mail server is configured");
        return Ok(Forwarded::Dropped);
    };
    if throttle::take(&state.db, FORWARDS, &number).await.is_err() {
        tracing::warn!(%number, "forwarded-email cap reached; this text stays in the app only");
        return Ok(Forwarded::Dropped);
    }
    let region = phone::region_of(&number).unwrap_or_else(|| "US".into());
    let names =
        crate::server::contacts::names_of(&state.db, &UserId::new(user_id), &[peer.as_str()])
            .await?;
    let sender = names
        .get(&peer)
        .cloned()
        .unwrap_or_else(|| phone::display(&peer, &region));
    let line = if number_name.is_empty() {
        phone::display(&number, &region)
    } else {
        number_name
    };
    let mut text = body;
    if pictures > 0 {
        text.push_str(&format!(
            "\n\n[{pictures} picture(s): see them in Switchboard]"
        ));
    }
    let reply_to = replies::load(&state.db, &state.secret)
        .await?
        .and_then(|r| replies::reply_to(&r, &state.secret, &conversation_id, &to));
    let how = if reply_to.is_some() {
        "Reply to this email to answer by text, or in Switchboard"
    } else {
        "Reply in Switchboard"
    };
    text.push_str(&format!(
        "\n\n-- \nFrom {sender} to {line}. {how}: {}/inbox/{conversation_id}\n",
        state.settings.base_url()
    ));
    let subject = format!("Text from {sender} to {line}");
    match send(&smtp, &to, reply_to.as_deref(), &subject, text).await {
        Ok(()) => Ok(Forwarded::Sent),
        Err(why) => Ok(Forwarded::Retry(why)),
    }
}
