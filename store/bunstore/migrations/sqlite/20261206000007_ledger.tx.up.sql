-- The send ledger (issue 22); see the PostgreSQL migration of the same
-- name.
CREATE TABLE invites_sends (
    id        INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    actor_id  TEXT NOT NULL,
    address   BLOB NOT NULL,
    at        TEXT NOT NULL
) STRICT;
--bun:split
CREATE INDEX invites_sends_address_idx ON invites_sends (address, tenant_id, at);
--bun:split
CREATE INDEX invites_sends_actor_idx ON invites_sends (tenant_id, actor_id, at);
--bun:split
CREATE INDEX invites_sends_at_idx ON invites_sends (at);
--bun:split
DROP INDEX invites_events_sends_idx;
--bun:split
CREATE TABLE invites_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
