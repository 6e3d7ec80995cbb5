//! Importing contacts from a CSV file: a preview of its first rows with a guess of what each
//! column holds, then the whole file with the columns the user confirmed. Every row is
//! checked before anything is written; one bad row imports nothing and is named by its line.
//! A row whose number is already a contact's updates that contact.

use std::collections::HashMap;

use super::{CheckedContact, ContactInput, MAX_CONTACTS, MAX_NUMBERS};
use crate::error::{AppError, AppResult};
use crate::server::ids::{ContactId, UserId, E164};
use crate::server::{crypto, now_ms, AppState};
use crate::types::{ImportColumn, ImportError, ImportOutcome, ImportPreview};

/// Import files can be at most this big: 100,000 rows of a dozen columns fit.
pub const IMPORT_LIMIT: usize = 32 * 1024 * 1024;
/// The preview reads at most this much of the file's start (the browser sends no more).
pub const PREVIEW_LIMIT: usize = 64 * 1024;
pub const PREVIEW_ROWS: usize = 5;
pub const MAX_COLUMNS: usize = 50;
/// Rows an import may hold (beyond that the cap on contacts stops it anyway).
pub const MAX_ROWS: usize = MAX_CONTACTS as usize;
/// Bad rows reported at most (the first ones; the count says how many more).
pub const MAX_REPORTED_ERRORS: usize = 100;
/// Contacts written per statement.
const BATCH: usize = 500;

/// Excel writes a byte-order mark before "CSV UTF-8" files.
fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(without_bom(bytes))
}

/// What a column's header suggests it holds (one of [`ImportColumn::ROLES`] or `skip`).
pub fn guess_role(header: &str) -> &'static str {
    let h: String = header
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    match h.as_str() {
        "name" | "fullname" | "displayname" | "contact" | "contactname" => "name",
        "firstname" | "givenname" | "first" => "first_name",
        "lastname" | "familyname" | "surname" | "last" => "last_name",
        "email" | "emailaddress" | "mail" | "email1" => "email",
        "company" | "organization" | "organisation" | "business" | "companyname" => "company",
        "notes" | "note" | "comments" | "comment" => "notes",
        "tags" | "tag" | "labels" | "groups" | "group" => "tags",
        _ if h.contains("phone")
            || h.contains("mobile")
            || h.contains("cell")
            || h == "number"
            || h == "tel"
            || h.starts_with("telephone")
            || h == "sms" =>
        {
            "number"
        }
        "" => ImportColumn::SKIP,
        _ => "field",
    }
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).trim().to_string()
}

/// The file's first row: its column names.
fn header(records: &mut csv::ByteRecordsIntoIter<&[u8]>) -> AppResult<Vec<String>> {
    match records.next() {
        Some(Ok(header)) => Ok(header.iter().map(text).collect()),
        _ => Err(AppError::invalid(
            "That file is empty or is not a CSV file.",
        )),
    }
}

/// The header and first rows of a file's start (`bytes` may end mid-row).
pub fn preview(bytes: &[u8]) -> AppResult<ImportPreview> {
    let bytes = &bytes[..bytes.len().min(PREVIEW_LIMIT)];
    let mut records = reader(bytes).into_byte_records();
    let columns = header(&mut records)?;
    if columns.len() > MAX_COLUMNS {
        return Err(AppError::invalid(format!(
            "That file has {} columns; an import takes at most {MAX_COLUMNS}.",
            columns.len()
        )));
    }
    let sample: Vec<Vec<String>> = records
        .take(PREVIEW_ROWS)
        .filter_map(Result::ok)
        .map(|row| {
            (0..columns.len())
                .map(|i| row.get(i).map(text).unwrap_or_default())
                .collect()
        })
        .collect();
    Ok(ImportPreview {
        guessed: columns.iter().map(|c| guess_role(c).to_string()).collect(),
        columns,
        sample,
    })
}

/// Checks the roles the user gave the columns.
fn check_roles(roles: &[String], columns: usize) -> AppResult<()> {
    if roles.len() != columns {
        return Err(AppError::invalid(
            "Say what each column of the file holds (the file changed?).",
        ));
    }
    for role in roles {
        if role != ImportColumn::SKIP && !ImportColumn::ROLES.contains(&role.as_str()) {
            return Err(AppError::invalid(format!(
                "\u{201c}{role}\u{201d} is not a column kind."
            )));
        }
    }
    for single in [
        "name",
        "first_name",
        "last_name",
        "email",
        "company",
        "notes",
    ] {
        if roles.iter().filter(|r| *r == single).count() > 1 {
            return Err(AppError::invalid(format!(
                "Only one column can be the {}.",
                single.replace('_', " ")
            )));
        }
    }
    if !roles
        .iter()
        .any(|r| r == "name" || r == "first_name" || r == "last_name")
    {
        return Err(AppError::invalid("Choose the column that holds the names."));
    }
    Ok(())
}

