//! `switchboard backup <folder>` and `switchboard restore <folder>`, for the SQLite default
//! (PostgreSQL deployments use `pg_dump`; see the README).
//!
//! A backup is a folder holding everything an instance needs to come back:
//! - `switchboard.db`: a consistent snapshot, taken with SQLite's `VACUUM INTO` while the
//!   server keeps running (readers and the writer go on; the snapshot is one transaction);
//! - `secret.key`: without it, saved carrier secrets, invitation links and the push key
//!   can't be read (absent when the key comes from `SWITCHBOARD_SECRET_KEY`: keep that too);
//! - `media/`: the pictures, copied after the snapshot, so every picture it names is there;
//! - `backup.json`: when, by which version, at which schema.
//!
//! Restoring needs the server stopped (it holds [`DataDirLock`]); the data it replaces is
//! moved aside, not deleted.

use std::path::{Path, PathBuf};

use app::server::Db;

use crate::config::{Config, VERSION};

const MANIFEST: &str = "backup.json";
const FORMAT: u32 = 1;

/// The SQLite file behind `url`, or None for another database.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    Some(PathBuf::from(path))
}

fn sqlite_only(config: &Config) -> Result<PathBuf, String> {
    sqlite_path(&config.database_url()).ok_or_else(|| {
        "backup and restore are for the SQLite default; back PostgreSQL up with pg_dump \
         (see the README's Deployment section)"
            .to_string()
    })
}

/// One server per SQLite data directory: the server holds this lock while it runs, and a
/// restore takes it, so neither runs under the other's feet.
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock, String> {
        let path = data_dir.join("switchboard.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a descriptor this function owns; released when it closes.
            let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if locked != 0 {
                return Err(format!(
                    "another Switchboard is running with the data directory {} (stop it first)",
                    data_dir.display()
                ));
            }
        }
        Ok(DataDirLock { _file: file })
    }
}

/// What a backup says about itself.
#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    format: u32,
    created_at_ms: i64,
    version: String,
    /// The newest schema change the snapshot has.
    schema: i64,
    messages: i64,
    pictures: usize,
    /// Whether `secret.key` is in the backup (not when the key came from the environment).
    secret_included: bool,
}

/// Writes a backup of the instance configured by `config` into `dest` (a new folder).
pub async fn backup(config: &Config, dest: &Path) -> Result<String, String> {
    let db_path = sqlite_only(config)?;
    // A backup holds everyone's texts and the instance secret: its owner's alone.
    crate::startup::restrict_new_files();
    if !db_path.is_file() {
        return Err(format!("no database at {}", db_path.display()));
    }
    if dest.exists()
        && std::fs::read_dir(dest)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(format!(
            "{} exists and is not empty: name a new folder",
            dest.display()
        ));
    }
    std::fs::create_dir_all(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let db = Db::connect(&config.database_url())
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let snapshot = dest.join("switchboard.db");
    sqlx::query("VACUUM INTO $1")
        .bind(snapshot.display().to_string())
        .execute(db.pool())
        .await
        .map_err(|e| format!("the snapshot failed: {e}"))?;
    db.close().await;

    // Facts from the snapshot itself (not the live database, which has moved on).
    let copy = Db::connect(&format!("sqlite://{}", snapshot.display()))
        .await
        .map_err(|e| format!("cannot read the snapshot back: {e}"))?;
    let (schema, messages) = snapshot_facts(&copy).await?;
    copy.close().await;

    let secret = config.data_dir.join("secret.key");
    let secret_included = config.secret_key.is_none() && secret.is_file();
    if secret_included {
        std::fs::copy(&secret, dest.join("secret.key"))
            .map_err(|e| format!("cannot copy {}: {e}", secret.display()))?;
    }
    let pictures = copy_media(&config.data_dir.join("media"), &dest.join("media"))?;
    let manifest = Manifest {
        format: FORMAT,
        created_at_ms: app::server::now_ms(),
        version: VERSION.to_string(),
        schema,
        messages,
        pictures,
        secret_included,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(dest.join(MANIFEST), json).map_err(|e| e.to_string())?;
    let mut said = format!(
        "Backup written to {}: {messages} messages, {pictures} pictures.",
        dest.display()
    );
    if !secret_included {
        said.push_str(
            "\nThe instance secret comes from SWITCHBOARD_SECRET_KEY: keep it with this backup.",
        );
    }
    Ok(said)
}

async fn snapshot_facts(db: &Db) -> Result<(i64, i64), String> {
    let (schema,): (i64,) =
        sqlx::query_as("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM _sqlx_migrations")
            .fetch_one(db.pool())
            .await
            .map_err(|e| format!("the snapshot has no schema: {e}"))?;
    let (messages,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages")
        .fetch_one(db.pool())
        .await
        .map_err(|e| format!("cannot count the snapshot's messages: {e}"))?;
    Ok((schema, messages))
}

/// Copies the picture files (not half-written ones); returns how many.
fn copy_media(from: &Path, to: &Path) -> Result<usize, String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(0); // no pictures yet
    };
    let mut copied = 0;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".partial") || !entry.path().is_file() {
            continue;
        }
        match std::fs::copy(entry.path(), to.join(&name)) {
            Ok(_) => copied += 1,
            // Deleted since the listing: its message is gone too.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot copy {}: {e}", entry.path().display())),
        }
    }
    Ok(copied)
}

