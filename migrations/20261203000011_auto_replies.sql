-- Replies that write themselves, per number: keyword rules (tried in order) and an away
-- message (always, outside business hours, or while do-not-disturb is on).

CREATE TABLE reply_rules (
    id         TEXT PRIMARY KEY,
    number_id  TEXT NOT NULL REFERENCES phone_numbers (id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    matching   TEXT NOT NULL CHECK (matching IN ('exact', 'contains')),
    keyword    TEXT NOT NULL,
    reply      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX reply_rules_by_number ON reply_rules (number_id, position);

-- off, always, outside_hours, do_not_disturb
ALTER TABLE phone_numbers ADD COLUMN away_mode TEXT NOT NULL DEFAULT 'off';
ALTER TABLE phone_numbers ADD COLUMN away_text TEXT NOT NULL DEFAULT '';
-- Business hours: the days open (0 = Monday … 6 = Sunday, a comma list), opening and
-- closing as minutes after midnight, in an IANA time zone.
ALTER TABLE phone_numbers ADD COLUMN business_days TEXT NOT NULL DEFAULT '0,1,2,3,4';
ALTER TABLE phone_numbers ADD COLUMN opens_minute BIGINT NOT NULL DEFAULT 540;
ALTER TABLE phone_numbers ADD COLUMN closes_minute BIGINT NOT NULL DEFAULT 1020;
ALTER TABLE phone_numbers ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';

-- Texts Switchboard sent by itself (HELP answers, auto-replies), counted to stop reply loops.
ALTER TABLE messages ADD COLUMN automatic BIGINT NOT NULL DEFAULT 0;
