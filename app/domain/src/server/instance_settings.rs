//! Settings admins save for the whole instance (carrier, mail server, replies by email, the
//! price of a text): one row per key in `instance_settings`, its value a text (JSON for the
//! structured ones, secrets sealed before they get here).

use crate::error::AppResult;
use crate::server::Db;

/// The saved value, if any.
pub async fn get(db: &Db, key: &str) -> AppResult<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM instance_settings WHERE key = $1")
            .bind(key)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(value,)| value))
}

/// Saves `value`, replacing what was there.
pub async fn put(db: &Db, key: &str, value: &str) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO instance_settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Forgets the setting.
pub async fn clear(db: &Db, key: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM instance_settings WHERE key = $1")
        .bind(key)
        .execute(db.pool())
        .await?;
    Ok(())
}
