-- The audit log (server/audit.rs): who did what to an account, when, from which address
-- and device. Append-only from the app's point of view; entries older than twelve months
-- are purged. No foreign keys: an entry outlives the session (and, as a tombstone of ids,
-- the account) it names.
CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    -- Who acted (NULL: nobody signed in, as for a failed sign-in).
    actor_id   TEXT,
    -- Whose account it concerns (NULL: none, as for an unknown email's failed sign-in).
    subject_id TEXT,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    ip         TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX audit_log_by_at ON audit_log (at);
CREATE INDEX audit_log_by_subject ON audit_log (subject_id, at);
CREATE INDEX audit_log_by_actor ON audit_log (actor_id, at);
