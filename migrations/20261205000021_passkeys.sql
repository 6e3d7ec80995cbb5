-- Passkeys (server/accounts/passkeys.rs): WebAuthn credentials, each a second factor after
-- the password or a sign-in of its own. `passkey` is webauthn-rs's record of it (public
-- key, signature counter); `credential_id` (base64url) finds it when a browser offers it.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id, created_at);

-- A registration or sign-in between its two steps: the state webauthn-rs must get back
-- (its challenge, never sent to the browser whole), found by the SHA-256 of a token the
-- browser holds. `user_id` is empty for a password-less sign-in (nobody known yet).
CREATE TABLE passkey_ceremonies (
    token_hash TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies (expires_at);
