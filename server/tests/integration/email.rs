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

on_both_backends!(
    texts_arrive_by_email_through_the_admins_mail_server,
    mail_settings_are_checked_and_admin_only,
);
