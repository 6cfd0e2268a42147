-- Idempotency keys (issue 21); see the PostgreSQL migration of the same
-- name. SQLite's immediate transactions exclude other writers whole, so a
-- racing write of the same key runs after the first has committed.
CREATE TABLE invites_idempotency (
    tenant_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    answer      BLOB,
    expires_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scope, key)
) STRICT, WITHOUT ROWID;
--bun:split
CREATE INDEX invites_idempotency_expires_idx ON invites_idempotency (expires_at);
