//! Contacts: a user's people by name. A number belongs to at most one of a user's contacts,
//! which is how the inbox, the call log and alerts put a name to a peer. `import` reads CSV
//! files; `export` writes CSV and vCard.

mod export;
mod import;
pub mod routes;

pub use export::*;
pub use import::*;

use std::collections::HashMap;

use sqlx::{Any, Transaction};

use super::events::EventBus;
use super::ids::{ContactId, UserId, E164};
use super::{crypto, now_ms, phone, AppState, Db};
use crate::error::{AppError, AppResult};
use crate::types::{Contact, ContactField, LiveEvent};

/// Contacts one user may keep (a 100,000-row import fits).
pub const MAX_CONTACTS: i64 = 100_000;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_COMPANY_CHARS: usize = 100;
pub const MAX_NOTES_CHARS: usize = 2_000;
pub const MAX_NUMBERS: usize = 10;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 40;
pub const MAX_FIELDS: usize = 20;
pub const MAX_FIELD_NAME_CHARS: usize = 40;
pub const MAX_FIELD_VALUE_CHARS: usize = 500;
/// Most contacts one list or search answers with.
pub const LIST_LIMIT: i64 = 500;

/// A contact as someone typed it (a form, or a row of a CSV file), before it is checked.
#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    pub name: String,
    /// As typed; national numbers are read as in the user's region.
    pub numbers: Vec<String>,
    pub email: String,
    pub company: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub fields: Vec<(String, String)>,
}

/// A contact that passed every check, numbers in E.164.
#[derive(Debug, Clone)]
pub struct CheckedContact {
    pub name: String,
    pub numbers: Vec<E164>,
    pub email: String,
    pub company: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub fields: Vec<(String, String)>,
}

/// A one-line field (a name, an email, a company, a custom field) holds no line breaks or
/// other control characters.
fn one_line(what: &str, value: &str) -> AppResult<()> {
    if value.chars().any(char::is_control) {
        return Err(AppError::invalid(format!(
            "{what} can't contain line breaks."
        )));
    }
    Ok(())
}

fn too_long(what: &str, value: &str, max: usize) -> AppResult<()> {
    if value.chars().count() > max {
        return Err(AppError::invalid(format!(
            "{what} can be at most {max} characters."
        )));
    }
    Ok(())
}

/// Splits "vip, customers; 2024" into tags: trimmed, lowercase, no duplicates.
pub fn split_tags(text: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in text.split([',', ';']) {
        let tag = tag.trim().to_lowercase();
        if !tag.is_empty() && !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

impl ContactInput {
    /// Checks every field; numbers are parsed as in `region`. Nothing is written.
    pub fn check(self, region: &str) -> AppResult<CheckedContact> {
        let name = self.name.trim().to_string();
        if name.is_empty() {
            return Err(AppError::invalid("Give the contact a name."));
        }
        too_long("A name", &name, MAX_NAME_CHARS)?;
        one_line("A name", &name)?;
        let email = self.email.trim().to_string();
        too_long("An email address", &email, MAX_EMAIL_CHARS)?;
        one_line("An email address", &email)?;
        if !email.is_empty() && !plausible_email(&email) {
            return Err(AppError::invalid(format!(
                "\u{201c}{email}\u{201d} is not an email address."
            )));
        }
        let company = self.company.trim().to_string();
        too_long("A company", &company, MAX_COMPANY_CHARS)?;
        one_line("A company", &company)?;
        let notes = self.notes.trim().to_string();
        too_long("Notes", &notes, MAX_NOTES_CHARS)?;
        let typed: Vec<&str> = self
            .numbers
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        if typed.len() > MAX_NUMBERS {
            return Err(AppError::invalid(format!(
                "A contact can have at most {MAX_NUMBERS} numbers."
            )));
        }
        let mut numbers: Vec<E164> = Vec::new();
        for number in typed {
            let e164 = E164::parse(number, region)?;
            if !numbers.contains(&e164) {
                numbers.push(e164);
            }
        }
        let mut tags: Vec<String> = Vec::new();
        for tag in self.tags.iter().flat_map(|t| split_tags(t)) {
            too_long("A tag", &tag, MAX_TAG_CHARS)?;
            one_line("A tag", &tag)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(AppError::invalid(format!(
                "A contact can have at most {MAX_TAGS} tags."
            )));
        }
        let mut fields: Vec<(String, String)> = Vec::new();
        for (field, value) in self.fields {
            let (field, value) = (field.trim().to_string(), value.trim().to_string());
            if field.is_empty() && value.is_empty() {
                continue;
            }
            if field.is_empty() {
                return Err(AppError::invalid("Give each custom field a name."));
            }
            too_long("A field's name", &field, MAX_FIELD_NAME_CHARS)?;
            too_long("A field's value", &value, MAX_FIELD_VALUE_CHARS)?;
            one_line("A field's name", &field)?;
            one_line("A field's value", &value)?;
            if fields.iter().any(|(f, _)| f.eq_ignore_ascii_case(&field)) {
                return Err(AppError::invalid(format!(
                    "The field \u{201c}{field}\u{201d} is there twice."
                )));
            }
            fields.push((field, value));
        }
        if fields.len() > MAX_FIELDS {
            return Err(AppError::invalid(format!(
                "A contact can have at most {MAX_FIELDS} custom fields."
            )));
        }
        Ok(CheckedContact {
            name,
            numbers,
            email,
            company,
            notes,
            tags,
            fields,
        })
    }
}

/// Something@something.something, without spaces: enough to catch a wrong column; mail
/// servers judge the rest.
fn plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>')
                && !domain.contains('@')
        }
        None => false,
    }
}

