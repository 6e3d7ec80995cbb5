-- Numbers, conversations, messages, the job queue, webhook dedupe and the live-event log.
-- Portable SQL, as in the first migration.

ALTER TABLE users ADD COLUMN number_quota BIGINT NOT NULL DEFAULT 3;
-- Per-user sequence of live events (SSE ids); bumped in the same transaction as the change.
ALTER TABLE users ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE phone_numbers (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    e164            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL DEFAULT '',
    carrier         TEXT NOT NULL,
    carrier_ref     TEXT NOT NULL,
    capabilities    TEXT NOT NULL,           -- comma list: sms,mms,voice
    created_at      BIGINT NOT NULL,
    last_inbound_at BIGINT
);
CREATE INDEX phone_numbers_by_user ON phone_numbers (user_id);

CREATE TABLE conversations (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    number_id    TEXT NOT NULL REFERENCES phone_numbers (id) ON DELETE CASCADE,
    peer         TEXT NOT NULL,              -- the other party, E.164
    last_at      BIGINT NOT NULL,
    last_preview TEXT NOT NULL DEFAULT '',
    unread       BIGINT NOT NULL DEFAULT 0,
    UNIQUE (number_id, peer)
);
CREATE INDEX conversations_by_user ON conversations (user_id, last_at);

CREATE TABLE messages (
    id                 TEXT PRIMARY KEY,
    conversation_id    TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    direction          TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    body               TEXT NOT NULL,
    status             TEXT NOT NULL,        -- queued, sending, sent, delivered, failed, received
    error_code         TEXT,
    segments           BIGINT NOT NULL DEFAULT 1,
    carrier_message_id TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at);
CREATE UNIQUE INDEX messages_by_carrier_id ON messages (carrier_message_id);

-- Carriers deliver at least once: each event is recorded once, by the carrier's own id.
CREATE TABLE webhook_events (
    carrier     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (carrier, event_id)
);

-- One durable job queue for sends, media fetches, push, purges. Survives restarts.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    run_at       BIGINT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at);

-- What the SSE stream replays after a reconnect (Last-Event-ID); old rows are purged.
CREATE TABLE events (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
