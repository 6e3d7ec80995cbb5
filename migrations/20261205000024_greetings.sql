-- A voicemail greeting per number (server/calls/greeting.rs): words the caller is shown (and
-- that a carrier speaks), and optionally a recording made in the browser (the owner's file
-- in the media store).
ALTER TABLE phone_numbers ADD COLUMN greeting_text TEXT NOT NULL DEFAULT '';
ALTER TABLE phone_numbers ADD COLUMN greeting_media_id TEXT;
