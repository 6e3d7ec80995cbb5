-- Safe on the open internet: sign-in attempts reserved before they are checked, counted
-- limits for other costly actions, push devices tied to the session that turned them on.

-- (sign_in_failures is unchanged: an attempt is now recorded there, as a failure, before
-- its password is checked, and the account's rows are cleared when it proves right.)

-- When a send to the carrier began whose answer we have not recorded yet: a later try
-- waits for the message's delivery report instead of sending it twice.
ALTER TABLE messages ADD COLUMN submitted_at BIGINT;

-- A number being bought: counted against its buyer's quota while the carrier is asked, so
-- parallel purchases (each a billed number) can't exceed it. Stale ones (a crash) expire.
CREATE TABLE number_reservations (
    id       TEXT PRIMARY KEY,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at       BIGINT NOT NULL
);
CREATE INDEX number_reservations_by_user ON number_reservations (user_id, at);

-- One row per use of a limited action (key = action:actor), kept for its window.
CREATE TABLE rate_limit_hits (
    key TEXT NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX rate_limit_hits_by_key ON rate_limit_hits (key, at);

-- A device gets alerts only while the session that subscribed it lasts: signing out (or
-- being signed out, disabled, or changing the password elsewhere) removes it.
ALTER TABLE push_subscriptions ADD COLUMN session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE;
CREATE INDEX push_subscriptions_by_session ON push_subscriptions (session_id);
-- Devices subscribed before this belonged to no session and could outlive every sign-out;
-- they are dropped (Settings shows alerts off; one click turns them on again).
DELETE FROM push_subscriptions;
