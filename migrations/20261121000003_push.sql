-- Web Push: per-device subscriptions, the instance's VAPID key, the preview setting.

-- Instance-wide values every instance sharing the database must agree on (VAPID key).
CREATE TABLE instance_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE push_subscriptions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint     TEXT NOT NULL UNIQUE,
    p256dh       TEXT NOT NULL,
    auth         TEXT NOT NULL,
    device       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions (user_id);

-- Set: notifications say "New message" instead of showing the text.
ALTER TABLE users ADD COLUMN push_previews_hidden_at BIGINT;
