//! Texts forwarded by email, against a real SMTP server the test starts: Python's own
//! `smtpd` (DebuggingServer prints each message it receives), not our code.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common;

use app::api::messaging::{EmailSettings, SaveEmailSettings, SendTestEmail, SetForwardEmail};
use app::api::simulator::SimulateInbound;
use app::error::AppError;
use app::types::{EmailSettingsView, OwnedNumber};
use common::TestApp;

/// A mail server on a free port; its output (every message received) comes line by line.
struct Sink {
    port: u16,
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Sink {
    async fn start() -> Sink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = tokio::process::Command::new("python3")
            .args([
                "-u",
                "-W",
                "ignore",
                "-m",
                "smtpd",
                "-n",
                "-c",
                "DebuggingServer",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs (the SMTP sink)");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Sink { port, child, lines }
    }

    /// The next message received, headers and body (soft line breaks undone).
    async fn next_message(&mut self) -> String {
        let read = async {
            let mut message = String::new();
            while let Some(line) = self.lines.next_line().await.unwrap() {
                if line.contains("MESSAGE FOLLOWS") {
                    message.clear();
                    continue;
                }
                if line.contains("END MESSAGE") {
                    // Quoted-printable's soft line breaks joined again.
                    return message.replace("=\n", "");
                }
                // Each line as Python prints bytes: b'…'.
                let line = line
                    .strip_prefix("b'")
                    .and_then(|l| l.strip_suffix('\''))
                    .unwrap_or(&line);
                message.push_str(line);
                message.push('\n');
            }
            panic!("the SMTP sink stopped");
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), read)
            .await
            .expect("an email arrives within 10 s")
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn server_at(port: u16) -> SaveEmailSettings {
    SaveEmailSettings {
        host: "localhost".into(),
        port: port.into(),
        security: "none".into(),
        username: String::new(),
        password: String::new(),
        from: "switchboard@example.com".into(),
    }
}

async fn buy(app: &TestApp, client: &reqwest::Client) -> OwnedNumber {
    let search = app::api::numbers::SearchNumbers {
        sms: true,
        ..common::numbers_in("212")
    };
    app.buy(client, search).await
}

async fn texts_arrive_by_email_through_the_admins_mail_server(app: &TestApp) {
    let mut sink = Sink::start().await;
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada).await;
    assert!(app.call(&ada, server_at(sink.port)).await.is_ok());

    // "Send a test email".
    assert!(app
        .call(
            &ada,
            SendTestEmail {
                to: "ada@example.com".into()
            }
        )
        .await
        .is_ok());
    let test = sink.next_message().await;
    assert!(test.contains("Subject: Switchboard test email"), "{test}");
    assert!(test.contains("To: ada@example.com"), "{test}");

    // A number forwarding its texts: each arrives with who sent it and a link back.
    let forward = SetForwardEmail {
        number_id: number.id.to_string(),
        email: "ada.mobile@example.com".into(),
    };
    assert!(app.call(&ada, forward).await.is_ok());
    let mut grace = crate::contacts::contact("Grace Hopper", &["+12025550199"]);
    grace.tags = String::new();
    assert!(app.call(&ada, grace).await.is_ok());
    app.call(
        &ada,
        SimulateInbound {
            from: "+12025550199".into(),
            to: number.e164.to_string(),
            body: "Are we still on for Friday?".into(),
            picture: false,
        },
    )
    .await
    .json::<()>();
    let mail = sink.next_message().await;
    assert!(mail.contains("From: switchboard@example.com"), "{mail}");
    assert!(mail.contains("To: ada.mobile@example.com"), "{mail}");
    assert!(
        mail.contains("Subject: Text from Grace Hopper to "),
        "{mail}"
    );
    assert!(mail.contains("Are we still on for Friday?"), "{mail}");
    assert!(
        mail.contains(&format!("{}/inbox/", app.state.settings.base_url())),
        "{mail}"
    );

    // The settings read back without the password.
    let seen: EmailSettingsView = app.call(&ada, EmailSettings {}).await.json();
    assert_eq!(
        (seen.host.as_str(), seen.security.as_str()),
        ("localhost", "none")
    );
    assert!(!seen.password_saved);
}

async fn mail_settings_are_checked_and_admin_only(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada).await;
    let invalid = |reply: common::Reply, words: &str| {
        assert!(
            matches!(reply.error(), AppError::Invalid(ref m) if m.contains(words)),
            "{words}: {reply:?}"
        )
    };
    let mut plain_far = server_at(25);
    plain_far.host = "mail.example.com".into();
    invalid(
        app.call(&ada, plain_far).await,
        "only for a mail server on this machine",
    );
    let mut bad_port = server_at(0);
    bad_port.security = "starttls".into();
    invalid(app.call(&ada, bad_port).await, "port");
    let mut bad_from = server_at(25);
    bad_from.from = "Eve <eve@example.com>".into();
    invalid(app.call(&ada, bad_from).await, "not an email address");
    let mut with_password = server_at(2525);
    with_password.username = "ada".into();
    with_password.password = "s3cret-smtp".into();
    assert!(app.call(&ada, with_password).await.is_ok());
    // Sealed at rest: the database never holds the password in the clear.
    let (stored,): (String,) =
        sqlx::query_as("SELECT value FROM instance_settings WHERE key = 'smtp'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert!(!stored.contains("s3cret-smtp"), "{stored}");
    let seen: EmailSettingsView = app.call(&ada, EmailSettings {}).await.json();
    assert!(seen.password_saved);
    // No server listens there: the test email says so in words.
    invalid(
        app.call(
            &ada,
            SendTestEmail {
                to: "ada@example.com".into(),
            },
        )
        .await,
        "not sent",
    );
    invalid(
        app.call(
            &ada,
            SetForwardEmail {
                number_id: number.id.to_string(),
                email: "a@b@c".into(),
            },
        )
        .await,
        "not an email address",
    );

    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    for reply in [
        app.call(&bea, EmailSettings {}).await,
        app.call(&bea, server_at(25)).await,
        app.call(
            &bea,
            SendTestEmail {
                to: "bea@example.com".into(),
            },
        )
        .await,
    ] {
        assert_eq!(reply.error(), AppError::Forbidden, "{reply:?}");
    }
    let theirs = SetForwardEmail {
        number_id: number.id.to_string(),
        email: "bea@example.com".into(),
    };
    assert!(matches!(
        app.call(&bea, theirs).await.error(),
        AppError::NotFound(_)
    ));
}

/// A reply to a forwarded text, as the admin's mail server would post it.
fn reply_email(from: &str, to: &str, message_id: &str, body: &str) -> String {
    format!(
        "From: Ada <{from}>\r\nTo: {to}\r\nSubject: Re: Text from Grace Hopper\r\n\
         Message-ID: <{message_id}@mail.example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{body}"
    )
}

async fn post_email(app: &TestApp, key: &str, email: &str) -> reqwest::Response {
    crate::common::http()
        .post(format!("{}/webhooks/email", app.base))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "message/rfc822")
        .body(email.to_string())
        .send()
        .await
        .unwrap()
}

async fn replies_by_email_go_out_as_texts_once_and_only_from_the_forward_address(app: &TestApp) {
    use app::api::messaging::{Conversations, EmailReplies, OpenThread, SaveEmailReplies};
    let mut sink = Sink::start().await;
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada).await;
    assert!(app.call(&ada, server_at(sink.port)).await.is_ok());
    let on = SaveEmailReplies {
        address: "Replies@SMS.example.com".into(),
        new_key: false,
    };
    assert!(app.call(&ada, on).await.is_ok());
    let replies: app::types::EmailRepliesView = app.call(&ada, EmailReplies {}).await.json();
    assert_eq!(replies.address, "replies@sms.example.com");
    assert!(replies.webhook.ends_with("/webhooks/email"));
    let forward = SetForwardEmail {
        number_id: number.id.to_string(),
        email: "ada.mobile@example.com".into(),
    };
    assert!(app.call(&ada, forward).await.is_ok());
    app.call(
        &ada,
        SimulateInbound {
            from: "+12025550199".into(),
            to: number.e164.to_string(),
            body: "Are we still on for Friday?".into(),
            picture: false,
        },
    )
    .await
    .json::<()>();
    let mail = sink.next_message().await;
    let reply_to = mail
        .lines()
        .find_map(|l| l.strip_prefix("Reply-To: "))
        .unwrap_or_else(|| panic!("no Reply-To: {mail}"))
        .to_string();
    assert!(
        reply_to.starts_with("replies+") && reply_to.ends_with("@sms.example.com"),
        "{reply_to}"
    );
    assert!(
        mail.contains("Reply to this email to answer by text"),
        "{mail}"
    );