/// A row turned into a contact as typed, by the columns' roles.
fn row_input(columns: &[String], roles: &[String], row: &[String]) -> ContactInput {
    let mut input = ContactInput::default();
    let (mut first, mut last) = (String::new(), String::new());
    for (i, role) in roles.iter().enumerate() {
        let value = row.get(i).cloned().unwrap_or_default();
        match role.as_str() {
            "name" => input.name = value,
            "first_name" => first = value,
            "last_name" => last = value,
            "number" => input.numbers.push(value),
            "email" => input.email = value,
            "company" => input.company = value,
            "notes" => input.notes = value,
            "tags" => input.tags.push(value),
            "field" if !value.is_empty() => input.fields.push((columns[i].clone(), value)),
            _ => {}
        }
    }
    if input.name.trim().is_empty() {
        input.name = format!("{} {}", first.trim(), last.trim())
            .trim()
            .to_string();
    }
    input
}

/// Line numbers as an editor shows them, from records' byte offsets (the csv crate's own
/// line count differs between LF, CRLF and CR files). Offsets only grow, so each byte of the
/// file is counted once.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line the byte at `offset` is on.
    fn at(&mut self, offset: u64) -> u64 {
        let mut offset = (offset as usize).min(self.bytes.len());
        // A record after blank lines starts where they do: its own line is after them.
        while matches!(self.bytes.get(offset), Some(b'\n' | b'\r')) {
            offset += 1;
        }
        if offset > self.offset {
            // A line ends at LF, at CRLF, or at a lone CR (old Mac files; csv reads them so).
            let span = &self.bytes[self.offset..offset];
            let ends = span
                .iter()
                .enumerate()
                .filter(|&(i, &b)| {
                    b == b'\n'
                        || (b == b'\r' && self.bytes.get(self.offset + i + 1) != Some(&b'\n'))
                })
                .count();
            self.line += ends as u64;
            self.offset = offset;
        }
        self.line
    }
}

/// The bad rows of a file: the first ones, and how many in all.
#[derive(Default)]
struct Problems {
    first: Vec<ImportError>,
    count: usize,
}

impl Problems {
    fn add(&mut self, line: u64, message: String) {
        self.count += 1;
        if self.first.len() < MAX_REPORTED_ERRORS {
            self.first.push(ImportError { line, message });
        }
    }
}

/// Checked rows, packed as JSON arrays one after another until they are written. As
/// structs, the 100,000 contacts of a large file took ~150 MB (a dozen small allocations
/// each); packed they take about what the file does. Pieces of at most `PIECE` bytes, so a
/// growing buffer is never copied whole. Checking first and writing after keeps the write
/// transaction as short as the writing (SQLite has one writer at a time).
#[derive(Default)]
pub struct Packed {
    pieces: Vec<Vec<u8>>,
    rows: usize,
}

const PIECE: usize = 1 << 20;

/// A checked row as JSON: `[line, name, numbers, email, company, notes, tags, fields]`
/// (an array, not an object: field names would double its size).
type PackedRow = (
    u64,
    String,
    Vec<E164>,
    String,
    String,
    String,
    Vec<String>,
    Vec<(String, String)>,
);

impl Packed {
    fn push(&mut self, line: u64, c: &CheckedContact) {
        if self.pieces.last().is_none_or(|p| p.len() >= PIECE) {
            self.pieces.push(Vec::with_capacity(PIECE + 4096));
        }
        let piece = self.pieces.last_mut().expect("a piece was just added");
        let row = (
            line, &c.name, &c.numbers, &c.email, &c.company, &c.notes, &c.tags, &c.fields,
        );
        // Writing to a Vec can't fail, and every field is a plain string.
        let _ = serde_json::to_writer(piece, &row);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The rows in file order, each with its line.
    pub fn rows(&self) -> impl Iterator<Item = AppResult<(u64, CheckedContact)>> + '_ {
        self.pieces.iter().flat_map(|piece| {
            serde_json::Deserializer::from_slice(piece)
                .into_iter::<PackedRow>()
                .map(|row| {
                    let (line, name, numbers, email, company, notes, tags, fields) =
                        row.map_err(|e| AppError::internal(format!("a packed import row: {e}")))?;
                    let contact = CheckedContact {
                        name,
                        numbers,
                        email,
                        company,
                        notes,
                        tags,
                        fields,
                    };
                    Ok((line, contact))
                })
        })
    }
}

