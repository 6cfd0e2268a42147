-- The outbox's writes are HOT where they can be, so they do not add to
-- every index of their table:
--
-- A claim's lease goes in its own column, which no index holds, rather than
-- in due_at, which invites_deliveries_due_idx orders: the claim then
-- rewrites no index entry, and the next claim's scan of the due index does
-- not wade through the dead entries of the last.
--
-- The outcome writes an invite's delivery_status and delivery_error, which
-- no index holds either. Fillfactor leaves room on each page for the new
-- row versions: half of a delivery's page, since every one is written
-- twice within seconds of its insert (its claim, its outcome), and a
-- sixth of an invite's.
--
-- Tokens live only in invites_tokens from here on: a column of the latest
-- digest made every claim a non-HOT update of all the invites indexes.
-- invites.token_digest is no longer written or read; it stays, always
-- NULL, until a migration drops it with its index.
ALTER TABLE invites_deliveries ADD COLUMN leased_until timestamptz;
--bun:split
ALTER TABLE invites_deliveries SET (fillfactor = 50);
--bun:split
ALTER TABLE invites SET (fillfactor = 85);
