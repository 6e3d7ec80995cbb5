-- Browsers that take phone-network calls through a carrier's WebRTC SDK
-- (server/calls/browser_phone.rs): one carrier credential per browser of a user (Telnyx:
-- a telephony credential, reached as sip:<sip_username>@sip.telnyx.com), so the server
-- can ring exactly the browser that answered. The browser only ever gets a short-lived
-- token for its own credential, never a SIP password.
CREATE TABLE browser_phones (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    carrier TEXT NOT NULL,
    -- The browser's own random name for itself (kept in its local storage).
    device TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    sip_username TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, carrier, device)
);
-- A carrier call rings the owner's browsers (those with a browser phone) instead of
-- going straight to voicemail; the tab that answers is then called by the carrier
-- (`forward_call` is that leg) and the two legs are joined.
ALTER TABLE call_sessions ADD COLUMN rings_browsers INTEGER NOT NULL DEFAULT 0;
-- What the carrier call came through (Telnyx: our Call Control application), to place the
-- call to the answering browser through it too.
ALTER TABLE call_sessions ADD COLUMN carrier_connection TEXT;
