//! Contacts and opt-outs on both backends: names put to peers (only the owner's), every
//! field checked before anything is written, CSV imports that import all rows or none,
//! exports that read back, the cap on contacts; STOP/START/HELP and what they do to sends.

use crate::common;

use app::api::contacts::{Contacts, DeleteContact, OpenContact, SaveContact};
use app::api::messaging::{Conversations, SendMessage};
use app::api::simulator::{SimulateInbound, SimulateNextFailure};
use app::error::AppError;
use app::types::{Contact, ConversationSummary, ImportOutcome, ImportPreview, OwnedNumber};
use common::{eventually, TestApp};

const GRACE: &str = "+12025550199";

async fn buy(app: &TestApp, client: &reqwest::Client, area_code: &str) -> OwnedNumber {
    let search = app::api::numbers::SearchNumbers {
        sms: true,
        ..common::numbers_in(area_code)
    };
    app.buy(client, search).await
}

pub(crate) fn contact(name: &str, numbers: &[&str]) -> SaveContact {
    SaveContact {
        id: String::new(),
        name: name.into(),
        numbers: numbers.iter().map(|n| n.to_string()).collect(),
        email: String::new(),
        company: String::new(),
        notes: String::new(),
        tags: String::new(),
        field_names: vec![],
        field_values: vec![],
    }
}

async fn list(app: &TestApp, client: &reqwest::Client, query: &str) -> Vec<Contact> {
    app.call(
        client,
        Contacts {
            query: query.into(),
        },
    )
    .await
    .json()
}

async fn conversations(app: &TestApp, client: &reqwest::Client) -> Vec<ConversationSummary> {
    app.call(client, Conversations {}).await.json()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    n
}

async fn text_in(app: &TestApp, admin: &reqwest::Client, from: &str, to: &OwnedNumber, body: &str) {
    app.call(
        admin,
        SimulateInbound {
            from: from.into(),
            to: to.e164.to_string(),
            body: body.into(),
            picture: false,
        },
    )
    .await
    .json::<()>();
}

fn send(number: &OwnedNumber, to: &str, body: &str) -> SendMessage {
    SendMessage {
        number_id: number.id.to_string(),
        to: to.into(),
        body: body.into(),
        media: vec![],
    }
}

fn invalid(reply: &common::Reply, words: &str) {
    assert!(
        matches!(reply.error(), AppError::Invalid(ref m) if m.contains(words)),
        "expected \u{201c}{words}\u{201d}: {reply:?}"
    );
}

async fn names_replace_numbers_for_their_owner_only(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let bea_number = buy(app, &bea, "646").await;
    text_in(app, &ada, GRACE, &number, "Hi Ada").await;
    text_in(app, &ada, GRACE, &bea_number, "Hi Bea").await;
    assert_eq!(conversations(app, &ada).await[0].peer_name, "");

    let mut grace = contact("Grace Hopper", &["(202) 555-0199", "+1 646 555 0142"]);
    grace.tags = "Navy, vip; navy".into();
    grace.email = "grace@example.com".into();
    grace.field_names = vec!["Rank".into()];
    grace.field_values = vec!["Rear admiral".into()];
    let id: String = app.call(&ada, grace).await.json();
    assert_eq!(conversations(app, &ada).await[0].peer_name, "Grace Hopper");
    // Bea's contacts are her own: the same peer has no name for her.
    assert_eq!(conversations(app, &bea).await[0].peer_name, "");
    assert!(list(app, &bea, "").await.is_empty());

    let found: Contact = app.call(&ada, OpenContact { id: id.clone() }).await.json();
    assert_eq!(found.numbers, vec![GRACE, "+16465550142"]);
    assert_eq!(found.tags, vec!["navy", "vip"]);
    assert_eq!(
        (
            found.fields[0].name.as_str(),
            found.fields[0].value.as_str()
        ),
        ("Rank", "Rear admiral")
    );
    for query in [
        "grace",
        "HOPPER",
        "vip",
        "555-0199",
        "5550142",
        "example.com",
    ] {
        assert_eq!(list(app, &ada, query).await.len(), 1, "{query}");
    }
    for query in ["bea", "0000", "%", "_"] {
        assert!(list(app, &ada, query).await.is_empty(), "{query}");
    }

    // Someone else's contact does not exist for Bea, whatever she does with its id.
    let mut taken = contact("Mine now", &["2025550100"]);
    taken.id = id.clone();
    for reply in [
        app.call(&bea, OpenContact { id: id.clone() }).await,
        app.call(&bea, taken).await,
        app.call(&bea, DeleteContact { id: id.clone() }).await,
    ] {
        assert!(matches!(reply.error(), AppError::NotFound(_)), "{reply:?}");
    }
    assert_eq!(list(app, &ada, "").await[0].name, "Grace Hopper");

    // Renamed, then deleted: the conversation follows.
    let mut renamed = contact("Amazing Grace", &[GRACE]);
    renamed.id = id.clone();
    assert!(app.call(&ada, renamed).await.is_ok());
    assert_eq!(conversations(app, &ada).await[0].peer_name, "Amazing Grace");
    assert!(app.call(&ada, DeleteContact { id }).await.is_ok());
    assert_eq!(conversations(app, &ada).await[0].peer_name, "");
    assert_eq!(count(app, "contact_numbers").await, 0);
    assert_eq!(count(app, "contact_tags").await, 0);
}

