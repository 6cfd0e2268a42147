-- Idempotency keys (issue 21): the answer of a write made with a client's
-- key, kept in the write's commit until expires_at. A write takes its key
-- first (INSERT ... ON CONFLICT), so a racing write of the same key waits
-- on the row until the first commits or rolls back; answer is NULL only
-- inside that transaction, never in a committed row.
CREATE TABLE invites_idempotency (
    tenant_id   text NOT NULL,
    scope       text NOT NULL,
    key         text NOT NULL,
    fingerprint bytea NOT NULL,
    answer      bytea,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, scope, key)
);
--bun:split
-- Prune finds the expired keys in the order they expired.
CREATE INDEX invites_idempotency_expires_idx ON invites_idempotency (expires_at);
