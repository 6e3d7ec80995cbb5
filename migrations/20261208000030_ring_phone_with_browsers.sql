-- Forwarding with the browsers (server/calls/carrier.rs): phone_numbers.forward_after_secs
-- = -1 (types::FORWARD_WITH_BROWSERS) rings the forwarding phone at the same time as the
-- owner's browsers. 1 while a call's forwarding phone rings alongside its browsers; 0 once
-- it gave up, a browser picked the call up, or the browsers' ring time ended.
ALTER TABLE call_sessions ADD COLUMN rings_phone INTEGER NOT NULL DEFAULT 0;
