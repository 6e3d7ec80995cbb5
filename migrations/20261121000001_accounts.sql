-- Accounts, sessions, invitations, first-admin setup, sign-in throttling.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL. Ids are TEXT (UUIDv7),
-- instants are BIGINT milliseconds since the unix epoch, flags are nullable instants.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    disabled_at   BIGINT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent   TEXT NOT NULL,
    ip           TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE invitations (
    id               TEXT PRIMARY KEY,
    email            TEXT,
    role             TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    created_by       TEXT NOT NULL REFERENCES users (id),
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    accepted_at      BIGINT,
    accepted_user_id TEXT REFERENCES users (id),
    revoked_at       BIGINT
);

CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE sign_in_failures (
    email TEXT NOT NULL,
    ip    TEXT NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_email ON sign_in_failures (email, at);
CREATE INDEX sign_in_failures_by_ip ON sign_in_failures (ip, at);
CREATE INDEX sign_in_failures_by_at ON sign_in_failures (at);