/// The region a user's typed national numbers are read in: that of their first number.
pub async fn region_of_user(db: &Db, user_id: &UserId) -> AppResult<String> {
    let first: Option<(String,)> = sqlx::query_as(
        "SELECT e164 FROM phone_numbers WHERE user_id = $1 ORDER BY created_at LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(first
        .and_then(|(e164,)| phone::region_of(&e164))
        .unwrap_or_else(|| "US".into()))
}

type ContactRow = (ContactId, String, String, String, String, String);

/// Reads contacts by id with their numbers and tags, in the order of `rows`.
async fn assemble(db: &Db, user_id: &UserId, rows: Vec<ContactRow>) -> AppResult<Vec<Contact>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&ContactId> = rows.iter().map(|r| &r.0).collect();
    let mut numbers_of =
        by_contact(db, user_id, &ids, "e164", "contact_numbers", "position").await?;
    let mut tags_of = by_contact(db, user_id, &ids, "tag", "contact_tags", "tag").await?;
    let region = region_of_user(db, user_id).await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, email, company, notes, fields)| {
            let numbers = numbers_of.remove(&id).unwrap_or_default();
            Contact {
                numbers_display: numbers.iter().map(|n| phone::display(n, &region)).collect(),
                numbers,
                tags: tags_of.remove(&id).unwrap_or_default(),
                fields: parse_fields(&fields)
                    .into_iter()
                    .map(|(name, value)| ContactField { name, value })
                    .collect(),
                id: id.into_string(),
                name,
                email,
                company,
                notes,
            }
        })
        .collect())
}

/// `column` of `table`'s rows for each of `ids` (in `order`), by contact.
async fn by_contact(
    db: &Db,
    user_id: &UserId,
    ids: &[&ContactId],
    column: &str,
    table: &str,
    order: &str,
) -> AppResult<HashMap<ContactId, Vec<String>>> {
    let sql = format!(
        "SELECT contact_id, {column} FROM {table} WHERE user_id = $1 AND contact_id IN ({})
         ORDER BY {order}",
        super::db::placeholders(2, ids.len())
    );
    let mut query = sqlx::query_as(&sql).bind(user_id);
    for id in ids {
        query = query.bind(*id);
    }
    let rows: Vec<(ContactId, String)> = query.fetch_all(db.pool()).await?;
    let mut found: HashMap<ContactId, Vec<String>> = HashMap::new();
    for (id, value) in rows {
        found.entry(id).or_default().push(value);
    }
    Ok(found)
}

