-- Forwarding after the browsers (server/calls/carrier.rs): with a forwarding phone set, a
-- call first rings the owner's browsers this many seconds, then the phone; NULL: the phone
-- rings at once and browsers don't.
ALTER TABLE phone_numbers ADD COLUMN forward_after_secs INTEGER;
-- The phone a call ringing browsers goes to when their ring time ends (NULL: voicemail;
-- '' once it went there).
ALTER TABLE call_sessions ADD COLUMN forward_later TEXT;
