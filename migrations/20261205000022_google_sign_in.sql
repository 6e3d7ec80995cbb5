-- Google sign-in (server/accounts/google.rs): which Google account (issuer and subject, the
-- provider's stable id for a person) opens which account here, and the sign-ins waiting for
-- Google to send the browser back (found by the SHA-256 of their `state`; one use).
CREATE TABLE google_links (
    issuer    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email     TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE UNIQUE INDEX google_links_one_per_account ON google_links (user_id, issuer);

CREATE TABLE google_flows (
    state_hash    TEXT PRIMARY KEY,
    -- sign_in, link (user_id set) or join (invitation: the invitation link's token)
    purpose       TEXT NOT NULL,
    user_id       TEXT REFERENCES users (id) ON DELETE CASCADE,
    invitation    TEXT,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX google_flows_by_expiry ON google_flows (expires_at);