/// An E.164 number as the integer its digits make (at most 15 digits): a set of 100,000 of
/// them takes 2 MB instead of 8.
fn number_key(number: &E164) -> u64 {
    number
        .as_str()
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
}

/// Every row of the file checked, or the bad rows by line. Pure: nothing is read or written.
/// CPU-bound for large files: callers on the async runtime run it with `spawn_blocking`.
pub fn check_rows(
    bytes: &[u8],
    roles: &[String],
    region: &str,
) -> AppResult<Result<Packed, (Vec<ImportError>, usize)>> {
    let mut records = reader(bytes).into_byte_records();
    let columns = header(&mut records)?;
    check_roles(roles, columns.len())?;
    let mut rows = Packed::default();
    let mut problems = Problems::default();
    let mut line_of_number: HashMap<u64, u64> = HashMap::new();
    let mut lines = LineCounter::new(without_bom(bytes));
    let mut seen = 0usize;
    for record in records {
        let (line, checked) = match record {
            Ok(record) => {
                let line = lines.at(record.position().map_or(0, |p| p.byte()));
                if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                    continue; // A blank line.
                }
                seen += 1;
                if seen > MAX_ROWS {
                    return Err(AppError::invalid(format!(
                        "An import can hold at most {MAX_ROWS} rows."
                    )));
                }
                let fields: Result<Vec<String>, _> = record
                    .iter()
                    .map(|f| std::str::from_utf8(f).map(|s| s.trim().to_string()))
                    .collect();
                let checked = match fields {
                    Ok(fields) => row_input(&columns, roles, &fields)
                        .check(region)
                        .map_err(|e| e.to_string()),
                    Err(_) => Err(
                        "This line is not UTF-8 text: save the file as \u{201c}CSV UTF-8\u{201d}."
                            .to_string(),
                    ),
                };
                (line, checked)
            }
            Err(e) => {
                // A broken quote swallows the rest of the file: stop at its line.
                let line = lines.at(e.position().map_or(0, |p| p.byte()));
                problems.add(line, "This line can't be read as CSV.".into());
                break;
            }
        };
        match checked {
            Ok(contact) => {
                let mut repeated = None;
                for number in &contact.numbers {
                    if let Some(first) = line_of_number.insert(number_key(number), line) {
                        repeated = Some((number.clone(), first));
                    }
                }
                match repeated {
                    Some((number, first)) => {
                        problems.add(line, format!("{number} is also on line {first}."))
                    }
                    // Once a row is bad nothing will be written: stop keeping rows.
                    None if problems.count == 0 => rows.push(line, &contact),
                    None => {}
                }
            }
            Err(why) => problems.add(line, why),
        }
    }
    if problems.count > 0 {
        return Ok(Err((problems.first, problems.count)));
    }
    Ok(Ok(rows))
}

/// Where a checked row goes: a new contact, or into the one that has its numbers already.
enum Destination {
    New,
    Into(ContactId),
}

