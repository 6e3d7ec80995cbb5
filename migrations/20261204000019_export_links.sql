-- Export my data (server/export.rs): single-use download links, for 15 minutes, each for
-- the account that asked for it.
CREATE TABLE export_links (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
