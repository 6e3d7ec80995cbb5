-- Two-factor sign-in (server/accounts/two_factor.rs): an authenticator app's secret per user
-- (sealed with the instance key; pending until a first code confirms it), one-time recovery
-- codes (their SHA-256 only), and the sign-ins waiting for their code.
CREATE TABLE two_factor (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    confirmed_at BIGINT,
    -- The last 30-second step whose code was used: each code works once.
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE sign_in_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tries      BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL
);
