-- Calls through a carrier (server/calls/carrier.rs): the carrier holds the outside party's
-- leg and we command it. `carrier_call` is the id commands name (Telnyx call_control_id);
-- `carrier_session` the id every event of the call carries (Telnyx call_session_id: a
-- recording's events name only this). Unique, so a redelivered "call arrived" opens nothing.
ALTER TABLE call_sessions ADD COLUMN carrier_call TEXT;
ALTER TABLE call_sessions ADD COLUMN carrier_session TEXT;
CREATE UNIQUE INDEX call_sessions_by_carrier_session ON call_sessions (carrier_session);

-- A voicemail's words, where the carrier transcribes it.
ALTER TABLE calls ADD COLUMN transcript TEXT;