async fn bad_contacts_are_refused_and_write_nothing(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let _ = buy(app, &ada, "212").await;
    assert!(app.call(&ada, contact("Grace", &[GRACE])).await.is_ok());
    let long = "x".repeat(101);
    let mut bad_email = contact("Alan", &[]);
    bad_email.email = "alan at example".into();
    let mut twice = contact("Alan", &[]);
    twice.field_names = vec!["Rank".into(), "rank".into()];
    twice.field_values = vec!["a".into(), "b".into()];
    let mut unpaired = contact("Alan", &[]);
    unpaired.field_names = vec!["Rank".into()];
    let eleven: Vec<String> = (10..21).map(|i| format!("20255501{i}")).collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    for (attempt, words) in [
        (contact("  ", &[]), "name"),
        (contact(&long, &[]), "at most 100"),
        (contact("Alan", &["not a number"]), "not a phone number"),
        (
            contact("Alan", &["(202) 555-0199"]),
            "already Grace\u{2019}s number",
        ),
        (contact("Alan", &eleven), "at most 10 numbers"),
        (bad_email, "not an email"),
        (twice, "twice"),
        (unpaired, "custom field"),
    ] {
        invalid(&app.call(&ada, attempt).await, words);
    }
    assert_eq!(count(app, "contacts").await, 1);
    assert_eq!(count(app, "contact_numbers").await, 1);
    // Signed out, nothing at all.
    let stranger = app.browser();
    assert_eq!(
        app.call(&stranger, contact("Eve", &[])).await.error(),
        AppError::Unauthorized
    );
    // A signed-out download link leads to the sign-in page.
    let download = app.get(&stranger, "/contacts/export.csv").await;
    assert_eq!(download.location(), Some("/signin"), "{download:?}");
}

async fn the_number_of_contacts_is_capped(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let (user_id,): (String,) = sqlx::query_as("SELECT id FROM users")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    // Someone who scripted their way to the cap: one more is refused, by form or by file.
    let cap = app::server::contacts::MAX_CONTACTS;
    sqlx::query(&format!(
        "INSERT INTO contacts (id, user_id, name, created_at, updated_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {cap})
         SELECT 'c' || CAST(i AS TEXT), $1, 'Person ' || CAST(i AS TEXT), 0, 0 FROM n"
    ))
    .bind(&user_id)
    .execute(app.state.db.pool())
    .await
    .unwrap();
    invalid(&app.call(&ada, contact("One more", &[])).await, "the most");
    let file = "Name\nOne more\n";
    let refused = import(app, &ada, file, "name").await;
    invalid(&refused, "beyond the");
    assert_eq!(count(app, "contacts").await, cap);
}

async fn preview(app: &TestApp, client: &reqwest::Client, file: &str) -> common::Reply {
    app.post_bytes(client, "/contacts/import/preview", file.as_bytes())
        .await
}

async fn import(
    app: &TestApp,
    client: &reqwest::Client,
    file: &str,
    columns: &str,
) -> common::Reply {
    app.post_bytes(
        client,
        &format!("/contacts/import?columns={columns}"),
        file.as_bytes(),
    )
    .await
}

