//! The data-access layer's connection: one `sqlx::AnyPool` over SQLite or PostgreSQL.
//!
//! Every query in the app is written once, in SQL both engines accept (`$1` placeholders,
//! TEXT ids, BIGINT millisecond timestamps, no engine-specific types), so the two
//! backends behave the same by construction and the tests run on both.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    /// Where write transactions run (SQLite: a single connection; PostgreSQL: `pool`).
    writer: AnyPool,
    backend: Backend,
    url: String,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). SQLite files are created when missing
    /// and run in WAL mode with foreign keys on.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(sqlx::Error::Configuration(
                "database URL must start with sqlite: or postgres:".into(),
            ));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = Self::pool_options(
            backend,
            match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            },
        )
        .connect_with(options.clone())
        .await?;
        // SQLite has one writer at a time. Queueing write transactions here, on one
        // connection, beats letting them collide in SQLite's sleep-and-retry busy handler.
        let writer = match backend {
            Backend::Sqlite => Self::pool_options(backend, 1).connect_with(options).await?,
            Backend::Postgres => pool.clone(),
        };
        if backend == Backend::Sqlite {
            tokio::spawn(checkpoint_in_background(pool.clone()));
        }
        Ok(Db {
            pool,
            writer,
            backend,
            url,
        })
    }

    fn pool_options(backend: Backend, connections: u32) -> AnyPoolOptions {
        AnyPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; NORMAL sync is safe with WAL.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        // Checkpoints run in the background (see `Db::connect`), not inside
                        // whichever commit happens to fill the WAL past 1000 pages.
                        conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                    }
                    Ok(())
                })
            })
            // A connection never goes back to the pool inside a transaction. One did (a
            // transaction sqlx could not roll back: SQLite had ended it, or the request that
            // began it was dropped mid-BEGIN), and SQLite's one writer connection then refused
            // every later BEGIN until a restart. A dropped transaction's rollback is queued,
            // so the connection is asked once (ping) whether it went through; if not, it is
            // closed and the pool opens a fresh one.
            .after_release(|conn, _meta| {
                Box::pin(async move {
                    if conn.is_in_transaction() {
                        conn.ping().await?;
                    }
                    Ok(!conn.is_in_transaction())
                })
            })
    }

    /// The first schema change this database has that this binary does not know (a newer
    /// version migrated it), if any. Running on would misread the newer schema.
    pub async fn unknown_migration(&self) -> Result<Option<i64>, sqlx::Error> {
        let applied: Vec<(i64,)> = match sqlx::query_as("SELECT version FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await
        {
            Ok(rows) => rows,
            // A new database: nothing applied yet.
            Err(sqlx::Error::Database(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(applied
            .into_iter()
            .map(|(version,)| version)
            .find(|version| !MIGRATOR.iter().any(|m| m.version == *version)))
    }

    /// Applies the migrations in `migrations/` that have not run yet.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        MIGRATOR.run(&self.pool).await
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a transaction that reads and then writes would otherwise fail
    /// with SQLITE_BUSY whenever another writer committed in between.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The URL it was opened with (PostgreSQL's LISTEN needs its own connection).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await
    }
}

/// Copies the SQLite WAL back into the database file every quarter second, beside the
/// writer rather than in its way: a checkpoint (copy, then fsync) inside a commit stalls
/// every write queued behind it (the ingest bench gained ~20 % from moving it here). A
/// passive checkpoint never waits for the writer or blocks it. Ends when the pool closes;
/// the last connection to close checkpoints what is left.
async fn checkpoint_in_background(pool: AnyPool) {
    while !pool.is_closed() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if !pool.is_closed() {
                tracing::warn!(error = %e, "WAL checkpoint failed; will try again");
            }
        }
    }
}

/// `($1, $2, …), (…)`: placeholders for a multi-row `VALUES` of `rows` rows of `columns`
/// values each (the same spelling works on SQLite and PostgreSQL).
pub fn value_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let values: Vec<String> = (1..=columns)
                .map(|column| format!("${}", row * columns + column))
                .collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text` for a `LIKE … ESCAPE '\\'` pattern: its `%`, `_` and `\\` match themselves.
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// [`value_rows`] for rows that share some values (the owner, a timestamp): `columns` says
/// for each column `Some(n)` (the shared `$n`, bound first) or `None` (each row's own
/// value, bound after the shared ones, row by row). Fewer values to bind: a 100,000-contact
/// import spent most of its time binding the same owner id and time again and again.
pub fn value_rows_sharing(rows: usize, columns: &[Option<usize>]) -> String {
    let shared = columns.iter().flatten().copied().max().unwrap_or(0);
    let own = columns.iter().filter(|c| c.is_none()).count();
    (0..rows)
        .map(|row| {
            let mut next = shared + row * own;
            let values: Vec<String> = columns
                .iter()
                .map(|column| match column {
                    Some(n) => format!("${n}"),
                    None => {
                        next += 1;
                        format!("${next}")
                    }
                })
                .collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$first, $first+1, …`: `count` placeholders for an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_values_are_bound_once() {
        assert_eq!(
            value_rows_sharing(2, &[None, Some(1), None, Some(2)]),
            "($3, $1, $4, $2), ($5, $1, $6, $2)"
        );
        assert_eq!(value_rows_sharing(1, &[None, None]), value_rows(1, 2));
    }

    /// Commits land in the WAL (automatic checkpoints are off); the background checkpointer
    /// must bring them into the database file itself, which is what a reader that ignores
    /// the WAL (`immutable`) sees.
    #[tokio::test]
    async fn committed_writes_reach_the_database_file_in_the_background() {
        let dir =
            std::env::temp_dir().join(format!("switchboard-checkpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("checkpoint.db");
        let db = Db::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE notes (body TEXT NOT NULL)")
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO notes (body) VALUES ('kept')")
            .execute(db.pool())
            .await
            .unwrap();
        let in_file = || async {
            let options =
                AnyConnectOptions::from_str(&format!("sqlite://{}?immutable=true", file.display()))
                    .unwrap();
            let mut reader = <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options)
                .await
                .unwrap();
            let rows: Result<(i64,), _> = sqlx::query_as("SELECT COUNT(*) FROM notes")
                .fetch_one(&mut reader)
                .await;
            rows.map(|(n,)| n).unwrap_or(0)
        };
        let mut seen = 0;
        for _ in 0..40 {
            seen = in_file().await;
            if seen == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(seen, 1, "the row never left the WAL");
    }

    #[test]
    fn placeholders_number_every_value_once() {
        assert_eq!(value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(value_rows(1, 1), "($1)");
        assert_eq!(placeholders(3, 2), "$3, $4");
    }
}
