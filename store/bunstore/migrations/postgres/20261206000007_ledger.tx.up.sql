-- The send ledger (issue 22): one row per send (a first send or a
-- resend), apart from the invites and events Forget erases, so erasing
-- an address does not reset its quotas. A row holds its time, tenant,
-- actor and address: the address as the Service's keyed hash
-- (invites.LedgerKey), never as text. Prune deletes the rows older than
-- the longest quota window.
CREATE TABLE invites_sends (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id text NOT NULL,
    actor_id  text NOT NULL,
    address   bytea NOT NULL,
    at        timestamptz NOT NULL
);
--bun:split
-- The address limits: a tenant's sends to an address (address, tenant_id,
-- at), and all tenants' (its prefix address, at filtered in the index).
CREATE INDEX invites_sends_address_idx ON invites_sends (address, tenant_id, at);
--bun:split
-- Quota.MaxSendsPerHour: a user's sends in the last hour.
CREATE INDEX invites_sends_actor_idx ON invites_sends (tenant_id, actor_id, at);
--bun:split
-- Prune's rows, oldest first.
CREATE INDEX invites_sends_at_idx ON invites_sends (at);
--bun:split
-- The quotas count the ledger now, not the events.
DROP INDEX invites_events_sends_idx;
--bun:split
-- Secrets the Store makes once and keeps (Store.LedgerSecret).
CREATE TABLE invites_secrets (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);
