-- Voicemail: a message the caller recorded when a call was declined or not answered, kept
-- in the media store as the person called's and listed with that call in their log.
ALTER TABLE calls ADD COLUMN voicemail_media_id TEXT REFERENCES media (id) ON DELETE SET NULL;
