-- Canned replies: a person's saved snippets, inserted from the composer by name or by
-- typing /shortcut.
CREATE TABLE canned_replies (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    shortcut   TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, shortcut)
);
