-- The sandbox carrier's calls to phones: the Simulator's outside phone, rung by a call
-- someone here placed to a number outside (carrier/sandbox.rs). What a carrier knows of a
-- call it placed: the state its events carry back, and whether it still rings or was
-- answered. A call that ended is gone.
CREATE TABLE sandbox_calls (
    call_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
