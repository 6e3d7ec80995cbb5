//! Export my data: one zip with everything Switchboard keeps about a person — account,
//! numbers, contacts, conversations and messages, calls, voicemails and pictures (the files
//! themselves), keyword rules, canned replies, opt-outs, campaigns, push devices, sessions
//! and audit entries — as JSON Lines and CSV, in a documented format with a version
//! ([`FORMAT_VERSION`], README.txt inside).
//!
//! The zip is written as it is sent: rows are read a page at a time and each file streams
//! into the archive, so an account with a million messages never sits in memory. The
//! download link is single-use, expires after [`LINK_MS`], and only opens for the signed-in
//! account that asked for it.

use std::collections::BTreeMap;

use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipEntryBuilder};
use futures::AsyncWriteExt;
use sqlx::{Column, Row};

use crate::error::{AppError, AppResult};
use crate::server::audit::{self, Action, Actor};
use crate::server::ids::UserId;
use crate::server::{crypto, now_ms, AppState, Db};

/// The export format's version (README.txt in the zip says what each file holds).
pub const FORMAT_VERSION: i64 = 1;
/// How long a download link works.
pub const LINK_MS: i64 = 15 * 60 * 1000;
/// Exports one account may ask for: each reads all of its data.
pub const EXPORTS: crate::server::throttle::Limit = crate::server::throttle::Limit {
    action: "data exports",
    per_window: 10,
    window_ms: 60 * 60 * 1000,
};
/// Rows read per query.
const PAGE: i64 = 1_000;

