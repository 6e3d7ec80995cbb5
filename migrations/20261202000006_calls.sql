-- Calls. A call between two people here is one call_sessions row (its state, and the
-- WebRTC offer and answer while it is set up) and one calls row per party: the leg in that
-- person's call log, with its own direction, number and outcome.

CREATE TABLE call_sessions (
    id           TEXT PRIMARY KEY,
    -- ringing → answered → ended, or ringing → ended; never back.
    state        TEXT NOT NULL,
    -- Session descriptions (SDP) while the call is set up and lasts. They hold network
    -- addresses, so they are cleared when the call ends.
    offer        TEXT,
    answer       TEXT,
    -- The browser tab holding each side's media (a tab id the page makes up).
    caller_tab   TEXT NOT NULL,
    answered_tab TEXT,
    created_at   BIGINT NOT NULL
);

CREATE TABLE calls (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES call_sessions (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    number_id   TEXT REFERENCES phone_numbers (id) ON DELETE SET NULL,
    -- The number used, kept after it is released.
    number_e164 TEXT NOT NULL,
    peer        TEXT NOT NULL,
    direction   TEXT NOT NULL,            -- 'in' | 'out'
    -- When ended: answered | missed | declined | cancelled | failed.
    outcome     TEXT,
    reason      TEXT,
    created_at  BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at    BIGINT,
    -- A missed call counts in the navigation until the call log is opened.
    seen_at     BIGINT
);
CREATE INDEX calls_by_user ON calls (user_id, created_at);
CREATE INDEX calls_by_session ON calls (session_id);
