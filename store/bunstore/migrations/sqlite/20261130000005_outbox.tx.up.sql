-- Tokens live only in invites_tokens from here on; invites.token_digest is
-- no longer written or read and stays, always NULL (see the PostgreSQL
-- migration of the same name). SQLite has no fillfactor: nothing changes.
SELECT 1;