async fn csv_imports_import_every_row_or_none_and_exports_read_back(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    text_in(app, &ada, GRACE, &number, "Hi").await;
    // Excel's "CSV UTF-8": a byte-order mark, CRLF, quoted fields with commas and quotes.
    let file = "\u{feff}First Name,Last Name,Mobile Phone,E-mail Address,Company,Tags,Birthday\r\n\
                Grace,Hopper,(202) 555-0199,grace@example.com,\"US Navy, Reserve\",\"vip, navy\",Dec 9\r\n\
                Alan,Turing,+44 20 7946 0018,,\"Bletchley \"\"Park\"\"\",,\r\n\
                \r\n\
                Ada,Lovelace,,,,,\r\n";
    let seen: ImportPreview = preview(app, &ada, file).await.json();
    assert_eq!(seen.columns[0], "First Name");
    assert_eq!(
        seen.guessed,
        vec![
            "first_name",
            "last_name",
            "number",
            "email",
            "company",
            "tags",
            "field"
        ]
    );
    assert_eq!(seen.sample.len(), 3);
    assert_eq!(seen.sample[1][4], "Bletchley \"Park\"");
    let columns = seen.guessed.join(",");

    // A file with bad rows imports nothing and names each bad line.
    let bad = format!("{file}Bad,Number,12,,,,\r\nNo,Email,2125550100,nope,,,\r\nTwice,Grace,202-555-0199,,,,\r\n");
    let outcome: ImportOutcome = import(app, &ada, &bad, &columns).await.json();
    let lines: Vec<u64> = outcome.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![6, 7, 8], "{outcome:?}");
    assert!(
        outcome.errors[0].message.contains("\u{201c}12\u{201d}"),
        "{outcome:?}"
    );
    assert!(
        outcome.errors[2].message.contains("also on line 2"),
        "{outcome:?}"
    );
    assert_eq!(outcome.created, 0);
    assert_eq!(count(app, "contacts").await, 0);

    // Bad column choices are refused before any row is read.
    invalid(
        &import(
            app,
            &ada,
            file,
            "number,number,number,email,company,tags,field",
        )
        .await,
        "names",
    );
    invalid(
        &import(app, &ada, file, "name,name,number,email,company,tags,field").await,
        "Only one",
    );
    invalid(&import(app, &ada, file, "name,number").await, "each column");
    invalid(
        &import(
            app,
            &ada,
            file,
            "first_name,last_name,number,email,company,tags,password",
        )
        .await,
        "not a column kind",
    );

    let outcome: ImportOutcome = import(app, &ada, file, &columns).await.json();
    assert_eq!(
        (outcome.created, outcome.updated, outcome.errors.len()),
        (3, 0, 0)
    );
    assert_eq!(conversations(app, &ada).await[0].peer_name, "Grace Hopper");
    let grace = list(app, &ada, "grace").await.remove(0);
    assert_eq!(grace.company, "US Navy, Reserve");
    assert_eq!(grace.tags, vec!["navy", "vip"]);
    assert_eq!(grace.fields[0].name, "Birthday");

    // Importing again updates the contacts matched by number, and adds the rest.
    let again =
        "Name,Phone,Notes\nGrace M. Hopper,2025550199,Admiral\nKatherine Johnson,2125550142,\n";
    let outcome: ImportOutcome = import(app, &ada, again, "name,number,notes").await.json();
    assert_eq!((outcome.created, outcome.updated), (1, 1));
    let grace = list(app, &ada, "grace").await.remove(0);
    assert_eq!(
        (
            grace.name.as_str(),
            grace.notes.as_str(),
            grace.email.as_str()
        ),
        ("Grace M. Hopper", "Admiral", "grace@example.com")
    );
    assert_eq!(count(app, "contacts").await, 4);

    // The CSV export imports into another account as the same contacts.
    let exported = app.get(&ada, "/contacts/export.csv").await;
    assert!(exported.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("contacts.csv"));
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let seen: ImportPreview = preview(app, &bea, &exported.body).await.json();
    let outcome: ImportOutcome = import(app, &bea, &exported.body, &seen.guessed.join(","))
        .await
        .json();
    assert_eq!(
        (outcome.created, outcome.errors.len()),
        (4, 0),
        "{}",
        exported.body
    );
    let strip = |mut c: Vec<Contact>| {
        for one in &mut c {
            one.id.clear();
            one.numbers_display.clear(); // Bea has no number: her region is the default.
        }
        c
    };
    assert_eq!(
        strip(list(app, &bea, "").await),
        strip(list(app, &ada, "").await)
    );

    let cards = app.get(&ada, "/contacts/export.vcf").await;
    assert_eq!(cards.body.matches("BEGIN:VCARD\r\n").count(), 4);
    assert!(
        cards.body.contains("FN:Grace M. Hopper\r\n"),
        "{}",
        cards.body
    );
    assert!(cards.body.contains("TEL;TYPE=CELL:+12025550199\r\n"));
    assert!(cards.body.contains("ORG:US Navy\\, Reserve\r\n"));
    assert!(cards.body.contains("CATEGORIES:navy,vip\r\n"));

    // Only signed-in people send files; a file over the limit is refused unread.
    let stranger = app.browser();
    assert_eq!(preview(app, &stranger, file).await.status, 401);
    assert_eq!(import(app, &stranger, file, &columns).await.status, 401);
    let huge = "Name\n".to_string() + &"x\n".repeat(app::server::contacts::IMPORT_LIMIT / 2 + 1);
    assert_eq!(import(app, &ada, &huge, "name").await.status, 400);
    invalid(&preview(app, &ada, "").await, "empty");
}