/// A new single-use download link for the user's export; answers its path.
pub async fn create_link(db: &Db, by: &Actor, user_id: &UserId) -> AppResult<String> {
    let token = crypto::random_token();
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM export_links WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO export_links (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(crypto::hash_token(&token))
    .bind(user_id)
    .bind(now)
    .bind(now + LINK_MS)
    .execute(&mut *tx)
    .await?;
    audit::record(&mut *tx, by, Action::ExportRequested, Some(user_id), "").await?;
    tx.commit().await?;
    Ok(format!("/export/{token}"))
}

/// Uses up the link `token` for `user_id`: a second use, another account's link, or an
/// expired one is "not found".
pub async fn take_link(db: &Db, token: &str, user_id: &UserId) -> AppResult<()> {
    let done = sqlx::query(
        "DELETE FROM export_links WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(crypto::hash_token(token))
    .bind(user_id)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(AppError::not_found("That export link"))
    }
}

const README: &str = "Switchboard data export, format version 1.

Every file but this one and account.json holds one table of your data, twice: as JSON
Lines (.jsonl: one JSON object per line) and as CSV (.csv: a header row, then one row per
line of the .jsonl, same columns in the same order). Instants are milliseconds since
1970-01-01 UTC; phone numbers are E.164 (+12125550123).

account.json          you: id, email, name, role, created_at; format and version; when exported
numbers               your phone numbers and how each answers (rules and away message settings)
contacts              your contacts (contacts.json also has each one's numbers, tags and fields;
                      contacts.vcf is the same as vCard 3.0)
conversations         one per number and person you texted with
messages              every text in and out (direction, body, status, segments, error code)
media                 pictures and voicemails: what each is; the files are in media/<id>
calls                 every call in and out (outcome, times, voicemail_media_id and the carrier's
                      transcript if one was left)
reply_rules           keyword rules per number, in order
canned_replies        your saved replies
opt_outs              people who texted STOP to one of your numbers
campaigns             your campaigns, and campaign_recipients what became of each text
push_devices          devices that get your alerts
sessions              devices signed in to your account
passkeys              your passkeys: name, credential id, when added and last used
google_links          the Google account that signs you in, if you linked one
audit                 the audit log entries about your account or made by you
";

/// One table for the export: its file name and the query that reads the user's rows, a
/// page at a time (`$1` the user, `$2` the last key read, ordered by the key column first).
struct Table {
    name: &'static str,
    sql: &'static str,
}

const TABLES: &[Table] = &[
    Table {
        name: "numbers",
        sql: "SELECT id, e164, name, carrier, capabilities, created_at, last_inbound_at,
                     ring_seconds, do_not_disturb, help_text, away_mode, away_text, business_days,
                     opens_minute, closes_minute, time_zone, forward_email, forward_to,
                     forward_after_secs
              FROM phone_numbers WHERE user_id = $1 AND id > $2 ORDER BY id",
    },
    Table {
        name: "conversations",
        sql: "SELECT c.id, p.e164 AS number, c.peer, c.last_at, c.last_preview, c.unread
              FROM conversations c JOIN phone_numbers p ON p.id = c.number_id
              WHERE c.user_id = $1 AND c.id > $2 ORDER BY c.id",
    },
    Table {
        name: "messages",
        sql: "SELECT id, conversation_id, direction, body, status, error_code, segments,
                     automatic, created_at, updated_at
              FROM messages WHERE user_id = $1 AND id > $2 ORDER BY id",
    },
    Table {
        name: "media",
        sql: "SELECT id, message_id, content_type, size_bytes, state, created_at
              FROM media WHERE user_id = $1 AND id > $2 ORDER BY id",
    },
    Table {
        name: "calls",
        sql: "SELECT id, number_e164, peer, direction, outcome, reason, created_at, answered_at,
                     ended_at, voicemail_media_id, transcript
              FROM calls WHERE user_id = $1 AND id > $2 ORDER BY id",
    },
    Table {
        name: "reply_rules",
        sql: "SELECT r.id, p.e164 AS number, r.position, r.matching, r.keyword, r.reply
              FROM reply_rules r JOIN phone_numbers p ON p.id = r.number_id
              WHERE p.user_id = $1 AND r.id > $2 ORDER BY r.id",
    },
    Table {
        name: "canned_replies",
        sql: "SELECT id, shortcut, body, created_at FROM canned_replies
              WHERE user_id = $1 AND id > $2 ORDER BY id",
    },
    Table {
        name: "opt_outs",
        sql: "SELECT p.e164 || ' ' || o.peer AS id, p.e164 AS number, o.peer, o.source, o.created_at
              FROM opt_outs o JOIN phone_numbers p ON p.id = o.number_id
              WHERE p.user_id = $1 AND p.e164 || ' ' || o.peer > $2
              ORDER BY p.e164 || ' ' || o.peer",
    },
    Table {
        name: "campaigns",
        sql: "SELECT c.id, p.e164 AS number, c.name, c.body, c.tag, c.state, c.created_at, c.finished_at
              FROM campaigns c JOIN phone_numbers p ON p.id = c.number_id
              WHERE c.user_id = $1 AND c.id > $2 ORDER BY c.id",
    },
    Table {
        name: "campaign_recipients",
        sql: "SELECT r.campaign_id || ' ' || r.peer AS id, r.campaign_id, r.peer, r.name, r.body,
                     r.message_id, r.skipped
              FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id
              WHERE c.user_id = $1 AND r.campaign_id || ' ' || r.peer > $2
              ORDER BY r.campaign_id || ' ' || r.peer",
    },
    Table {
        name: "push_devices",
        sql: "SELECT id, device, endpoint, created_at, last_used_at FROM push_subscriptions
              WHERE user_id = $1 AND id > $2 ORDER BY id",
    },
    Table {
        name: "sessions",
        sql: "SELECT id, user_agent, ip, created_at, last_seen_at, expires_at FROM sessions
              WHERE user_id = $1 AND id > $2 ORDER BY id",
    },
    Table {
        name: "passkeys",
        sql: "SELECT id, name, credential_id, created_at, last_used_at FROM passkeys
              WHERE user_id = $1 AND id > $2 ORDER BY id",
    },
    Table {
        name: "google_links",
        sql: "SELECT subject AS id, issuer, email, linked_at FROM google_links
              WHERE user_id = $1 AND subject > $2 ORDER BY subject",
    },
    Table {
        name: "audit",
        sql: "SELECT id, at, action, detail, ip, user_agent, actor_id, subject_id FROM audit_log
              WHERE (subject_id = $1 OR actor_id = $1) AND id > $2 ORDER BY id",
    },
];

/// A row as column name → JSON value (integers, text or null), in the query's column order.
fn row_values(row: &sqlx::any::AnyRow) -> Vec<(String, serde_json::Value)> {
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let value = match row.try_get::<Option<i64>, _>(i) {
                Ok(Some(n)) => serde_json::Value::from(n),
                Ok(None) => serde_json::Value::Null,
                Err(_) => match row.try_get::<Option<String>, _>(i) {
                    Ok(Some(s)) => serde_json::Value::from(s),
                    _ => serde_json::Value::Null,
                },
            };
            (column.name().to_string(), value)
        })
        .collect()
}

fn csv_line(values: &[String]) -> String {
    let mut line = values
        .iter()
        .map(|v| crate::server::contacts::csv_field(v))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

type Zip<W> = ZipFileWriter<tokio_util::compat::Compat<W>>;

fn entry(name: &str) -> ZipEntryBuilder {
    ZipEntryBuilder::new(name.to_string().into(), Compression::Deflate)
}

fn zip_error(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("writing the export: {e}"))
}