    let thread = || async {
        let list: Vec<app::types::ConversationSummary> =
            app.call(&ada, Conversations {}).await.json();
        let open = OpenThread {
            conversation_id: list[0].id.clone(),
            mark_read: false,
        };
        let thread: app::types::Thread = app.call(&ada, open).await.json();
        thread
            .messages
            .into_iter()
            .filter(|m| m.outgoing)
            .map(|m| m.body)
            .collect::<Vec<_>>()
    };
    let body = "Yes, see you at 3 =E2=80=94 Ada\r\n\r\nOn Tue, Dec 1, 2026 at 9:00 AM <switchboard@example.com> wrote:\r\n> Are we still on for Friday?\r\n";
    let email = reply_email("ada.mobile@example.com", &reply_to, "r1", body);
    // Without the key, or with another, nothing is read.
    assert_eq!(post_email(app, "", &email).await.status(), 401);
    assert_eq!(post_email(app, "not-the-key", &email).await.status(), 401);
    assert!(thread().await.is_empty());
    // With it: the text above the quote goes out, from the number, once.
    let answer = post_email(app, &replies.key, &email).await;
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    assert_eq!(
        thread().await,
        vec!["Yes, see you at 3 \u{2014} Ada".to_string()]
    );
    assert_eq!(post_email(app, &replies.key, &email).await.status(), 200);
    assert_eq!(thread().await.len(), 1, "a retried email is sent once");