async fn stop_start_and_help_work_per_number(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let other = buy(app, &ada, "646").await;
    assert!(app
        .call(&ada, send(&number, GRACE, "Sale today!"))
        .await
        .is_ok());

    text_in(app, &ada, GRACE, &number, " Stop. ").await;
    let before = count(app, "messages").await;
    invalid(
        &app.call(&ada, send(&number, GRACE, "One more thing")).await,
        "opted out",
    );
    assert_eq!(
        count(app, "messages").await,
        before,
        "nothing written for a refused send"
    );
    // Another number of Ada's may still text them: the opt-out is per number.
    assert!(app
        .call(&ada, send(&other, GRACE, "From the other line"))
        .await
        .is_ok());

    text_in(app, &ada, GRACE, &number, "start").await;
    assert!(app
        .call(&ada, send(&number, GRACE, "Welcome back"))
        .await
        .is_ok());

    // HELP gets the number's help text once, however often it is asked (no reply loop).
    text_in(app, &ada, GRACE, &number, "HELP").await;
    text_in(app, &ada, GRACE, &number, "help").await;
    let replies = |body: String| async move {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND body LIKE $1",
        )
        .bind(body)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
        n
    };
    assert_eq!(replies("%reply STOP to stop%".into()).await, 1);
    // A number's own help text answers in its place; only its owner sets it, within limits.
    let help = |text: &str| app::api::numbers::SetHelpText {
        number_id: other.id.to_string(),
        help_text: text.into(),
    };
    assert!(app
        .call(&ada, help("Bakery line: call 212 555 0100. STOP to stop."))
        .await
        .is_ok());
    invalid(&app.call(&ada, help(&"x".repeat(321))).await, "at most 320");
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    assert!(matches!(
        app.call(&bea, help("Mine")).await.error(),
        AppError::NotFound(_)
    ));
    text_in(app, &ada, GRACE, &other, "Help").await;
    assert_eq!(replies("Bakery line:%".into()).await, 1);
    let settings: Vec<app::types::NumberTexting> = app
        .call(&ada, app::api::numbers::TextingSettings {})
        .await
        .json();
    assert_eq!(settings.len(), 2);
    assert!(settings[1].help_text.starts_with("Bakery line:"));
    assert!(settings[0].default_help_text.contains("reply STOP to stop"));
    let theirs: Vec<app::types::NumberTexting> = app
        .call(&bea, app::api::numbers::TextingSettings {})
        .await
        .json();
    assert!(theirs.is_empty(), "Bea sees only her own numbers");
    // "Please stop by" is a text, not a keyword.
    text_in(app, &ada, GRACE, &number, "Please stop by later").await;
    assert!(app.call(&ada, send(&number, GRACE, "Sure")).await.is_ok());
}

async fn carrier_unsubscribed_errors_mark_the_opt_out(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    assert!(app
        .call(
            &ada,
            SimulateNextFailure {
                code: "21610".into()
            }
        )
        .await
        .is_ok());
    assert!(app.call(&ada, send(&number, GRACE, "Hello?")).await.is_ok());
    eventually(5, "the carrier's unsubscribed report", || async {
        (count(app, "opt_outs").await == 1).then_some(())
    })
    .await;
    invalid(
        &app.call(&ada, send(&number, GRACE, "Hello??")).await,
        "opted out",
    );
}

fn rules(list: &[(&str, &str, &str)]) -> app::api::numbers::SetReplyRules {
    app::api::numbers::SetReplyRules {
        number_id: String::new(),
        matching: list.iter().map(|r| r.0.to_string()).collect(),
        keywords: list.iter().map(|r| r.1.to_string()).collect(),
        replies: list.iter().map(|r| r.2.to_string()).collect(),
    }
}

fn away(number: &OwnedNumber, mode: &str, text: &str) -> app::api::numbers::SetAway {
    app::api::numbers::SetAway {
        number_id: number.id.to_string(),
        away_mode: mode.into(),
        away_text: text.into(),
        business_days: vec![0, 1, 2, 3, 4],
        opens: "09:00".into(),
        closes: "17:00".into(),
        time_zone: "America/New_York".into(),
    }
}

async fn automatic_texts(app: &TestApp, body: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND automatic = 1 AND body = $1",
    )
    .bind(body)
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    n
}