/// Imports the file with the columns' `roles`: all rows, or (with any bad row) none.
pub async fn import(
    state: &AppState,
    user_id: &UserId,
    bytes: axum::body::Bytes,
    roles: Vec<String>,
) -> AppResult<ImportOutcome> {
    let region = super::region_of_user(&state.db, user_id).await?;
    let started = std::time::Instant::now();
    // Seconds of CPU for a large file: off the async runtime's threads.
    let checked = tokio::task::spawn_blocking(move || check_rows(&bytes, &roles, &region))
        .await
        .map_err(|_| AppError::internal("the import's check stopped"))??;
    let rows = match checked {
        Ok(rows) => rows,
        Err((errors, bad)) => return Ok(refused(errors, bad)),
    };
    let checked_in = started.elapsed();
    let mut tx = state.db.begin().await?;
    crate::server::throttle::lock_key(&mut tx, state.db.backend(), &format!("contacts:{user_id}"))
        .await?;
    // Which contact each of the user's numbers is, and how many numbers each contact has.
    let known: Vec<(String, ContactId)> =
        sqlx::query_as("SELECT e164, contact_id FROM contact_numbers WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
    let mut numbers_of: HashMap<ContactId, usize> = HashMap::new();
    for (_, id) in &known {
        *numbers_of.entry(id.clone()).or_default() += 1;
    }
    let contact_of: HashMap<String, ContactId> = known.into_iter().collect();

    // First where each row goes (nothing written: a conflict refuses the whole file) …
    let mut destinations = Vec::with_capacity(rows.len());
    let mut problems = Problems::default();
    for row in rows.rows() {
        let (line, contact) = row?;
        let mut matched: Vec<&ContactId> = contact
            .numbers
            .iter()
            .filter_map(|n| contact_of.get(n.as_str()))
            .collect();
        matched.dedup();
        match matched.as_slice() {
            [] => destinations.push(Destination::New),
            [id] => {
                let id = (*id).clone();
                let added = contact
                    .numbers
                    .iter()
                    .filter(|n| !contact_of.contains_key(n.as_str()))
                    .count();
                let total = numbers_of.entry(id.clone()).or_default();
                *total += added;
                if *total > MAX_NUMBERS {
                    problems.add(
                        line,
                        format!("This would give one contact more than {MAX_NUMBERS} numbers."),
                    );
                }
                destinations.push(Destination::Into(id));
            }
            _ => problems.add(
                line,
                "These numbers belong to different contacts already.".into(),
            ),
        }
    }
    let created = destinations
        .iter()
        .filter(|d| matches!(d, Destination::New))
        .count();
    let updated = destinations.len() - created;
    let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM contacts WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    if existing + created as i64 > MAX_CONTACTS {
        return Err(AppError::invalid(format!(
            "You have {existing} contacts; this file would add {created} more, beyond the {MAX_CONTACTS} one person can keep."
        )));
    }
    if problems.count > 0 {
        return Ok(refused(problems.first, problems.count));
    }

    // … then the writing, a batch of new contacts at a time.
    let now = now_ms();
    let mut fresh: Vec<CheckedContact> = Vec::with_capacity(BATCH);
    for (row, destination) in rows.rows().zip(destinations) {
        let (_, contact) = row?;
        match destination {
            Destination::New => {
                fresh.push(contact);
                if fresh.len() == BATCH {
                    insert_new(&mut tx, user_id, &fresh, now).await?;
                    fresh.clear();
                }
            }
            Destination::Into(id) => merge_into(&mut tx, user_id, &id, &contact, now).await?,
        }
    }
    insert_new(&mut tx, user_id, &fresh, now).await?;
    let published = super::names_changed(&mut tx, user_id).await?;
    tx.commit().await?;
    state.bus.announce(&state.db, published).await;
    tracing::info!(
        rows = created + updated,
        checked_ms = checked_in.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "contacts imported"
    );
    Ok(ImportOutcome {
        created: created as u64,
        updated: updated as u64,
        errors: Vec::new(),
    })
}

/// The answer for a file with bad rows: the first ones by line, and how many more.
fn refused(mut errors: Vec<ImportError>, bad: usize) -> ImportOutcome {
    if bad > errors.len() {
        errors.push(ImportError {
            line: 0,
            message: format!("… and {} more lines with problems.", bad - errors.len()),
        });
    }
    ImportOutcome {
        created: 0,
        updated: 0,
        errors,
    }
}

/// Writes new contacts (at most [`BATCH`]) with their numbers and tags.
async fn insert_new(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &UserId,
    batch: &[CheckedContact],
    now: i64,
) -> AppResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let ids: Vec<ContactId> = batch
        .iter()
        .map(|_| ContactId::new(crypto::new_id()))
        .collect();
    let sql = format!(
        "INSERT INTO contacts (id, user_id, name, email, company, notes, fields, created_at, updated_at)
         VALUES {}",
        crate::server::db::value_rows_sharing(
            batch.len(),
            &[None, Some(1), None, None, None, None, None, Some(2), Some(2)]
        )
    );
    let mut insert = sqlx::query(&sql).bind(user_id).bind(now);
    for (id, contact) in ids.iter().zip(batch) {
        insert = insert
            .bind(id)
            .bind(&contact.name)
            .bind(&contact.email)
            .bind(&contact.company)
            .bind(&contact.notes)
            .bind(super::fields_json(&contact.fields));
    }
    insert.execute(&mut **tx).await?;
    let numbers: Vec<(&ContactId, usize, &E164)> = ids
        .iter()
        .zip(batch)
        .flat_map(|(id, c)| c.numbers.iter().enumerate().map(move |(i, n)| (id, i, n)))
        .collect();
    for chunk in numbers.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO contact_numbers (user_id, e164, contact_id, position) VALUES {}",
            crate::server::db::value_rows_sharing(chunk.len(), &[Some(1), None, None, None])
        );
        let mut insert = sqlx::query(&sql).bind(user_id);
        for (id, position, number) in chunk {
            insert = insert.bind(*number).bind(*id).bind(*position as i64);
        }
        insert.execute(&mut **tx).await?;
    }
    let tags: Vec<(&ContactId, &String)> = ids
        .iter()
        .zip(batch)
        .flat_map(|(id, c)| c.tags.iter().map(move |t| (id, t)))
        .collect();
    for chunk in tags.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO contact_tags (contact_id, user_id, tag) VALUES {}",
            crate::server::db::value_rows_sharing(chunk.len(), &[None, Some(1), None])
        );
        let mut insert = sqlx::query(&sql).bind(user_id);
        for (id, tag) in chunk {
            insert = insert.bind(*id).bind(*tag);
        }
        insert.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A row for an existing contact: what it fills in replaces what was there; its numbers,
