-- Deleting an account (server/accounts/deletion.rs): set when its deletion was asked for,
-- to when it will be erased (30 days on); cleared if it is cancelled.
ALTER TABLE users ADD COLUMN erase_at BIGINT;
