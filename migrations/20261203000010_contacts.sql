-- Contacts: the people a user texts and calls, by name; and who has opted out of a number's
-- texts (STOP). Portable SQL, as in the first migration.

CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    company    TEXT NOT NULL DEFAULT '',
    notes      TEXT NOT NULL DEFAULT '',
    -- Custom fields: a JSON object of name → text.
    fields     TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX contacts_by_user ON contacts (user_id, name);

-- A number is one contact's per user: that is how a peer's name is found.
CREATE TABLE contact_numbers (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    e164       TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, e164)
);
CREATE INDEX contact_numbers_by_contact ON contact_numbers (contact_id);

CREATE TABLE contact_tags (
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
CREATE INDEX contact_tags_by_tag ON contact_tags (user_id, tag);

-- A peer who texted STOP (or whom the carrier reports as unsubscribed) to one of our numbers:
-- nothing more is sent to them from it until they text START.
CREATE TABLE opt_outs (
    number_id  TEXT NOT NULL REFERENCES phone_numbers (id) ON DELETE CASCADE,
    peer       TEXT NOT NULL,
    -- 'keyword' (they texted STOP) or the carrier's error code (40300, 21610).
    source     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (number_id, peer)
);

-- What a HELP text is answered with ('' = the default sentence naming the number).
ALTER TABLE phone_numbers ADD COLUMN help_text TEXT NOT NULL DEFAULT '';
