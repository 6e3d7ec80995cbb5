//! Who is online, for the dialer: whether the number typed belongs to someone here, and
//! whether a call would ring an open tab now, go straight to voicemail (do-not-disturb), or
//! reach only their devices' alerts.
//!
//! A tab's live stream marks its user seen when it opens and every 30 seconds while open
//! (`events::stream_handler`), in the database so that every instance sharing it agrees.
//! Someone seen within [`ONLINE_MS`] is online. Only that instant is kept; the owner's name
//! is never told (the line says "someone on this Switchboard").

use super::{Callee, Ring, CALLEE_COLUMNS};
use crate::error::{AppError, AppResult};
use crate::server::ids::{NumberId, UserId, E164};
use crate::server::{now_ms, phone, Db};
use crate::types::Presence;

/// Seen this recently: online (two missed heartbeats and a bit).
pub const ONLINE_MS: i64 = 75_000;

/// Marks `user_id` seen now (a tab's live stream is open).
pub async fn seen(db: &Db, user_id: &UserId) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO presence (user_id, seen_at) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(user_id)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// What a call from `asker`'s number `from` to `to` would find.
pub async fn of_number(db: &Db, asker: &UserId, from: &NumberId, to: &str) -> AppResult<Presence> {
    let own: Option<(E164,)> =
        sqlx::query_as("SELECT e164 FROM phone_numbers WHERE id = $1 AND user_id = $2")
            .bind(from)
            .bind(asker)
            .fetch_optional(db.pool())
            .await?;
    let Some((from,)) = own else {
        return Err(AppError::not_found("That number"));
    };
    let region = phone::region_of(from.as_str()).unwrap_or_else(|| "US".into());
    let Ok(to) = E164::parse(to, &region) else {
        return Ok(Presence::Outside);
    };
    let callee: Option<Callee> = sqlx::query_as(&format!(
        "SELECT {CALLEE_COLUMNS} FROM phone_numbers WHERE e164 = $1"
    ))
    .bind(&to)
    .fetch_optional(db.pool())
    .await?;
    let Some(callee) = callee else {
        return Ok(Presence::Outside);
    };
    if Ring::of_callee(&callee) == Ring::NotAtAll {
        return Ok(Presence::DoNotDisturb);
    }
    let seen: Option<(i64,)> = sqlx::query_as("SELECT seen_at FROM presence WHERE user_id = $1")
        .bind(&callee.1)
        .fetch_optional(db.pool())
        .await?;
    Ok(match seen {
        Some((at,)) if at > now_ms() - ONLINE_MS => Presence::Online,
        _ => Presence::Offline,
    })
}
