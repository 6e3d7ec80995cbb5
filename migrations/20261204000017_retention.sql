-- Retention (server/retention.rs): a user's own period for texts and calls, in days, when
-- shorter than the instance's (instance_settings 'retention_days'; 90 unless set, 0 = forever).
ALTER TABLE users ADD COLUMN retention_days BIGINT;
