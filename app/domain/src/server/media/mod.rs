//! MMS pictures: where their bytes are kept, who may see them, how carriers fetch ours.
//!
//! - Inbound: ingestion records a `pending` row with the carrier's URL and queues a
//!   `FetchMedia` job (carrier URLs expire, so we keep a copy); the job stores the bytes and
//!   the thread shows the picture.
//! - Outbound: the composer uploads each picture (checked against the carrier's limits), then
//!   sends the message with the upload ids; the carrier fetches them from unguessable,
//!   expiring URLs (`/media/public/{id}?expires=…&sig=…`).
//! - Only the owner sees a picture (`/media/{id}`); anyone else gets "not found".

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{Any, Transaction};

use super::carrier::MediaRef;
use super::events::EventBus;
use super::ids::{MediaId, MessageId, UserId};
use super::jobs::{self, Job};
use super::{crypto, now_ms, AppState, Db};
use crate::error::{AppError, AppResult};
use crate::types::{LiveEvent, MediaState, MediaView};

/// How long the carrier may fetch an outbound picture (they fetch within minutes; retries
/// of a send can take longer).
const PUBLIC_URL_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Uploads never attached to a message are removed after this long.
const ORPHAN_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
/// The biggest inbound picture we keep (carriers deliver at most 5 MB).
pub const MAX_INBOUND_BYTES: usize = 10_000_000;

/// Where picture bytes live. Files under the data directory by default; an object store
/// (S3 and the like) can take its place without the rest of the app noticing.
#[async_trait]
pub trait MediaStore: Send + Sync {
    async fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()>;
    async fn get(&self, key: &str) -> std::io::Result<Vec<u8>>;
    async fn delete(&self, key: &str) -> std::io::Result<()>;
}