fn parse_fields(json: &str) -> Vec<(String, String)> {
    serde_json::from_str::<Vec<(String, String)>>(json).unwrap_or_default()
}

fn fields_json(fields: &[(String, String)]) -> String {
    serde_json::to_string(fields).unwrap_or_else(|_| "[]".into())
}

const CONTACT_COLUMNS: &str = "c.id, c.name, c.email, c.company, c.notes, c.fields";

/// The user's contacts by name, or those matching `query` (in the name, company, email,
/// a tag, or the digits of a number).
pub async fn list(db: &Db, user_id: &UserId, query: &str) -> AppResult<Vec<Contact>> {
    let query = query.trim();
    too_long("A search", query, 100)?;
    let rows: Vec<ContactRow> = if query.is_empty() {
        sqlx::query_as(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.user_id = $1
             ORDER BY LOWER(c.name), c.id LIMIT {LIST_LIMIT}"
        ))
        .bind(user_id)
        .fetch_all(db.pool())
        .await?
    } else {
        let like = format!("%{}%", super::db::escape_like(&query.to_lowercase()));
        let digits: String = query.chars().filter(|c| c.is_ascii_digit()).collect();
        // Three digits or more match anywhere in a number; fewer match no number.
        let digits_like = if digits.len() >= 3 {
            format!("%{digits}%")
        } else {
            String::new()
        };
        sqlx::query_as(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.user_id = $1 AND (
                 LOWER(c.name) LIKE $2 ESCAPE '\\' OR LOWER(c.company) LIKE $2 ESCAPE '\\'
                 OR LOWER(c.email) LIKE $2 ESCAPE '\\'
                 OR EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag LIKE $2 ESCAPE '\\')
                 OR ($3 <> '' AND EXISTS (SELECT 1 FROM contact_numbers n
                                          WHERE n.contact_id = c.id AND n.e164 LIKE $3)))
             ORDER BY LOWER(c.name), c.id LIMIT {LIST_LIMIT}"
        ))
        .bind(user_id)
        .bind(like)
        .bind(digits_like)
        .fetch_all(db.pool())
        .await?
    };
    assemble(db, user_id, rows).await
}

/// One contact; another user's is "not found".
pub async fn get(db: &Db, user_id: &UserId, id: &ContactId) -> AppResult<Contact> {
    let rows: Vec<ContactRow> = sqlx::query_as(&format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.id = $1 AND c.user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    assemble(db, user_id, rows)
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found("That contact"))
}

/// The contact names of `peers` (E.164) for this user, where they have one.
pub async fn names_of(
    db: &Db,
    user_id: &UserId,
    peers: &[&str],
) -> AppResult<HashMap<String, String>> {
    let mut names = HashMap::new();
    for chunk in peers.chunks(500) {
        let sql = format!(
            "SELECT n.e164, c.name FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id
             WHERE n.user_id = $1 AND n.e164 IN ({})",
            super::db::placeholders(2, chunk.len())
        );
        let mut query = sqlx::query_as(&sql).bind(user_id);
        for peer in chunk {
            query = query.bind(*peer);
        }
        let rows: Vec<(String, String)> = query.fetch_all(db.pool()).await?;
        names.extend(rows);
    }
    Ok(names)
}

/// How `peer` is named to `user_id` in an alert: their contact name, or the number as
/// people in `region` read it.
pub async fn alert_name(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    peer: &str,
    region: &str,
) -> AppResult<String> {
    let name: Option<(String,)> = sqlx::query_as(
        "SELECT c.name FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id
         WHERE n.user_id = $1 AND n.e164 = $2",
    )
    .bind(user_id)
    .bind(peer)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(name
        .map(|(name,)| name)
        .unwrap_or_else(|| phone::display(peer, region)))
}

/// Whose number `e164` already is among this user's contacts (other than `except`).
async fn owner_of_number(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    e164: &E164,
    except: Option<&ContactId>,
) -> AppResult<Option<String>> {
    let row: Option<(ContactId, String)> = sqlx::query_as(
        "SELECT c.id, c.name FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id
         WHERE n.user_id = $1 AND n.e164 = $2",
    )
    .bind(user_id)
    .bind(e164)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row
        .filter(|(id, _)| Some(id) != except)
        .map(|(_, name)| name))
}