async fn keyword_rules_and_the_away_message_answer_once_without_loops(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let mut set = rules(&[
        ("exact", "hours", "Open 9 to 5, Monday to Friday."),
        ("contains", "price", "Prices: example.com/prices"),
    ]);
    set.number_id = number.id.to_string();
    assert!(app.call(&ada, set).await.is_ok());
    assert!(app
        .call(&ada, away(&number, "always", "Away until Monday."))
        .await
        .is_ok());

    // "What would this text trigger?"
    let tried = |text: &str| app::api::numbers::TryAutoReply {
        number_id: number.id.to_string(),
        text: text.into(),
    };
    let said: String = app.call(&ada, tried("Hours!")).await.json();
    assert_eq!(said, "Rule 1 answers: Open 9 to 5, Monday to Friday.");
    let said: String = app.call(&ada, tried("good morning")).await.json();
    assert_eq!(said, "The away message answers: Away until Monday.");
    let said: String = app.call(&ada, tried("stop")).await.json();
    assert!(said.starts_with("STOP"), "{said}");

    text_in(app, &ada, GRACE, &number, "Hours?").await;
    assert_eq!(
        automatic_texts(app, "Open 9 to 5, Monday to Friday.").await,
        1
    );
    text_in(app, &ada, GRACE, &number, "good morning").await;
    text_in(app, &ada, GRACE, &number, "anyone there?").await;
    assert_eq!(
        automatic_texts(app, "Away until Monday.").await,
        1,
        "once per peer"
    );
    // Another auto-replier texting "price" back and forth gets five answers an hour, no more.
    for _ in 0..8 {
        text_in(app, &ada, GRACE, &number, "price?").await;
    }
    let (automatic,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE automatic = 1")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(
        automatic,
        app::server::messaging::auto_reply::MAX_AUTOMATIC_PER_HOUR
    );
    // An opted-out peer is never answered.
    text_in(app, &ada, "+12025550142", &number, "STOP").await;
    text_in(app, &ada, "+12025550142", &number, "hours").await;
    let (to_them,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE c.peer = '+12025550142' AND m.direction = 'out'",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(to_them, 0);

    // The settings read back for the page.
    let settings: Vec<app::types::NumberTexting> = app
        .call(&ada, app::api::numbers::TextingSettings {})
        .await
        .json();
    assert_eq!(settings[0].rules.len(), 2);
    assert_eq!(settings[0].rules[1].keyword, "price");
    assert_eq!(
        (
            settings[0].away_mode.as_str(),
            settings[0].opens.as_str(),
            settings[0].time_zone.as_str()
        ),
        ("always", "09:00", "America/New_York")
    );
}

/// Texts that arrive together are stored in one transaction; the guards must count the
/// answers given earlier in that same group (they are read once per group).
async fn guards_hold_within_one_group_of_texts(app: &TestApp) {
    use app::server::carrier::CarrierEvent;
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let mut set = rules(&[("contains", "price", "Prices: example.com/prices")]);
    set.number_id = number.id.to_string();
    assert!(app.call(&ada, set).await.is_ok());
    assert!(app
        .call(&ada, away(&number, "always", "Away until Monday."))
        .await
        .is_ok());
    let texts = [
        (GRACE, "good morning"),
        (GRACE, "anyone there?"),
        (GRACE, "STOP"),
        (GRACE, "price?"),
    ]
    .into_iter()
    .chain((0..8).map(|_| ("+12025550142", "price?")));
    let events: Vec<CarrierEvent> = texts
        .enumerate()
        .map(|(i, (from, body))| CarrierEvent::Inbound {
            event_id: format!("group-{i}"),
            carrier_message_id: format!("group-msg-{i}"),
            from: from.into(),
            to: number.e164.to_string(),
            body: body.into(),
            media: vec![],
        })
        .collect();
    let group: Vec<(&str, &CarrierEvent)> = events.iter().map(|e| ("sandbox", e)).collect();
    app::server::messaging::ingest_together(&app.state, &group)
        .await
        .unwrap();
    assert_eq!(
        automatic_texts(app, "Away until Monday.").await,
        1,
        "once per peer"
    );
    assert_eq!(
        automatic_texts(app, "Prices: example.com/prices").await,
        app::server::messaging::auto_reply::MAX_AUTOMATIC_PER_HOUR,
        "the loop guard counts answers given in the same group; none after STOP"
    );
}

async fn reply_settings_are_checked_and_only_the_owners(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    let mut set = rules(&[("exact", "hours", "9 to 5")]);
    set.number_id = number.id.to_string();
    assert!(app.call(&ada, set).await.is_ok());
    for (bad, words) in [
        (rules(&[("regex", "a", "b")]), "choose"),
        (rules(&[("exact", "STOP", "bye")]), "carrier rules"),
        (rules(&[("exact", "a", "")]), "keyword and a reply"),
    ] {
        let mut bad = bad;
        bad.number_id = number.id.to_string();
        invalid(&app.call(&ada, bad).await, words);
    }
    let mut uneven = rules(&[("exact", "a", "b")]);
    uneven.number_id = number.id.to_string();
    uneven.replies.clear();
    invalid(&app.call(&ada, uneven).await, "keyword and a reply");
    let count_rules = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM reply_rules")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
        n
    };
    assert_eq!(
        count_rules().await,
        1,
        "a refused change leaves the rules as they were"
    );
    let mut bad_zone = away(&number, "outside_hours", "Closed");
    bad_zone.time_zone = "Mars/Olympus".into();
    invalid(&app.call(&ada, bad_zone).await, "not a time zone");
    let mut bad_time = away(&number, "outside_hours", "Closed");
    bad_time.opens = "25:00".into();
    invalid(&app.call(&ada, bad_time).await, "not a time");
    invalid(
        &app.call(&ada, away(&number, "sometimes", "Closed")).await,
        "Choose when",
    );
    invalid(
        &app.call(&ada, away(&number, "always", "")).await,
        "Write the away message",
    );

    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let mut theirs = rules(&[("exact", "x", "y")]);
    theirs.number_id = number.id.to_string();
    for reply in [
        app.call(&bea, theirs).await,
        app.call(&bea, away(&number, "always", "Mine")).await,
        app.call(
            &bea,
            app::api::numbers::TryAutoReply {
                number_id: number.id.to_string(),
                text: "hours".into(),
            },
        )
        .await,
    ] {
        assert!(matches!(reply.error(), AppError::NotFound(_)), "{reply:?}");
    }
    assert_eq!(count_rules().await, 1);
}