/// One file per picture under `root`, named by its (random, path-safe) id.
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    pub fn new(root: PathBuf) -> FileStore {
        FileStore { root }
    }

    fn path(&self, key: &str) -> std::io::Result<PathBuf> {
        // Keys are our own UUIDs; refuse anything else rather than trust it in a path.
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "bad media key",
            ));
        }
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl MediaStore for FileStore {
    async fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(key)?;
        tokio::fs::create_dir_all(&self.root).await?;
        // Write then rename: a crash never leaves a half picture under the real name.
        let partial = self.root.join(format!("{key}.partial"));
        tokio::fs::write(&partial, bytes).await?;
        tokio::fs::rename(&partial, &path).await
    }

    async fn get(&self, key: &str) -> std::io::Result<Vec<u8>> {
        tokio::fs::read(self.path(key)?).await
    }

    async fn delete(&self, key: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// The picture format, read from the bytes themselves (never from what a client claims).
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

/// A recording's format, read from its bytes: WebM or Ogg (what browsers' MediaRecorder
/// writes), MP3 or WAV (what carriers record).
pub fn sniff_audio(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("audio/webm")
    } else if bytes.starts_with(b"OggS") {
        Some("audio/ogg")
    } else if bytes.starts_with(b"ID3")
        || (bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
    {
        // An ID3 tag, or an MPEG audio frame's sync bits: what carriers record in.
        Some("audio/mpeg")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WAVE" {
        Some("audio/wav")
    } else {
        None
    }
}

/// Whether `user_id` may keep another file: Err(why) once their pictures and recordings
/// fill the quota.
async fn quota_left(state: &AppState, user_id: &UserId) -> AppResult<Result<(), String>> {
    let (used,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM media WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(state.db.pool())
    .await?;
    let quota = state.settings.media_quota_bytes;
    Ok(if used >= quota {
        Err(format!(
            "Your pictures fill your storage ({} MB). Delete some conversations to make room.",
            quota / 1_000_000
        ))
    } else {
        Ok(())
    })
}

pub async fn upload(state: &AppState, user_id: &UserId, bytes: &[u8]) -> AppResult<MediaId> {
    let limits = state.carrier().media_limits();
    if bytes.is_empty() {
        return Err(AppError::invalid("That file is empty."));
    }
    let Some(content_type) = sniff_image(bytes) else {
        return Err(AppError::invalid(
            "Only JPEG, PNG and GIF pictures can be sent by MMS.",
        ));
    };
    if let Some(why) = limits.check(&[bytes.len()]) {
        return Err(AppError::invalid(why));
    }
    super::throttle::take(&state.db, super::throttle::UPLOADS, user_id.as_str()).await?;
    keep(state, user_id, content_type, bytes).await
}

/// Stores `bytes` (already checked to be `content_type`) as a new file of `user_id`'s,
/// within their quota; unattached to any message until something claims it.
pub async fn keep(
    state: &AppState,
    user_id: &UserId,
    content_type: &str,
    bytes: &[u8],
) -> AppResult<MediaId> {
    quota_left(state, user_id)
        .await?
        .map_err(AppError::Invalid)?;
    let id = MediaId::new(crypto::new_id());
    state
        .media
        .put(id.as_str(), bytes)
        .await
        .map_err(AppError::internal)?;
    let inserted = sqlx::query(
        "INSERT INTO media (id, user_id, content_type, size_bytes, state, created_at)
         VALUES ($1, $2, $3, $4, 'stored', $5)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(content_type)
    .bind(bytes.len() as i64)
    .bind(now_ms())
    .execute(state.db.pool())
    .await;
    if let Err(e) = inserted {
        let _ = state.media.delete(id.as_str()).await;
        return Err(e.into());
    }
    Ok(id)
}

/// Attaches the user's uploads to a new outbound message, inside its transaction: each must
/// be theirs and unattached, and together within the carrier's limits.
pub async fn attach(
    tx: &mut Transaction<'_, Any>,
    state: &AppState,
    user_id: &UserId,
    message_id: &MessageId,
    media_ids: &[MediaId],
) -> AppResult<()> {
    let mut sizes = Vec::with_capacity(media_ids.len());
    for id in media_ids {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT size_bytes FROM media WHERE id = $1 AND user_id = $2 AND message_id IS NULL",
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((size,)) = row else {
            return Err(AppError::not_found("That picture"));
        };
        sizes.push(size as usize);
    }
    if let Some(why) = state.carrier().media_limits().check(&sizes) {
        return Err(AppError::invalid(why));
    }
    for (position, id) in media_ids.iter().enumerate() {
        sqlx::query("UPDATE media SET message_id = $1, position = $2 WHERE id = $3")
            .bind(message_id)
            .bind(position as i64)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Records an inbound message's pictures as pending and queues their fetch, inside the
/// ingestion transaction (so a crash can't lose one).
pub async fn record_inbound(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    message_id: &MessageId,
    media: &[MediaRef],
) -> AppResult<()> {
    let now = now_ms();
    for (position, item) in media.iter().enumerate() {
        let id = MediaId::new(crypto::new_id());
        sqlx::query(
            "INSERT INTO media (id, user_id, message_id, position, content_type, state, source_url, created_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(message_id)
        .bind(position as i64)
        .bind(&item.content_type)
        .bind(&item.url)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        jobs::enqueue(tx, &Job::FetchMedia { media_id: id }, now).await?;
    }
    Ok(())
}

/// What became of a fetch.
#[derive(Debug, PartialEq, Eq)]
pub enum Fetched {
    Stored,
    /// Nothing to do (already stored, or the message is gone).
    Nothing,
    /// The carrier's copy is not a picture we keep, or too big: the thread says so.
    Refused(String),
}

/// Fetches a pending inbound picture from the carrier and keeps it. Carrier errors are
/// returned for the job queue to retry.
pub async fn fetch(
    state: &AppState,
    media_id: &MediaId,
) -> Result<Fetched, super::carrier::CarrierError> {
    use super::carrier::CarrierError;
    let internal = |e: AppError| CarrierError::Transient(format!("storage: {e:?}"));
    // The number the picture came to says which carrier (and so whose credentials) fetches it.
    let row: Option<(Option<String>, String, String, UserId)> = sqlx::query_as(
        "SELECT m.source_url, m.state, n.carrier, m.user_id FROM media m
         JOIN messages msg ON msg.id = m.message_id
         JOIN conversations c ON c.id = msg.conversation_id
         JOIN phone_numbers n ON n.id = c.number_id
         WHERE m.id = $1",
    )
    .bind(media_id)
    .fetch_optional(state.db.pool())
    .await
    .map_err(|e| internal(e.into()))?;
    let Some((Some(url), current, carrier, owner)) = row else {
        return Ok(Fetched::Nothing);
    };
    if current != "pending" {
        return Ok(Fetched::Nothing);
    }
    let Some(kind) = super::carrier::config::CarrierKind::parse(&carrier) else {
        return Ok(Fetched::Refused(format!("unknown carrier {carrier}")));
    };
    if let Err(why) = quota_left(state, &owner).await.map_err(internal)? {
        return Ok(Fetched::Refused(why));
    }
    let sandbox = kind == super::carrier::config::CarrierKind::Sandbox;
    let http = if sandbox
        && url.starts_with(&format!("{}/media/public/", state.settings.base_url()))
    {
        // The sandbox hands over our own signed links (a local MMS): this instance, which
        // may well be on loopback, is the one host it may reach beyond the public ones.
        super::safe_http::client(
            super::safe_http::Reach::AlsoLoopback,
            Duration::from_secs(30),
        )
    } else if sandbox && url.starts_with("data:") {
        state.media_http() // the Simulator's pictures: nothing is fetched
    } else {
        let checked = url::Url::parse(&url)
            .map_err(|e| e.to_string())
            .and_then(|parsed| super::safe_http::check_url(&parsed, state.settings.fetch_reach));
        if let Err(why) = checked {
            return Ok(Fetched::Refused(format!("picture address refused: {why}")));
        }
        state.media_http()
    };
    let fetched = state
        .carrier_of(kind)
        .fetch_media(&http, &url, MAX_INBOUND_BYTES)
        .await;
    let bytes = match fetched {
        Ok(bytes) => bytes,
        Err(CarrierError::Rejected { detail, .. }) => return Ok(Fetched::Refused(detail)),
        Err(e) => return Err(e),
    };
    let Some(content_type) = sniff_image(&bytes) else {
        return Ok(Fetched::Refused("not a JPEG, PNG or GIF picture".into()));
    };
    state
        .media
        .put(media_id.as_str(), &bytes)
        .await
        .map_err(|e| internal(AppError::internal(e)))?;
    finish(
        state,
        media_id,
        MediaState::Stored,
        content_type,
        bytes.len(),
    )
    .await
    .map_err(internal)?;
    Ok(Fetched::Stored)
}

/// Marks a pending picture stored or failed, and tells the owner's open tabs.
pub async fn finish(
    state: &AppState,
    media_id: &MediaId,
    outcome: MediaState,
    content_type: &str,
    size: usize,
) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let row: Option<(UserId, Option<String>)> = sqlx::query_as(
        "UPDATE media SET state = $1, content_type = $2, size_bytes = $3, source_url = NULL
         WHERE id = $4 AND state = 'pending' RETURNING user_id, message_id",
    )
    .bind(outcome.as_str())
    .bind(content_type)
    .bind(size as i64)
    .bind(media_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, Some(message_id))) = row else {
        return Ok(());
    };
    let conversation: Option<(String,)> =
        sqlx::query_as("SELECT conversation_id FROM messages WHERE id = $1")
            .bind(&message_id)
            .fetch_optional(&mut *tx)
            .await?;
    let mut published = Vec::new();
    if let Some((conversation_id,)) = conversation {
        let event = LiveEvent::Message {
            conversation_id,
            message_id,
        };
        published.push(EventBus::record(&mut tx, &user_id, &event).await?);
    }
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(())
}

/// A stored picture's type and bytes; with `owner`, only if it is theirs. Otherwise, like a
/// picture that does not exist, "not found".
async fn read_stored(
    state: &AppState,
    id: &MediaId,
    owner: Option<&UserId>,
) -> AppResult<(String, Vec<u8>)> {
    let row: Option<(String, UserId)> = sqlx::query_as(
        "SELECT content_type, user_id FROM media WHERE id = $1 AND state = 'stored'",
    )
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?;
    match row {
        Some((content_type, user_id)) if owner.is_none_or(|o| *o == user_id) => {
            let bytes = state
                .media
                .get(id.as_str())
                .await
                .map_err(AppError::internal)?;
            Ok((content_type, bytes))
        }
        _ => Err(AppError::not_found("That picture")),
    }
}

/// A stored picture of `user_id`'s: its type and bytes. Anyone else's is "not found".
pub async fn read_own(
    state: &AppState,
    user_id: &UserId,
    id: &MediaId,
) -> AppResult<(String, Vec<u8>)> {
    read_stored(state, id, Some(user_id)).await
}

fn public_message(id: &MediaId, expires: i64) -> String {
    format!("media:{id}:{expires}")
}

/// The URL a carrier fetches an outbound picture from: unguessable, and good for a day.
pub fn public_url(state: &AppState, id: &MediaId) -> String {
    let expires = now_ms() + PUBLIC_URL_TTL_MS;
    let sig = crypto::sign(&state.secret, &public_message(id, expires));
    format!(
        "{}/media/public/{id}?expires={expires}&sig={sig}",
        state.settings.base_url()
    )
}

/// A picture behind a public URL, if the URL is genuine and unexpired.
pub async fn read_public(
    state: &AppState,
    id: &MediaId,
    expires: i64,
    sig: &str,
) -> AppResult<(String, Vec<u8>)> {
    if expires < now_ms()
        || !crypto::verify_signature(&state.secret, &public_message(id, expires), sig)
    {
        return Err(AppError::not_found("That picture"));
    }
    read_stored(state, id, None).await
}

/// The public URLs of an outbound message's pictures, in order.
pub async fn public_urls_for(state: &AppState, message_id: &MessageId) -> AppResult<Vec<String>> {
    let ids: Vec<(MediaId,)> = sqlx::query_as(
        "SELECT id FROM media WHERE message_id = $1 AND state = 'stored' ORDER BY position",
    )
    .bind(message_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(ids.iter().map(|(id,)| public_url(state, id)).collect())
}

/// The pictures of these messages, by message id, in order.
pub async fn views_for(
    db: &Db,
    user_id: &UserId,
    message_ids: &[String],
) -> AppResult<HashMap<String, Vec<MediaView>>> {
    let mut by_message: HashMap<String, Vec<MediaView>> = HashMap::new();
    if message_ids.is_empty() {
        return Ok(by_message);
    }
    let placeholders = super::db::placeholders(2, message_ids.len());
    let sql = format!(
        "SELECT id, message_id, content_type, state FROM media
         WHERE user_id = $1 AND message_id IN ({placeholders}) ORDER BY position"
    );
    let mut query = sqlx::query_as::<_, (String, String, String, String)>(&sql).bind(user_id);
    for id in message_ids {
        query = query.bind(id);
    }
    for (id, message_id, content_type, state) in query.fetch_all(db.pool()).await? {
        by_message.entry(message_id).or_default().push(MediaView {
            id,
            content_type,
            state: MediaState::parse(&state),
        });
    }
    Ok(by_message)
}

/// Removes uploads nobody sent (the composer was closed before sending). Voicemails belong
/// to a call and recorded greetings to a number, not a message, and stay.
pub async fn purge_orphans(state: &AppState) -> AppResult<usize> {
    let old: Vec<(MediaId,)> = sqlx::query_as(
        "SELECT id FROM media WHERE message_id IS NULL AND created_at < $1
         AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.voicemail_media_id = media.id)
         AND NOT EXISTS (SELECT 1 FROM phone_numbers p WHERE p.greeting_media_id = media.id)",
    )
    .bind(now_ms() - ORPHAN_AFTER_MS)
    .fetch_all(state.db.pool())
    .await?;
    for (id,) in &old {
        sqlx::query("DELETE FROM media WHERE id = $1")
            .bind(id)
            .execute(state.db.pool())
            .await?;
        let _ = state.media.delete(id.as_str()).await;
    }
    Ok(old.len())
}

/// A picture as a `data:` URL: how the Simulator and the CLI hand the sandbox a picture.
pub fn data_url(content_type: &str, bytes: &[u8]) -> String {
    use base64::Engine;
    format!(
        "data:{content_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

pub mod routes;
