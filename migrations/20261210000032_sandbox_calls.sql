-- The sandbox carrier's calls to phones, all of them the Simulator's outside phone: rung by
-- a call someone here placed to a number outside, or by a call forwarded to a phone
-- (carrier/sandbox.rs). What a carrier knows of a call it placed: the number called and
-- the caller id shown, the state its events carry back, whether it was answered, and the
-- words it was told to say before waiting for a key (a forwarded call's whisper). A call
-- that ended is gone.
CREATE TABLE sandbox_calls (
    call_id TEXT PRIMARY KEY,
    phone TEXT NOT NULL,
    caller_id TEXT NOT NULL,
    state TEXT NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    whisper TEXT,
    created_at BIGINT NOT NULL
);