/// tags and fields are added.
async fn merge_into(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &UserId,
    id: &ContactId,
    contact: &CheckedContact,
    now: i64,
) -> AppResult<()> {
    let (fields,): (String,) = sqlx::query_as("SELECT fields FROM contacts WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    let mut fields = super::parse_fields(&fields);
    for (name, value) in &contact.fields {
        match fields
            .iter_mut()
            .find(|(f, _)| f.eq_ignore_ascii_case(name))
        {
            Some(field) => field.1 = value.clone(),
            None => fields.push((name.clone(), value.clone())),
        }
    }
    fields.truncate(super::MAX_FIELDS);
    sqlx::query(
        "UPDATE contacts SET name = $1, email = CASE WHEN $2 = '' THEN email ELSE $2 END,
         company = CASE WHEN $3 = '' THEN company ELSE $3 END,
         notes = CASE WHEN $4 = '' THEN notes ELSE $4 END, fields = $5, updated_at = $6
         WHERE id = $7 AND user_id = $8",
    )
    .bind(&contact.name)
    .bind(&contact.email)
    .bind(&contact.company)
    .bind(&contact.notes)
    .bind(super::fields_json(&fields))
    .bind(now)
    .bind(id)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    for (position, number) in contact.numbers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO contact_numbers (user_id, e164, contact_id, position) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, e164) DO NOTHING",
        )
        .bind(user_id)
        .bind(number)
        .bind(id)
        .bind(100 + position as i64)
        .execute(&mut **tx)
        .await?;
    }
    for tag in &contact.tags {
        sqlx::query(
            "INSERT INTO contact_tags (contact_id, user_id, tag) VALUES ($1, $2, $3)
             ON CONFLICT (contact_id, tag) DO NOTHING",
        )
        .bind(id)
        .bind(user_id)
        .bind(tag)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(list: &str) -> Vec<String> {
        list.split(',').map(String::from).collect()
    }

    fn bad_lines(file: &str) -> Vec<u64> {
        match check_rows(file.as_bytes(), &roles("name,number,notes"), "US").unwrap() {
            Ok(_) => vec![],
            Err((errors, _)) => errors.iter().map(|e| e.line).collect(),
        }
    }

    #[test]
    fn bad_rows_are_named_by_the_line_an_editor_shows() {
        for newline in ["\n", "\r\n", "\r"] {
            let file = [
                "Name,Phone,Notes",
                "Grace,2025550199,",
                "",
                "Bad,12,",
                "Katherine,2025550142,\"Notes on",
                "two lines\"",
                "Worse,x,",
            ]
            .join(newline);
            assert_eq!(bad_lines(&file), vec![4, 7], "{newline:?}");
            let with_bom = format!("\u{feff}{file}");
            assert_eq!(bad_lines(&with_bom), vec![4, 7]);
        }
    }

    #[test]
    fn a_number_on_two_lines_is_refused_with_both() {
        let file = "Name,Phone\nA,2025550199\nB,(202) 555-0199\n";
        let Err((errors, 1)) = check_rows(file.as_bytes(), &roles("name,number"), "US").unwrap()
        else {
            panic!("expected one bad row");
        };
        assert_eq!(errors[0].line, 3);
        assert!(errors[0].message.contains("also on line 2"), "{errors:?}");
    }

    #[test]
    fn an_unclosed_quote_stops_at_its_line() {
        let file = "Name,Phone\nA,2025550199\n\"B,2025550142\nC,2025550143\n";
        let found = check_rows(file.as_bytes(), &roles("name,number"), "US").unwrap();
        // csv reads an unclosed quote to the end of the file as one field: a name with
        // line breaks in it, refused on the line it starts.
        let Err((errors, _)) = found else {
            panic!("expected an error")
        };
        assert_eq!(errors[0].line, 3, "{errors:?}");
    }

    #[test]
    fn headers_are_guessed_and_odd_ones_become_fields() {
        for (header, role) in [
            ("Full Name", "name"),
            ("Given name", "first_name"),
            ("Surname", "last_name"),
            ("Mobile Phone", "number"),
            ("Phone 2", "number"),
            ("E-mail Address", "email"),
            ("Organization", "company"),
            ("Labels", "tags"),
            ("Birthday", "field"),
            ("", "skip"),
        ] {
            assert_eq!(guess_role(header), role, "{header}");
        }
    }

    #[test]
    fn first_and_last_names_join() {
        let columns = roles("First,Last,Phone");
        let input = row_input(
            &columns,
            &roles("first_name,last_name,number"),
            &roles("Grace,Hopper,2025550199"),
        );
        assert_eq!(input.name, "Grace Hopper");
        let input = row_input(
            &columns,
            &roles("first_name,last_name,number"),
            &roles(",Hopper,"),
        );
        assert_eq!(input.name, "Hopper");
    }

    #[test]
    fn a_preview_of_a_cut_file_shows_what_it_has() {
        let mut file = String::from("Name,Phone\n");
        for i in 0..5000 {
            file.push_str(&format!("Person {i},20255501{:02}\n", i % 100));
        }
        let seen = preview(&file.as_bytes()[..PREVIEW_LIMIT]).unwrap();
        assert_eq!(seen.columns, vec!["Name", "Phone"]);
        assert_eq!(seen.sample.len(), PREVIEW_ROWS);
        assert!(preview("".as_bytes()).is_err());
        let wide = (0..=MAX_COLUMNS)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(preview(wide.as_bytes()).is_err());
    }
}

