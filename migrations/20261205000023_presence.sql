-- Who is online (server/calls/presence.rs): a tab's live stream marks its user seen when it
-- opens and every 30 seconds while it stays open, on whichever instance serves it. Someone
-- seen within the last 75 seconds is online; nothing else is kept.
CREATE TABLE presence (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    seen_at BIGINT NOT NULL
);
