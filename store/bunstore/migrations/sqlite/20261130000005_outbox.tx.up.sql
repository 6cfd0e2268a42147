-- A claim's lease goes in its own column, apart from due_at (see the
-- PostgreSQL migration of the same name). Tokens live only in
-- invites_tokens from here on; invites.token_digest is no longer written
-- or read and stays, always NULL.
ALTER TABLE invites_deliveries ADD COLUMN leased_until TEXT;
