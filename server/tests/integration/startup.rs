//! Start-up as `switchboard` runs it (`startup::prepare`), from an empty data directory.

use clap::Parser;
use switchboard::config::Cli;

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn data_files_are_the_service_users_alone_and_the_push_key_is_sealed() {
    let dir = std::env::temp_dir().join(format!("switchboard-startup-{}", uuid::Uuid::new_v4()));
    let data = dir.join("data");
    let cli = Cli::try_parse_from([
        "switchboard".to_string(),
        format!("--data-dir={}", data.display()),
        format!(
            "--database-url=sqlite://{}",
            data.join("switchboard.db").display()
        ),
        format!("--site-root={}", dir.display()),
    ])
    .unwrap();
    let (state, _) = switchboard::startup::prepare(&cli.config).await.unwrap();
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&data.join("secret.key")), 0o600);
    assert_eq!(mode(&data.join("switchboard.db")), 0o600);
    std::fs::create_dir_all(state.settings.media_dir.join("probe")).unwrap();
    assert_eq!(mode(&state.settings.media_dir), 0o700, "media folder");

    let (stored,): (String,) =
        sqlx::query_as("SELECT value FROM instance_settings WHERE key = 'vapid_private_key'")
            .fetch_one(state.db.pool())
            .await
            .unwrap();
    let opened = app::server::carrier::config::open(&state.secret, "vapid.private_key", &stored)
        .expect("the VAPID key is sealed with the instance secret");
    assert!(
        !stored.contains(&opened),
        "the private key is stored in the clear"
    );
    // Read again (a restart, another instance): the same key.
    let again = app::server::push::vapid_keys(&state.db, &state.secret)
        .await
        .unwrap();
    assert_eq!(again.public, state.vapid.public);
    state.db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_push_key_stored_in_the_clear_is_sealed_on_load() {
    let dir = std::env::temp_dir().join(format!("switchboard-vapid-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = app::server::Db::connect(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    // As an older version stored it: the raw key, base64url.
    let legacy = "IQ9Ur0ykXoHS9gzfYX0aBjy9lvdrjx_PFUXmie9YRcY";
    sqlx::query("INSERT INTO instance_settings (key, value) VALUES ('vapid_private_key', $1)")
        .bind(legacy)
        .execute(db.pool())
        .await
        .unwrap();
    let secret = [3u8; 32];
    let keys = app::server::push::vapid_keys(&db, &secret).await.unwrap();
    let (stored,): (String,) =
        sqlx::query_as("SELECT value FROM instance_settings WHERE key = 'vapid_private_key'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_ne!(stored, legacy);
    assert_eq!(
        app::server::carrier::config::open(&secret, "vapid.private_key", &stored).as_deref(),
        Some(legacy)
    );
    assert_eq!(
        app::server::push::vapid_keys(&db, &secret)
            .await
            .unwrap()
            .public,
        keys.public
    );
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
