-- The outbox writes an invite only when its delivery ends (delivery_status
-- and delivery_error, which no index holds), so those updates can be HOT:
-- leave room on each page for the new row version.
--
-- Tokens live only in invites_tokens from here on: a column of the latest
-- digest made every claim a non-HOT update writing all the table's
-- indexes. invites.token_digest is no longer written or read; it stays,
-- always NULL, until a migration can drop it with its index.
ALTER TABLE invites SET (fillfactor = 85);
