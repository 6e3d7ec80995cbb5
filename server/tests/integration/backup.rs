//! `switchboard backup` / `restore` for the SQLite default, and the start-up refusals that
//! protect a data directory: a backup taken while texts keep arriving restores to a
//! working instance holding every text committed before it began.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use clap::Parser;
use switchboard::backup;
use switchboard::config::{Cli, Config};

fn config(dir: &Path) -> Config {
    Cli::try_parse_from([
        "switchboard".to_string(),
        format!("--data-dir={}", dir.join("data").display()),
        format!("--site-root={}", dir.display()),
    ])
    .unwrap()
    .config
}

async fn count(db: &app::server::Db, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(db.pool()).await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_texts_arrive_restores_every_committed_text() {
    let dir = std::env::temp_dir().join(format!("switchboard-backup-{}", uuid::Uuid::new_v4()));
    let live = config(&dir.join("live"));
    let (state, reports) = switchboard::startup::prepare(&live).await.unwrap();
    state.start_background_work(reports);
    let ada = app::server::accounts::setup::create_admin(
        &state.db,
        "ada@example.com",
        "Ada",
        "correct horse battery",
    )
    .await
    .unwrap();
    let by = app::server::audit::Actor::default();
    let number = app::server::numbers::buy(&state, &by, &ada, "+12125550142")
        .await
        .unwrap();
    // A picture, kept by the job queue, so the backup has media to carry.
    app::server::simulator::inbound(&state, "+12025550100", &number.e164, String::new(), true)
        .await
        .unwrap();
    for _ in 0..100 {
        if count(
            &state.db,
            "SELECT COUNT(*) FROM media WHERE state = 'stored'",
        )
        .await
            == 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        count(
            &state.db,
            "SELECT COUNT(*) FROM media WHERE state = 'stored'"
        )
        .await,
        1
    );

    // Texts keep arriving; each is noted once `inbound` returned (it is committed then).
    let committed = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (state, committed, stop, to) = (
            state.clone(),
            committed.clone(),
            stop.clone(),
            number.e164.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = format!("text {i}");
                app::server::simulator::inbound(&state, "+12025550199", &to, body.clone(), false)
                    .await
                    .unwrap();
                committed.lock().unwrap().push(body);
                i += 1;
            }
        })
    };
    while committed.lock().unwrap().len() < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before_backup: Vec<String> = committed.lock().unwrap().clone();
    let said = backup::backup(&live, &dir.join("backup")).await.unwrap();
    assert!(said.contains("1 pictures"), "{said}");
    let at_end = before_backup.len() + 30;
    while committed.lock().unwrap().len() < at_end {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    // A backup into a folder that holds something is refused, not mixed in.
    assert!(backup::backup(&live, &dir.join("backup")).await.is_err());

    // Restored into another data directory (a new machine).
    let elsewhere = config(&dir.join("restored"));
    let said = backup::restore(&elsewhere, &dir.join("backup"))
        .await
        .unwrap();
    assert!(said.contains("Restored"), "{said}");
    let (restored, reports) = switchboard::startup::prepare(&elsewhere).await.unwrap();
    let bodies: HashSet<String> = sqlx::query_as::<_, (String,)>("SELECT body FROM messages")
        .fetch_all(restored.db.pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(b,)| b)
        .collect();
    for body in &before_backup {
        assert!(
            bodies.contains(body),
            "{body} was committed before the backup began"
        );
    }
    // One consistent moment: every text counted unread is there, and no more.
    assert_eq!(
        count(
            &restored.db,
            "SELECT COALESCE(SUM(unread), 0) FROM conversations"
        )
        .await,
        count(
            &restored.db,
            "SELECT COUNT(*) FROM messages WHERE direction = 'in'"
        )
        .await
    );
    // The secret came along: the picture opens for its owner, the sealed push key opened
    // (prepare did), and the restored instance takes new texts.
    let (picture,): (String,) = sqlx::query_as("SELECT id FROM media")
        .fetch_one(restored.db.pool())
        .await
        .unwrap();
    let (content_type, _) =
        app::server::media::read_own(&restored, &ada, &app::server::ids::MediaId::new(picture))
            .await
            .unwrap();
    assert_eq!(content_type, "image/png");
    restored.start_background_work(reports);
    app::server::simulator::inbound(
        &restored,
        "+12025550199",
        &number.e164,
        "after the restore".into(),
        false,
    )
    .await
    .unwrap();

    // While a server runs on a data directory, a second server and a restore are refused.
    let _running = backup::DataDirLock::acquire(&elsewhere.data_dir).unwrap();
    let second = backup::DataDirLock::acquire(&elsewhere.data_dir)
        .err()
        .expect("a second server on one data directory is refused");
    assert!(
        second.contains("another Switchboard is running"),
        "{second}"
    );
    let refused = backup::restore(&elsewhere, &dir.join("backup"))
        .await
        .unwrap_err();
    assert!(refused.contains("running"), "{refused}");

    state.db.close().await;
    restored.db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_database_a_newer_version_upgraded_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("switchboard-newer-{}", uuid::Uuid::new_v4()));
    let cfg = config(&dir);
    let (state, _) = switchboard::startup::prepare(&cfg).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (29991231000000, 'from the future', TRUE, X'00', 0)",
    )
    .execute(state.db.pool())
    .await
    .unwrap();
    state.db.close().await;
    let refused = switchboard::startup::prepare(&cfg).await.err().unwrap();
    assert!(
        refused.contains("29991231000000") && refused.contains("newer version"),
        "{refused}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn restore_refuses_what_is_not_a_backup() {
    let dir = std::env::temp_dir().join(format!("switchboard-notbackup-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("junk")).unwrap();
    std::fs::write(dir.join("junk/backup.json"), "{\"format\": 1}").unwrap();
    let refused = backup::restore(&config(&dir), &dir.join("junk"))
        .await
        .unwrap_err();
    assert!(refused.contains("unreadable"), "{refused}");
    let refused = backup::restore(&config(&dir), &dir.join("nothing"))
        .await
        .unwrap_err();
    assert!(refused.contains("not a Switchboard backup"), "{refused}");
    // Nothing was touched.
    assert!(!dir.join("data/switchboard.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
