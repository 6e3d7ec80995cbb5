-- Whether a number's calls go to this instance's calls application at its carrier (Telnyx's
-- Call Control application, Twilio's TwiML application): 1 yes, 0 not yet, 2 a job queued to
-- point them there (server/numbers.rs route_calls_of_earlier_numbers). Numbers bought since
-- those applications came are pointed by the purchase itself; the ones before wait at 0 for
-- the next start. Sandbox numbers have nothing to point.
ALTER TABLE phone_numbers ADD COLUMN calls_routed BIGINT NOT NULL DEFAULT 0;
UPDATE phone_numbers SET calls_routed = 1 WHERE carrier = 'sandbox';
