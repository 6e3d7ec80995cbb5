-- Forwarding (server/calls/carrier.rs): calls from the phone network to a number ring this
-- phone (E.164) instead of going straight to voicemail; NULL when off.
ALTER TABLE phone_numbers ADD COLUMN forward_to TEXT;
-- The forwarded leg's carrier id once that phone answers (to bridge it, or hang it up).
ALTER TABLE call_sessions ADD COLUMN forward_call TEXT;
-- Which carrier holds a carrier call (`carrier_call`), to command it when our timer ends it.
ALTER TABLE call_sessions ADD COLUMN carrier TEXT;
