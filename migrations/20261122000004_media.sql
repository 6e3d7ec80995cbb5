-- MMS pictures. The bytes live in a media store (files under the data directory by default),
-- keyed by the row's id; the row says whose they are and what they are.
CREATE TABLE media (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NULL while an upload waits for the message it will go with (purged after a day).
    message_id   TEXT REFERENCES messages (id) ON DELETE CASCADE,
    position     BIGINT NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL DEFAULT 0,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'stored', 'failed')),
    -- Inbound: where the carrier keeps it, until we have our copy.
    source_url   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX media_by_message ON media (message_id);
CREATE INDEX media_by_user ON media (user_id, created_at);
