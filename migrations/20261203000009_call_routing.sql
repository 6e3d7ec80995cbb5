-- How calls to each number ring: for how long before they count as missed (the caller may
-- then leave a voicemail), and do-not-disturb (nothing rings: straight to voicemail).
ALTER TABLE phone_numbers ADD COLUMN ring_seconds BIGINT NOT NULL DEFAULT 30;
ALTER TABLE phone_numbers ADD COLUMN do_not_disturb BIGINT NOT NULL DEFAULT 0;
