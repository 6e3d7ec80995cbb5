-- Campaigns: one message, rendered per contact ({first_name} …), to everyone or a tag, sent
-- through the outbox a few at a time so nobody else's texts wait behind it.
CREATE TABLE campaigns (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    number_id   TEXT NOT NULL REFERENCES phone_numbers (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    tag         TEXT NOT NULL DEFAULT '',          -- '' = every contact with a number
    state       TEXT NOT NULL,                     -- sending, paused, cancelled, done
    created_at  BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX campaigns_by_user ON campaigns (user_id, created_at);

CREATE TABLE campaign_recipients (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    peer        TEXT NOT NULL,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    -- Set once its text is queued; skipped ones say why instead.
    message_id  TEXT,
    skipped     TEXT,
    position    BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, peer)
);
CREATE INDEX campaign_recipients_next ON campaign_recipients (campaign_id, position);