    // Someone else writing to that address, a guessed tag, nothing above the quote: refused.
    let eve = reply_email("eve@example.com", &reply_to, "r2", "Send money");
    assert_eq!(post_email(app, &replies.key, &eve).await.status(), 403);
    let (conversation, tag) = reply_to
        .trim_end_matches("@sms.example.com")
        .rsplit_once('.')
        .unwrap();
    let forged = format!("{conversation}.{}@sms.example.com", "0".repeat(tag.len()));
    let guessed = reply_email("ada.mobile@example.com", &forged, "r3", "Hi");
    assert_eq!(post_email(app, &replies.key, &guessed).await.status(), 404);
    let quoted_only = reply_email(
        "ada.mobile@example.com",
        &reply_to,
        "r4",
        "> Are we still on?",
    );
    assert_eq!(
        post_email(app, &replies.key, &quoted_only).await.status(),
        400
    );
    let junk = post_email(app, &replies.key, "not an email at all")
        .await
        .status();
    assert!(matches!(junk.as_u16(), 400 | 404), "{junk}");
    // An email over the size limit is refused before it is read.
    let huge = reply_email(
        "ada.mobile@example.com",
        &reply_to,
        "r6",
        &"Yes. ".repeat(app::server::email::replies::EMAIL_LIMIT / 5 + 1),
    );
    assert_eq!(post_email(app, &replies.key, &huge).await.status(), 413);
    assert_eq!(thread().await.len(), 1);
    // Just under it (over axum's 2 MB default: the limit is ours), a long quote is fine.
    let quote = "> Are we still on for Friday?\r\n".repeat(3 * 1024 * 1024 / 31);
    let long = reply_email(
        "ada.mobile@example.com",
        &reply_to,
        "r7",
        &format!("Fine.\r\n{quote}"),
    );
    assert_eq!(post_email(app, &replies.key, &long).await.status(), 200);
    assert_eq!(thread().await.len(), 2);
    // Forwarding elsewhere retires the old address; a new key retires the old key.
    let elsewhere = SetForwardEmail {
        number_id: number.id.to_string(),
        email: "ada.desk@example.com".into(),
    };
    assert!(app.call(&ada, elsewhere).await.is_ok());
    let moved = reply_email("ada.desk@example.com", &reply_to, "r5", "Hi again");
    assert_eq!(post_email(app, &replies.key, &moved).await.status(), 404);
    let rotate = SaveEmailReplies {
        address: "replies@sms.example.com".into(),
        new_key: true,
    };
    assert!(app.call(&ada, rotate).await.is_ok());
    assert_eq!(post_email(app, &replies.key, &email).await.status(), 401);
    // Admins only; off means off.
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    assert_eq!(
        app.call(&bea, EmailReplies {}).await.error(),
        AppError::Forbidden
    );
    let bea_on = SaveEmailReplies {
        address: "bea@example.com".into(),
        new_key: true,
    };
    assert_eq!(app.call(&bea, bea_on).await.error(), AppError::Forbidden);
    let off = SaveEmailReplies {
        address: String::new(),
        new_key: false,
    };
    assert!(app.call(&ada, off).await.is_ok());
    assert_eq!(post_email(app, &replies.key, &email).await.status(), 404);
    let plus = SaveEmailReplies {
        address: "replies+x@example.com".into(),
        new_key: false,
    };
    assert!(matches!(
        app.call(&ada, plus).await.error(),
        AppError::Invalid(_)
    ));
    // Replies add 44 characters before the @: a long address would not be one any more.
    let long = SaveEmailReplies {
        address: format!("{}@example.com", "r".repeat(21)),
        new_key: false,
    };
    assert!(matches!(
        app.call(&ada, long).await.error(),
        AppError::Invalid(ref m) if m.contains("at most 20 characters")
    ));
}

on_both_backends!(
    replies_by_email_go_out_as_texts_once_and_only_from_the_forward_address,
    texts_arrive_by_email_through_the_admins_mail_server,
    mail_settings_are_checked_and_admin_only,
);
