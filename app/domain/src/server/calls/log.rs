//! The call log: every call in and out with how it went, and the count of missed calls
//! not seen yet.

use crate::error::AppResult;
use crate::server::events::EventBus;
use crate::server::ids::UserId;
use crate::server::{now_ms, phone, AppState, Db};
use crate::types::{CallLogEntry, LiveEvent};

/// The call log shows this many of the latest calls.
const LOG_LIMIT: i64 = 200;

/// An outcome in the words the log shows.
pub(super) fn outcome_words(direction: &str, outcome: Option<&str>, live: bool) -> &'static str {
    match (direction, outcome) {
        (_, None) if live => "In progress",
        (_, Some("answered")) => "Answered",
        ("out", Some("missed")) => "No answer",
        (_, Some("missed")) => "Missed",
        (_, Some("declined")) => "Declined",
        (_, Some("cancelled")) => "Cancelled",
        _ => "Failed",
    }
}

type LogRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Longest search the log takes.
pub const SEARCH_MAX_CHARS: usize = 100;

/// The user's latest calls, newest first; with `search`, those with a contact whose name
/// holds it, or a voicemail whose transcript does, or whose numbers (theirs or ours) hold
/// its digits (three or more).
pub async fn log(db: &Db, user_id: &UserId, search: &str) -> AppResult<Vec<CallLogEntry>> {
    let search = search.trim();
    if search.chars().count() > SEARCH_MAX_CHARS {
        return Err(crate::error::AppError::invalid(format!(
            "Search for at most {SEARCH_MAX_CHARS} characters."
        )));
    }
    let digits: String = search.chars().filter(|c| c.is_ascii_digit()).collect();
    let rows: Vec<LogRow> = sqlx::query_as(
        "SELECT c.id, c.direction, c.peer, c.number_id, c.number_e164, c.outcome, c.created_at,
                c.answered_at, c.ended_at, cv.id, c.voicemail_media_id, c.transcript, c.reason
         FROM calls c
         LEFT JOIN conversations cv ON cv.number_id = c.number_id AND cv.peer = c.peer
         WHERE c.user_id = $1
           AND ($3 = '' OR ($4 <> '' AND (c.peer LIKE $4 OR c.number_e164 LIKE $4))
                OR c.peer IN (SELECT n.e164 FROM contact_numbers n
                              JOIN contacts ct ON ct.id = n.contact_id
                              WHERE n.user_id = $1 AND LOWER(ct.name) LIKE $5 ESCAPE '\\')
                OR LOWER(c.transcript) LIKE $5 ESCAPE '\\')
         ORDER BY c.created_at DESC, c.id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(LOG_LIMIT)
    .bind(search)
    .bind(if digits.len() >= 3 {
        format!("%{digits}%")
    } else {
        String::new()
    })
    .bind(format!(
        "%{}%",
        crate::server::db::escape_like(&search.to_lowercase())
    ))
    .fetch_all(db.pool())
    .await?;
    let entries: Vec<CallLogEntry> = rows
        .into_iter()
        .map(
            |(
                id,
                direction,
                peer,
                number_id,
                number,
                outcome,
                created_at,
                answered_at,
                ended_at,
                conversation_id,
                voicemail_id,
                transcript,
                reason,
            )| {
                let region = phone::region_of(&number).unwrap_or_else(|| "US".into());
                CallLogEntry {
                    outcome: outcome_words(&direction, outcome.as_deref(), ended_at.is_none())
                        .into(),
                    duration_secs: answered_at
                        .zip(ended_at)
                        .map(|(from, to)| (to - from).max(0) / 1000),
                    peer_display: phone::display(&peer, &region),
                    number_display: phone::display(&number, &region),
                    id,
                    direction,
                    peer,
                    number_id,
                    created_at,
                    conversation_id,
                    voicemail_id,
                    transcript,
                    reason,
                }
            },
        )
        .collect();
    with_names(db, user_id, entries, |e| &mut e.peer_display, |e| &e.peer).await
}

/// Puts the user's contact names to the peers of `items`.
pub(super) async fn with_names<T>(
    db: &Db,
    user_id: &UserId,
    mut items: Vec<T>,
    name: impl Fn(&mut T) -> &mut String,
    peer: impl Fn(&T) -> &String,
) -> AppResult<Vec<T>> {
    let peers: Vec<&str> = items.iter().map(|i| peer(i).as_str()).collect();
    let names = crate::server::contacts::names_of(db, user_id, &peers).await?;
    for item in &mut items {
        if let Some(found) = names.get(peer(item).as_str()) {
            *name(item) = found.clone();
        }
    }
    Ok(items)
}

/// Missed calls the user has not seen in the log yet (counted in the navigation).
pub async fn unseen_missed(db: &Db, user_id: &UserId) -> AppResult<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM calls WHERE user_id = $1 AND direction = 'in'
         AND outcome = 'missed' AND seen_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(db.pool())
    .await?;
    Ok(n)
}

/// The log was opened: its missed calls are seen.
pub async fn mark_seen(state: &AppState, user_id: &UserId) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE calls SET seen_at = $1 WHERE user_id = $2 AND outcome = 'missed' AND seen_at IS NULL",
    )
    .bind(now_ms())
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let published = if done.rows_affected() > 0 {
        vec![EventBus::record(&mut tx, user_id, &LiveEvent::Calls).await?]
    } else {
        Vec::new()
    };
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(())
}
