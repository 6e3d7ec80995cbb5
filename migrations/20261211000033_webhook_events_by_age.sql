-- Carrier events are remembered (to act on each once) only as long as a carrier may deliver
-- one again: housekeeping drops those past 30 days, oldest first, by this index.
CREATE INDEX webhook_events_by_age ON webhook_events (received_at);