fn canned(id: &str, shortcut: &str, body: &str) -> app::api::messaging::SaveCannedReply {
    app::api::messaging::SaveCannedReply {
        id: id.into(),
        shortcut: shortcut.into(),
        body: body.into(),
    }
}

async fn canned_replies_are_checked_capped_and_private(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let id: String = app
        .call(&ada, canned("", "/Hours", "Open 9 to 5."))
        .await
        .json();
    let list: Vec<app::types::CannedReply> = app
        .call(&ada, app::api::messaging::CannedReplies {})
        .await
        .json();
    assert_eq!(
        (list[0].shortcut.as_str(), list[0].body.as_str()),
        ("hours", "Open 9 to 5.")
    );
    invalid(
        &app.call(&ada, canned("", "hours", "Again")).await,
        "already",
    );
    invalid(
        &app.call(&ada, canned("", "two words", "x")).await,
        "shortcut",
    );
    invalid(
        &app.call(&ada, canned("", "ok", " ")).await,
        "Write the reply",
    );
    assert!(app
        .call(&ada, canned(&id, "hours", "Open 9 to 6."))
        .await
        .is_ok());

    // Someone else's is not there for them.
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let theirs: Vec<app::types::CannedReply> = app
        .call(&bea, app::api::messaging::CannedReplies {})
        .await
        .json();
    assert!(theirs.is_empty());
    for reply in [
        app.call(&bea, canned(&id, "mine", "Mine now")).await,
        app.call(
            &bea,
            app::api::messaging::DeleteCannedReply { id: id.clone() },
        )
        .await,
    ] {
        assert!(matches!(reply.error(), AppError::NotFound(_)), "{reply:?}");
    }

    // At the cap, one more is refused.
    let (user_id,): (String,) =
        sqlx::query_as("SELECT id FROM users WHERE email = 'ada@example.com'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    let cap = app::server::messaging::canned::MAX_CANNED;
    sqlx::query(&format!(
        "INSERT INTO canned_replies (id, user_id, shortcut, body, created_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {})
         SELECT 'r' || CAST(i AS TEXT), $1, 's' || CAST(i AS TEXT), 'x', 0 FROM n",
        cap - 1
    ))
    .bind(&user_id)
    .execute(app.state.db.pool())
    .await
    .unwrap();
    invalid(&app.call(&ada, canned("", "more", "x")).await, "the most");
    assert!(app
        .call(&ada, app::api::messaging::DeleteCannedReply { id })
        .await
        .is_ok());
    assert!(app.call(&ada, canned("", "more", "x")).await.is_ok());
}

async fn campaigns(app: &TestApp, client: &reqwest::Client) -> Vec<app::types::CampaignReport> {
    app.call(client, app::api::contacts::Campaigns {})
        .await
        .json()
}

/// Ada's 50 contacts: (202) 555-01nn … and (212) 555-01nn …, half tagged "vip".
async fn fifty_contacts(app: &TestApp, ada: &reqwest::Client) {
    let mut file = String::from("First name,Last name,Phone,Tags\n");
    for i in 0..50 {
        let area = if i < 25 { "202" } else { "646" };
        let tag = if i % 2 == 0 { "vip" } else { "" };
        file.push_str(&format!(
            "Person{i},Lastname,({area}) 555-01{:02},{tag}\n",
            i % 25 + 50
        ));
    }
    let outcome: ImportOutcome = import(app, ada, &file, "first_name,last_name,number,tags")
        .await
        .json();
    assert_eq!(
        (outcome.created, outcome.errors.len()),
        (50, 0),
        "{outcome:?}"
    );
}

async fn a_campaign_reaches_every_contact_but_the_opted_out(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    fifty_contacts(app, &ada).await;
    text_in(app, &ada, "+12025550150", &number, "STOP").await; // Person0
    let body = "Hi {first_name|there}, our sale starts Friday. Reply STOP to opt out.";
    let preview: app::types::CampaignPreview = app
        .call(
            &ada,
            app::api::contacts::PreviewCampaign {
                number_id: number.id.to_string(),
                body: body.into(),
                tag: String::new(),
            },
        )
        .await
        .json();
    assert_eq!((preview.recipients, preview.opted_out), (49, 1));
    assert_eq!(
        preview.samples[0].text,
        "Hi Person1, our sale starts Friday. Reply STOP to opt out."
    );
    assert_eq!((preview.most_segments, preview.total_segments), (1, 49));
    assert!(
        preview.cost.contains("sandbox texts are free"),
        "{preview:?}"
    );
    let vip: app::types::CampaignPreview = app
        .call(
            &ada,
            app::api::contacts::PreviewCampaign {
                number_id: number.id.to_string(),
                body: body.into(),
                tag: "VIP".into(),
            },
        )
        .await
        .json();
    assert_eq!((vip.recipients, vip.opted_out), (24, 1));
    invalid(
        &app.call(
            &ada,
            app::api::contacts::PreviewCampaign {
                number_id: number.id.to_string(),
                body: "Hi {first_name".into(),
                tag: String::new(),
            },
        )
        .await,
        "never closed",
    );

    let start = |name: &str| app::api::contacts::StartCampaign {
        number_id: number.id.to_string(),
        name: name.into(),
        body: body.into(),
        tag: String::new(),
    };
    let id: String = app.call(&ada, start("Friday sale")).await.json();
    // Meanwhile someone else's text goes out at once: the campaign has its own pace.
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let bea_number = buy(app, &bea, "646").await;
    let sent_at = std::time::Instant::now();
    let conversation: String = app
        .call(&bea, send(&bea_number, GRACE, "Unrelated"))
        .await
        .json();
    eventually(5, "Bea's text sent", || async {
        let t: app::types::Thread = app
            .call(
                &bea,
                app::api::messaging::OpenThread {
                    conversation_id: conversation.clone(),
                    mark_read: false,
                },
            )
            .await
            .json();
        (t.messages[0].status != app::types::MessageStatus::Queued).then_some(())
    })
    .await;
    assert!(
        sent_at.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        sent_at.elapsed()
    );

    let report = eventually(30, "every campaign text delivered", || async {
        let report = campaigns(app, &ada).await.remove(0);
        (report.state == "done" && report.delivered == 49).then_some(report)
    })
    .await;
    assert_eq!(
        (
            report.id.as_str(),
            report.recipients,
            report.skipped,
            report.failed
        ),
        (id.as_str(), 50, 1, 0)
    );
    text_in(app, &ada, "+12025550151", &number, "Count me in").await;
    text_in(app, &ada, "+12025550152", &number, "STOP").await;
    let report = campaigns(app, &ada).await.remove(0);
    assert_eq!((report.replies, report.opt_outs), (2, 1));
    let csv = app.get(&ada, &format!("/campaigns/{id}/report.csv")).await;
    assert!(
        csv.body.starts_with("Name,Number,Outcome,Reason\r\n"),
        "{}",
        csv.body
    );
    assert!(
        csv.body
            .contains("\"Person0 Lastname\",+12025550150,skipped,\"opted out\""),
        "{}",
        csv.body
    );
    assert_eq!(csv.body.matches(",delivered,").count(), 49);
    // Not Bea's to see or steer.
    assert!(campaigns(app, &bea).await.is_empty());
    assert!(matches!(
        app.get(&bea, &format!("/campaigns/{id}/report.csv"))
            .await
            .status
            .as_u16(),
        404
    ));
}

async fn campaign_costs_come_from_the_admins_segment_price(app: &TestApp) {
    use app::api::messaging::{SegmentPrice, SetSegmentPrice};
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    fifty_contacts(app, &ada).await;
    // As if bought from a carrier: its texts cost what the carrier bills.
    sqlx::query("UPDATE phone_numbers SET carrier = 'telnyx' WHERE id = $1")
        .bind(number.id.to_string())
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let preview = |body: &str| app::api::contacts::PreviewCampaign {
        number_id: number.id.to_string(),
        body: body.into(),
        tag: String::new(),
    };
    let unknown: app::types::CampaignPreview =
        app.call(&ada, preview("Hi {first_name}")).await.json();
    assert_eq!(unknown.cost, "", "no price entered: no estimate");
    let set = |price: &str| SetSegmentPrice {
        price: price.into(),
    };
    for (bad, words) in [
        ("cheap", "like 0.0079 USD"),
        ("5 USD", "at most 1"),
        ("0.01 dollars", "like 0.0079 USD"),
    ] {
        invalid(&app.call(&ada, set(bad)).await, words);
    }
    assert!(app.call(&ada, set("0.0079 usd")).await.is_ok());
    let saved: String = app.call(&ada, SegmentPrice {}).await.json();
    assert_eq!(saved, "0.0079 USD");
    // 50 texts of two segments each (161 characters): 100 × 0.0079 = 0.79.
    let long = format!("{{first_name}} {}", "x".repeat(160));
    let priced: app::types::CampaignPreview = app.call(&ada, preview(&long)).await.json();
    assert_eq!((priced.recipients, priced.total_segments), (50, 100));
    assert_eq!(priced.cost, "about 0.79 USD (100 segments at 0.0079 USD)");
    // Only admins see or set the price; everyone sees the estimate.
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    assert_eq!(
        app.call(&bea, SegmentPrice {}).await.error(),
        AppError::Forbidden
    );
    assert_eq!(
        app.call(&bea, set("0.0001")).await.error(),
        AppError::Forbidden
    );
    assert!(app.call(&ada, set("")).await.is_ok());
    let forgotten: String = app.call(&ada, SegmentPrice {}).await.json();
    assert_eq!(forgotten, "");
}

async fn campaigns_pause_resume_cancel_and_are_capped(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let number = buy(app, &ada, "212").await;
    fifty_contacts(app, &ada).await;
    let start = |name: &str| app::api::contacts::StartCampaign {
        number_id: number.id.to_string(),
        name: name.into(),
        body: "Hello {name}".into(),
        tag: String::new(),
    };
    let control = |id: &str, action: &str| app::api::contacts::CampaignControl {
        campaign_id: id.into(),
        action: action.into(),
    };
    let id: String = app.call(&ada, start("First")).await.json();
    assert!(app.call(&ada, control(&id, "pause")).await.is_ok());
    // Texts already queued still go; no new ones are queued while it is paused.
    let unqueued = || async {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM campaign_recipients WHERE message_id IS NULL AND skipped IS NULL",
        )
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
        n
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let before = unqueued().await;
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    assert_eq!(campaigns(app, &ada).await[0].state, "paused");
    assert_eq!(
        unqueued().await,
        before,
        "nothing more is queued while paused"
    );
    assert!(before > 0);
    invalid(
        &app.call(&ada, control(&id, "pause")).await,
        "can't do that now",
    );
    assert!(app.call(&ada, control(&id, "resume")).await.is_ok());
    assert!(app.call(&ada, control(&id, "cancel")).await.is_ok());
    assert_eq!(campaigns(app, &ada).await[0].state, "cancelled");

    // At most three under way at once.
    for name in ["Two", "Three", "Four"] {
        let id: String = app.call(&ada, start(name)).await.json();
        assert!(app.call(&ada, control(&id, "pause")).await.is_ok());
    }
    invalid(&app.call(&ada, start("Five")).await, "under way");

    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    assert!(matches!(
        app.call(&bea, control(&id, "resume")).await.error(),
        AppError::NotFound(_)
    ));
    let mut theirs = start("Mine");
    theirs.number_id = number.id.to_string();
    assert!(matches!(
        app.call(&bea, theirs).await.error(),
        AppError::NotFound(_)
    ));
}

on_both_backends!(
    names_replace_numbers_for_their_owner_only,
    bad_contacts_are_refused_and_write_nothing,
    the_number_of_contacts_is_capped,
    csv_imports_import_every_row_or_none_and_exports_read_back,
    stop_start_and_help_work_per_number,
    carrier_unsubscribed_errors_mark_the_opt_out,
    keyword_rules_and_the_away_message_answer_once_without_loops,
    guards_hold_within_one_group_of_texts,
    reply_settings_are_checked_and_only_the_owners,
    canned_replies_are_checked_capped_and_private,
    a_campaign_reaches_every_contact_but_the_opted_out,
    campaign_costs_come_from_the_admins_segment_price,
    campaigns_pause_resume_cancel_and_are_capped,
);

/// A text queued before the peer's STOP arrived is not handed to the carrier after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_queued_before_stop_is_not_sent_after_it() {
    let app = TestApp::start_paused(common::Backend::Sqlite).await;
    let ada = app.admin("ada@example.com").await;
    let number = buy(&app, &ada, "212").await;
    let conversation_id: String = app.call(&ada, send(&number, GRACE, "Queued")).await.json();
    text_in(&app, &ada, GRACE, &number, "STOP").await;
    app.resume_work();
    let thread = eventually(5, "the queued text failed", || async {
        let t: app::types::Thread = app
            .call(
                &ada,
                app::api::messaging::OpenThread {
                    conversation_id: conversation_id.clone(),
                    mark_read: false,
                },
            )
            .await
            .json();
        (t.messages[0].status == app::types::MessageStatus::Failed).then_some(t)
    })
    .await;
    assert!(thread.messages[0]
        .failure
        .as_deref()
        .unwrap()
        .contains("opted out"));
    app.finish().await;
}