/// Replaces the instance's data with the backup in `from`. The server must be stopped; what
/// was there is moved to `<data dir>/before-restore-<time>/`.
pub async fn restore(config: &Config, from: &Path) -> Result<String, String> {
    let db_path = sqlite_only(config)?;
    crate::startup::restrict_new_files();
    let manifest: Manifest = std::fs::read_to_string(from.join(MANIFEST))
        .map_err(|e| format!("{} is not a Switchboard backup: {e}", from.display()))
        .and_then(|text| {
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is unreadable: {e}", from.join(MANIFEST).display()))
        })?;
    if manifest.format != FORMAT {
        return Err(format!(
            "this backup's format ({}) is not one this version reads ({FORMAT})",
            manifest.format
        ));
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    let _lock = DataDirLock::acquire(&config.data_dir)?;

    // Check the copy where it will live (same filesystem, so it moves into place at once).
    let staged = db_path.with_extension("db.restoring");
    let _ = std::fs::remove_file(&staged);
    std::fs::copy(from.join("switchboard.db"), &staged)
        .map_err(|e| format!("cannot copy the backup's database: {e}"))?;
    let check = async {
        let db = Db::connect(&format!("sqlite://{}", staged.display()))
            .await
            .map_err(|e| format!("the backup's database does not open: {e}"))?;
        let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(db.pool())
            .await
            .map_err(|e| e.to_string())?;
        if verdict != "ok" {
            return Err(format!("the backup's database is damaged: {verdict}"));
        }
        if let Some(version) = db.unknown_migration().await.map_err(|e| e.to_string())? {
            return Err(newer_schema_message(version));
        }
        db.close().await;
        Ok(())
    };
    if let Err(e) = check.await {
        let _ = std::fs::remove_file(&staged);
        return Err(e);
    }

    // What is there now goes aside, then the backup takes its place.
    let aside = config
        .data_dir
        .join(format!("before-restore-{}", app::server::now_ms()));
    std::fs::create_dir_all(&aside).map_err(|e| e.to_string())?;
    let mut moves: Vec<(PathBuf, PathBuf)> = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", db_path.display()));
        let name = file.file_name().map(|n| n.to_owned()).unwrap_or_default();
        moves.push((file, aside.join(name)));
    }
    moves.push((config.data_dir.join("media"), aside.join("media")));
    if manifest.secret_included {
        moves.push((config.data_dir.join("secret.key"), aside.join("secret.key")));
    }
    for (what, to) in &moves {
        if what.exists() {
            std::fs::rename(what, to)
                .map_err(|e| format!("cannot move {} aside: {e}", what.display()))?;
        }
    }
    std::fs::rename(&staged, &db_path).map_err(|e| e.to_string())?;
    if manifest.secret_included {
        std::fs::copy(from.join("secret.key"), config.data_dir.join("secret.key"))
            .map_err(|e| format!("cannot restore the secret: {e}"))?;
    }
    let pictures = copy_media(&from.join("media"), &config.data_dir.join("media"))?;
    let mut said = format!(
        "Restored {} messages and {pictures} pictures from the backup taken by {}.\n\
         What was there before is in {}.",
        manifest.messages,
        manifest.version,
        aside.display()
    );
    if !manifest.secret_included {
        said.push_str("\nStart with the same SWITCHBOARD_SECRET_KEY as the backed-up instance.");
    }
    Ok(said)
}

/// What a binary says of a database a newer version has migrated.
pub fn newer_schema_message(version: i64) -> String {
    format!(
        "this database has schema change {version}, which Switchboard {VERSION} does not know: \
         a newer version upgraded it. Run that version (or newer), or restore a backup taken \
         before the upgrade"
    )
}
