-- Replies by email (server/email/replies.rs): each email handed to /webhooks/email is sent
-- as a text once, by its Message-ID, however often the mail server retries it.
CREATE TABLE email_replies (
    email_id        TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL
);
