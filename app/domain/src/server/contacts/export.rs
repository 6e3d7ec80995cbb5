//! Exporting contacts: CSV that the importer reads back as it was, and vCard 3.0 (RFC 2426)
//! for phones and address books.

use super::{assemble, ContactRow, CONTACT_COLUMNS};
use crate::error::AppResult;
use crate::server::ids::UserId;
use crate::server::Db;
use crate::types::Contact;

/// Contacts read per query while exporting.
const PAGE: i64 = 1_000;

/// Every contact of the user, by name, a page at a time.
pub async fn every_contact(db: &Db, user_id: &UserId) -> AppResult<Vec<Contact>> {
    let mut all = Vec::new();
    let mut after = (String::new(), String::new());
    loop {
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.user_id = $1
             AND (LOWER(c.name) > $2 OR (LOWER(c.name) = $2 AND c.id > $3))
             ORDER BY LOWER(c.name), c.id LIMIT {PAGE}"
        ))
        .bind(user_id)
        .bind(&after.0)
        .bind(&after.1)
        .fetch_all(db.pool())
        .await?;
        let Some(last) = rows.last() else { break };
        after = (last.1.to_lowercase(), last.0.to_string());
        let full = rows.len() as i64 == PAGE;
        all.extend(assemble(db, user_id, rows).await?);
        if !full {
            break;
        }
    }
    Ok(all)
}

/// A CSV field, quoted when it must be; a leading `=`, `+`, `-` or `@` gets a `'` so a
/// spreadsheet opening the file shows it rather than running it as a formula.
pub fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) && !is_phone_number(value) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ') {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// `+12125550123`: an E.164 number is not a formula.
fn is_phone_number(value: &str) -> bool {
    value.len() > 1 && value.starts_with('+') && value[1..].chars().all(|c| c.is_ascii_digit())
}

/// The user's contacts as CSV: Name, Phone 1…n, Email, Company, Notes, Tags, then one
/// column per custom field.
pub async fn export_csv(db: &Db, user_id: &UserId) -> AppResult<String> {
    let contacts = every_contact(db, user_id).await?;
    let phones = contacts
        .iter()
        .map(|c| c.numbers.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut field_names: Vec<String> = Vec::new();
    for contact in &contacts {
        for field in &contact.fields {
            if !field_names
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&field.name))
            {
                field_names.push(field.name.clone());
            }
        }
    }
    let mut header = vec!["Name".to_string()];
    header.extend((1..=phones).map(|i| format!("Phone {i}")));
    header.extend(["Email", "Company", "Notes", "Tags"].map(String::from));
    header.extend(field_names.iter().cloned());
    let mut out = String::new();
    let line = |out: &mut String, values: &[String]| {
        let fields: Vec<String> = values.iter().map(|v| csv_field(v)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    };
    line(&mut out, &header);
    for contact in &contacts {
        let mut values = vec![contact.name.clone()];
        values.extend((0..phones).map(|i| contact.numbers.get(i).cloned().unwrap_or_default()));
        values.extend([
            contact.email.clone(),
            contact.company.clone(),
            contact.notes.clone(),
            contact.tags.join(", "),
        ]);
        values.extend(field_names.iter().map(|name| {
            contact
                .fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name))
                .map(|f| f.value.clone())
                .unwrap_or_default()
        }));
        line(&mut out, &values);
    }
    Ok(out)
}

/// A vCard text value: backslash, comma, semicolon and newlines escaped (RFC 2426 §4).
fn vcard_text(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(';', "\\;")
        .replace("\r\n", "\\n")
        .replace(['\n', '\r'], "\\n")
}

/// A content line folded at 75 octets (continuation lines start with a space), never
/// inside a character.
fn folded(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// The user's contacts as vCard 3.0, one card each.
pub async fn export_vcard(db: &Db, user_id: &UserId) -> AppResult<String> {
    let contacts = every_contact(db, user_id).await?;
    let mut out = String::new();
    for contact in &contacts {
        folded("BEGIN:VCARD", &mut out);
        folded("VERSION:3.0", &mut out);
        folded(&format!("FN:{}", vcard_text(&contact.name)), &mut out);
        folded(&format!("N:{};;;;", vcard_text(&contact.name)), &mut out);
        for number in &contact.numbers {
            folded(&format!("TEL;TYPE=CELL:{number}"), &mut out);
        }
        if !contact.email.is_empty() {
            folded(
                &format!("EMAIL;TYPE=INTERNET:{}", vcard_text(&contact.email)),
                &mut out,
            );
        }
        if !contact.company.is_empty() {
            folded(&format!("ORG:{}", vcard_text(&contact.company)), &mut out);
        }
        let mut note = contact.notes.clone();
        for field in &contact.fields {
            if !note.is_empty() {
                note.push('\n');
            }
            note.push_str(&format!("{}: {}", field.name, field.value));
        }
        if !note.is_empty() {
            folded(&format!("NOTE:{}", vcard_text(&note)), &mut out);
        }
        if !contact.tags.is_empty() {
            let tags: Vec<String> = contact.tags.iter().map(|t| vcard_text(t)).collect();
            folded(&format!("CATEGORIES:{}", tags.join(",")), &mut out);
        }
        folded("END:VCARD", &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Ada"), "Ada");
        assert_eq!(csv_field("Lovelace, Ada"), "\"Lovelace, Ada\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+12125550123"), "+12125550123");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
    }

    #[test]
    fn vcard_lines_are_escaped_and_folded() {
        assert_eq!(vcard_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        let mut out = String::new();
        folded(&format!("NOTE:{}", "é".repeat(50)), &mut out);
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{line}");
        }
        let unfolded = out.replace("\r\n ", "").replace("\r\n", "");
        assert_eq!(unfolded, format!("NOTE:{}", "é".repeat(50)));
    }
}
