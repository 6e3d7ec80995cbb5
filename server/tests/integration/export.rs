//! Export my data on both backends: the zip holds every kind of the user's data and
//! nothing of anyone else's, reads back equal to the database, and its link works once,
//! for its own account, within its time.

use crate::common;

use app::api::accounts::settings::CreateExport;
use common::TestApp;
use futures::AsyncReadExt;

/// Every file in the zip, by name.
async fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let reader = async_zip::base::read::mem::ZipFileReader::new(bytes.to_vec())
        .await
        .expect("a whole zip");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..reader.file().entries().len() {
        let name = reader.file().entries()[i]
            .filename()
            .as_str()
            .unwrap()
            .to_string();
        let mut entry = reader.reader_with_entry(i).await.unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).await.unwrap();
        files.insert(name, data);
    }
    files
}

async fn download(app: &TestApp, client: &reqwest::Client, path: &str) -> reqwest::Response {
    client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap()
}

fn lines(file: &[u8]) -> Vec<serde_json::Value> {
    std::str::from_utf8(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn the_export_holds_all_of_mine_and_nothing_of_anyone_elses(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let number = app.buy(&ada, common::numbers_in("212")).await;
    let bea_number = app.buy(&bea, common::numbers_in("415")).await;
    for (to, from, body, picture) in [
        (
            number.e164.as_str(),
            "+12025550100",
            "Ada's first text, \"quoted\", with, commas",
            true,
        ),
        (
            number.e164.as_str(),
            "+12025550100",
            "=1+1 is not a formula",
            false,
        ),
        (
            bea_number.e164.as_str(),
            "+12025550177",
            "BEA-SECRET text",
            false,
        ),
    ] {
        app::server::simulator::inbound(&app.state, from, to, body.to_string(), picture)
            .await
            .unwrap();
    }
    let send = app::api::messaging::SendMessage {
        number_id: number.id.to_string(),
        to: "+12025550100".into(),
        body: "Ada's reply".into(),
        media: vec![],
    };
    assert!(app.call(&ada, send).await.is_ok());
    let contact = crate::contacts::contact("Grace Hopper", &["+12025550100"]);
    assert!(app.call(&ada, contact).await.is_ok());
    assert!(app
        .call(
            &bea,
            crate::contacts::contact("BEA-SECRET contact", &["+12025550177"])
        )
        .await
        .is_ok());
    app.media_stored(1).await;
    // A passkey each (stored as registration leaves them; passkeys.rs tests registering).
    for (email, name) in [
        ("ada@example.com", "Ada's laptop"),
        ("bea@example.com", "BEA-SECRET key"),
    ] {
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, passkey, created_at)
             SELECT $1, id, $1, $2, '{}', 1 FROM users WHERE email = $3",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(name)
        .bind(email)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    }

    let path: String = app.call(&ada, CreateExport {}).await.json();
    assert!(path.starts_with("/export/"), "{path}");
    let res = download(app, &ada, &path).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("switchboard-export-"));
    let bytes = res.bytes().await.unwrap();
    let files = unzip(&bytes).await;

    for name in [
        "README.txt",
        "account.json",
        "contacts.json",
        "contacts.csv",
        "contacts.vcf",
        "messages.jsonl",
        "messages.csv",
        "calls.jsonl",
        "audit.jsonl",
        "sessions.jsonl",
        "passkeys.jsonl",
        "numbers.csv",
    ] {
        assert!(files.contains_key(name), "{name} in {:?}", files.keys());
    }
    let passkeys = lines(&files["passkeys.jsonl"]);
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0]["name"], "Ada's laptop");
    let account: serde_json::Value = serde_json::from_slice(&files["account.json"]).unwrap();
    assert_eq!(account["version"], 1);
    assert_eq!(account["user"]["email"], "ada@example.com");

    // Messages: exactly Ada's, equal to the database.
    let exported = lines(&files["messages.jsonl"]);
    let mut in_db: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, direction, body FROM messages WHERE user_id = (SELECT id FROM users WHERE email = 'ada@example.com') ORDER BY id",
    )
    .fetch_all(app.state.db.pool())
    .await
    .unwrap();
    in_db.sort();
    let mut read_back: Vec<(String, String, String)> = exported
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().into(),
                m["direction"].as_str().unwrap().into(),
                m["body"].as_str().unwrap().into(),
            )
        })
        .collect();
    read_back.sort();
    assert_eq!(read_back, in_db);
    assert_eq!(in_db.len(), 3);
    // The CSV has the same rows, a header first, fields quoted where they must be.
    let csv = String::from_utf8(files["messages.csv"].clone()).unwrap();
    assert!(
        csv.starts_with("id,conversation_id,direction,body,"),
        "{csv}"
    );
    assert!(
        csv.contains("\"Ada's first text, \"\"quoted\"\", with, commas\""),
        "{csv}"
    );
    assert!(csv.contains("'=1+1 is not a formula"), "{csv}");
    // The picture, byte for byte.
    let media = lines(&files["media.jsonl"]);
    assert_eq!(media.len(), 1);
    let id = media[0]["id"].as_str().unwrap();
    let on_disk = std::fs::read(app.state.settings.media_dir.join(id)).unwrap();
    assert_eq!(files[&format!("media/{id}")], on_disk);
    assert!(std::str::from_utf8(&files["contacts.csv"])
        .unwrap()
        .contains("Grace Hopper"));
    assert!(lines(&files["audit.jsonl"])
        .iter()
        .any(|e| e["action"] == "export_requested"));

    // Nothing of Bea's, anywhere in the archive.
    for (name, data) in &files {
        let text = String::from_utf8_lossy(data);
        assert!(!text.contains("BEA-SECRET"), "{name} holds Bea's data");
        assert!(
            !text.contains("bea@example.com") || name == "audit.jsonl",
            "{name}"
        );
        assert!(
            !text.contains(bea_number.e164.as_str()),
            "{name} holds Bea's number"
        );
    }
}

async fn an_export_link_works_once_for_its_own_account_in_time(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    let bea = app.invited_user(&ada, "bea@example.com", "user").await;
    let path: String = app.call(&ada, CreateExport {}).await.json();
    // Not signed in, or another account: nothing, and the link still works for Ada.
    assert_eq!(download(app, &app.browser(), &path).await.status(), 401);
    assert_eq!(download(app, &bea, &path).await.status(), 404);
    assert_eq!(download(app, &ada, &path).await.status(), 200);
    assert_eq!(download(app, &ada, &path).await.status(), 404, "single use");
    assert_eq!(download(app, &ada, "/export/made-up").await.status(), 404);
    let path: String = app.call(&ada, CreateExport {}).await.json();
    sqlx::query("UPDATE export_links SET expires_at = 1")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(download(app, &ada, &path).await.status(), 404, "expired");
    assert!(matches!(
        app.call(&app.browser(), CreateExport {}).await.error(),
        app::error::AppError::Unauthorized
    ));
}

async fn exports_are_limited_per_hour(app: &TestApp) {
    let ada = app.admin("ada@example.com").await;
    // Each export reads all of an account's data: asking again and again is refused.
    for _ in 0..app::server::export::EXPORTS.per_window {
        assert!(app.call(&ada, CreateExport {}).await.is_ok());
    }
    let refused = app.call(&ada, CreateExport {}).await;
    assert!(
        matches!(refused.error(), app::error::AppError::Throttled(_)),
        "{refused:?}"
    );
}

on_both_backends!(
    exports_are_limited_per_hour,
    the_export_holds_all_of_mine_and_nothing_of_anyone_elses,
    an_export_link_works_once_for_its_own_account_in_time,
);
