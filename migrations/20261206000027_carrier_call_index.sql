-- Every call event of a carrier call names its held call: found by this, not a table scan.
CREATE INDEX call_sessions_by_carrier_call ON call_sessions (carrier_call);