/// Arbitrary bytes and CSV-like text, with arbitrary column roles: the importer answers,
/// never panics. The unit suite runs a few hundred cases; `scripts/bench` (`fuzz`) runs
/// `fuzz_for_minutes` for `FUZZ_SECONDS` (300).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::Config;

    fn file() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..600),
            "[a-zA-Z0-9,;\"' \r\n+()\\-@.\u{feff}é😀]{0,600}".prop_map(String::into_bytes),
            proptest::collection::vec(
                "[A-Za-z ]{0,8},\\(?[0-9]{3}\\)? ?[0-9]{3}-?[0-9]{4},[a-z@.]{0,10}",
                1..30
            )
            .prop_map(|rows| format!("Name,Phone,Email\n{}", rows.join("\n")).into_bytes()),
        ]
    }

    fn roles() -> impl Strategy<Value = Vec<String>> {
        let role = prop_oneof![
            Just("name".to_string()),
            Just("first_name".to_string()),
            Just("number".to_string()),
            Just("tags".to_string()),
            Just("field".to_string()),
            Just("email".to_string()),
            Just("skip".to_string()),
            "[a-z_]{0,12}",
        ];
        proptest::collection::vec(role, 0..6)
    }

    fn never_panics(bytes: &[u8], roles: &[String]) {
        let _ = preview(bytes);
        if let Ok(Ok(rows)) = check_rows(bytes, roles, "US") {
            for row in rows.rows() {
                let (line, contact) = row.expect("packed rows unpack");
                assert!(line >= 2, "a row is never on the header's line");
                assert!(!contact.name.is_empty());
            }
        }
    }

    proptest! {
        #![proptest_config(Config { cases: 300, ..Config::default() })]
        #[test]
        fn the_importer_never_panics(bytes in file(), roles in roles()) {
            never_panics(&bytes, &roles);
        }
    }

    #[test]
    #[ignore = "a long fuzz run: scripts/bench runs it"]
    fn fuzz_for_minutes() {
        crate::server::fuzzing::for_minutes("csv importer", (file(), roles()), |(bytes, roles)| {
            never_panics(&bytes, &roles)
        });
    }
}