/// Writes a checked contact's numbers and tags (replacing any it had).
async fn write_parts(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    id: &ContactId,
    contact: &CheckedContact,
) -> AppResult<()> {
    sqlx::query("DELETE FROM contact_numbers WHERE contact_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if !contact.numbers.is_empty() {
        let sql = format!(
            "INSERT INTO contact_numbers (user_id, e164, contact_id, position) VALUES {}",
            super::db::value_rows(contact.numbers.len(), 4)
        );
        let mut insert = sqlx::query(&sql);
        for (position, number) in contact.numbers.iter().enumerate() {
            insert = insert
                .bind(user_id)
                .bind(number)
                .bind(id)
                .bind(position as i64);
        }
        insert.execute(&mut **tx).await?;
    }
    if !contact.tags.is_empty() {
        let sql = format!(
            "INSERT INTO contact_tags (contact_id, user_id, tag) VALUES {}",
            super::db::value_rows(contact.tags.len(), 3)
        );
        let mut insert = sqlx::query(&sql);
        for tag in &contact.tags {
            insert = insert.bind(id).bind(user_id).bind(tag);
        }
        insert.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn count(tx: &mut Transaction<'_, Any>, user_id: &UserId) -> AppResult<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM contacts WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n)
}

/// Creates a contact (`id` None) or replaces one of the user's. Answers its id.
pub async fn save(
    state: &AppState,
    user_id: &UserId,
    id: Option<&ContactId>,
    input: ContactInput,
) -> AppResult<ContactId> {
    let region = region_of_user(&state.db, user_id).await?;
    let contact = input.check(&region)?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    super::throttle::lock_key(&mut tx, state.db.backend(), &format!("contacts:{user_id}")).await?;
    let id = match id {
        Some(id) => {
            let done = sqlx::query(
                "UPDATE contacts SET name = $1, email = $2, company = $3, notes = $4, fields = $5,
                 updated_at = $6 WHERE id = $7 AND user_id = $8",
            )
            .bind(&contact.name)
            .bind(&contact.email)
            .bind(&contact.company)
            .bind(&contact.notes)
            .bind(fields_json(&contact.fields))
            .bind(now)
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(AppError::not_found("That contact"));
            }
            id.clone()
        }
        None => {
            if count(&mut tx, user_id).await? >= MAX_CONTACTS {
                return Err(AppError::invalid(format!(
                    "You have {MAX_CONTACTS} contacts, the most one person can keep. Delete some first."
                )));
            }
            let id = ContactId::new(crypto::new_id());
            sqlx::query(
                "INSERT INTO contacts (id, user_id, name, email, company, notes, fields, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(&id)
            .bind(user_id)
            .bind(&contact.name)
            .bind(&contact.email)
            .bind(&contact.company)
            .bind(&contact.notes)
            .bind(fields_json(&contact.fields))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    for number in &contact.numbers {
        if let Some(other) = owner_of_number(&mut tx, user_id, number, Some(&id)).await? {
            let region = phone::region_of(number.as_str()).unwrap_or_else(|| "US".into());
            return Err(AppError::invalid(format!(
                "{} is already {other}\u{2019}s number.",
                phone::display(number.as_str(), &region)
            )));
        }
    }
    write_parts(&mut tx, user_id, &id, &contact).await?;
    let published = names_changed(&mut tx, user_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(id)
}

/// Names changed: the tabs showing conversations and calls show them again.
async fn names_changed(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
) -> AppResult<Vec<super::events::Published>> {
    Ok(vec![
        EventBus::record(tx, user_id, &LiveEvent::Conversations).await?,
        EventBus::record(tx, user_id, &LiveEvent::Calls).await?,
    ])
}

pub async fn delete(state: &AppState, user_id: &UserId, id: &ContactId) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let done = sqlx::query("DELETE FROM contacts WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That contact"));
    }
    let published = names_changed(&mut tx, user_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    Ok(())
}