/// Streams one table into `<name>.jsonl` and `<name>.csv` (two passes, a page at a time).
async fn write_table<W: tokio::io::AsyncWrite + Unpin>(
    zip: &mut Zip<W>,
    db: &Db,
    user_id: &UserId,
    table: &Table,
) -> AppResult<()> {
    for csv in [false, true] {
        let name = format!("{}.{}", table.name, if csv { "csv" } else { "jsonl" });
        let mut file = zip
            .write_entry_stream(entry(&name))
            .await
            .map_err(zip_error)?;
        let mut after = String::new();
        let mut header_written = false;
        loop {
            let sql = format!("{} LIMIT {PAGE}", table.sql);
            let rows = sqlx::query(&sql)
                .bind(user_id)
                .bind(&after)
                .fetch_all(db.pool())
                .await?;
            let mut chunk = String::new();
            for row in &rows {
                let values = row_values(row);
                if csv {
                    if !header_written {
                        let names: Vec<String> = values.iter().map(|(k, _)| k.clone()).collect();
                        chunk.push_str(&csv_line(&names));
                        header_written = true;
                    }
                    let cells: Vec<String> = values
                        .iter()
                        .map(|(_, v)| match v {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Null => String::new(),
                            other => other.to_string(),
                        })
                        .collect();
                    chunk.push_str(&csv_line(&cells));
                } else {
                    let object: serde_json::Map<String, serde_json::Value> =
                        values.into_iter().collect();
                    chunk.push_str(&serde_json::Value::Object(object).to_string());
                    chunk.push('\n');
                }
            }
            file.write_all(chunk.as_bytes()).await.map_err(zip_error)?;
            let Some(last) = rows.last() else { break };
            after = last.try_get::<String, _>(0)?;
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        file.close().await.map_err(zip_error)?;
    }
    Ok(())
}

/// Writes the user's whole export as a zip into `out`.
pub async fn write_zip<W: tokio::io::AsyncWrite + Unpin>(
    state: &AppState,
    user_id: &UserId,
    out: W,
) -> AppResult<()> {
    let db = &state.db;
    let mut zip = ZipFileWriter::with_tokio(out);
    let (id, email, display_name, role, created_at): (String, String, String, String, i64) =
        sqlx::query_as("SELECT id, email, display_name, role, created_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(db.pool())
            .await?;
    let mut account = BTreeMap::new();
    account.insert("format", serde_json::json!("switchboard-export"));
    account.insert("version", serde_json::json!(FORMAT_VERSION));
    account.insert("exported_at", serde_json::json!(now_ms()));
    account.insert(
        "user",
        serde_json::json!({"id": id, "email": email, "name": display_name, "role": role, "created_at": created_at}),
    );
    let retention = crate::server::retention::view(db, user_id).await?;
    account.insert(
        "retention",
        serde_json::to_value(&retention).map_err(AppError::internal)?,
    );
    let json = serde_json::to_vec_pretty(&account).map_err(AppError::internal)?;
    zip.write_entry_whole(entry("README.txt"), README.as_bytes())
        .await
        .map_err(zip_error)?;
    zip.write_entry_whole(entry("account.json"), &json)
        .await
        .map_err(zip_error)?;

    // Contacts as the Contacts page exports them, and as JSON with everything each holds.
    let contacts = crate::server::contacts::every_contact(db, user_id).await?;
    let json = serde_json::to_vec_pretty(&contacts).map_err(AppError::internal)?;
    zip.write_entry_whole(entry("contacts.json"), &json)
        .await
        .map_err(zip_error)?;
    let csv = crate::server::contacts::export_csv(db, user_id).await?;
    zip.write_entry_whole(entry("contacts.csv"), csv.as_bytes())
        .await
        .map_err(zip_error)?;
    let vcf = crate::server::contacts::export_vcard(db, user_id).await?;
    zip.write_entry_whole(entry("contacts.vcf"), vcf.as_bytes())
        .await
        .map_err(zip_error)?;

    for table in TABLES {
        write_table(&mut zip, db, user_id, table).await?;
    }

    // The files themselves: pictures and voicemails, one at a time.
    let mut after = String::new();
    loop {
        let ids: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT id FROM media WHERE user_id = $1 AND state = 'stored' AND id > $2
             ORDER BY id LIMIT {PAGE}"
        ))
        .bind(user_id)
        .bind(&after)
        .fetch_all(db.pool())
        .await?;
        for (id,) in &ids {
            match state.media.get(id).await {
                Ok(bytes) => {
                    // Pictures and recordings are compressed already.
                    let stored =
                        ZipEntryBuilder::new(format!("media/{id}").into(), Compression::Stored);
                    zip.write_entry_whole(stored, &bytes)
                        .await
                        .map_err(zip_error)?;
                }
                Err(e) => {
                    tracing::warn!(media = %id, error = %e, "a media file is missing from an export")
                }
            }
        }
        let Some((last,)) = ids.last() else { break };
        after = last.clone();
        if (ids.len() as i64) < PAGE {
            break;
        }
    }
    zip.close().await.map_err(zip_error)?;
    Ok(())
}

/// `GET /export/{token}`: the signed-in user's export, once per link.
pub async fn download(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: Option<axum::Extension<crate::server::accounts::sessions::Authenticated>>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let Some(axum::Extension(auth)) = auth else {
        return AppError::Unauthorized.into_response();
    };
    let user_id = auth.user_id();
    if let Err(e) = take_link(&state.db, &token, &user_id).await {
        return e.into_response();
    }
    // The zip is written into one end of a pipe while the response reads the other: a slow
    // download holds the writer back, never the whole archive in memory.
    let (reader, writer) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Err(e) = write_zip(&state, &user_id, writer).await {
            // The download ends short (the client sees a broken zip, not a whole one).
            tracing::warn!(error = ?e, "an export failed midway");
        }
    });
    let day = chrono::Utc::now().format("%Y-%m-%d");
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"switchboard-export-{day}.zip\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(reader)),
    )
        .into_response()
}
