-- One row per invitation.
-- Times are UTC text of fixed width ('2006-01-02 15:04:05.000000'), so
-- they compare and sort as times; ids are uuid text, which sorts as the
-- uuid bytes; BINARY collation is byte order, as Go compares strings.
CREATE TABLE invites (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    email               TEXT NOT NULL,
    email_norm          TEXT NOT NULL,
    first_name          TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL DEFAULT '',
    -- Lower-cased in Go (strings.ToLower), as search compares; SQL's
    -- lower() differs between databases beyond ASCII.
    first_name_fold     TEXT NOT NULL DEFAULT '',
    last_name_fold      TEXT NOT NULL DEFAULT '',
    locale              TEXT NOT NULL,
    data                TEXT CHECK (data IS NULL OR json_valid(data)),
    roles               TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(roles)),
    status              TEXT NOT NULL
                        CHECK (status IN ('pending', 'accepted', 'declined', 'canceled', 'expired')),
    status_updated_at   TEXT NOT NULL,
    -- The digest of the latest token, for the one-lookup accept of the
    -- link a user clicks nearly always; every live digest is in
    -- invites_tokens.
    token_digest        BLOB UNIQUE,
    expires_at          TEXT NOT NULL,
    send_count          INTEGER NOT NULL,
    last_sent_at        TEXT NOT NULL,
    delivery_status     TEXT NOT NULL CHECK (delivery_status IN ('queued', 'sent', 'failed')),
    delivery_error      TEXT NOT NULL DEFAULT '',
    latest_delivery_id  TEXT,
    created_by_user_id  TEXT NOT NULL,
    accepted_by_user_id TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;
--bun:split
-- One pending invite per address and tenant.
CREATE UNIQUE INDEX invites_pending_email_key ON invites (tenant_id, email_norm) WHERE status = 'pending';
--bun:split
-- Paging in each order a list can ask for, ties broken by id.
CREATE INDEX invites_tenant_created_idx ON invites (tenant_id, created_at, id);
--bun:split
CREATE INDEX invites_tenant_updated_idx ON invites (tenant_id, updated_at, id);
--bun:split
CREATE INDEX invites_tenant_email_idx ON invites (tenant_id, email_norm, id);
--bun:split
-- The outbox: one row per email to send. Only an invite's latest delivery
-- is ever queued; due_at is when it may next be claimed (its retry time,
-- or the end of a worker's lease).
CREATE TABLE invites_deliveries (
    id         TEXT PRIMARY KEY,
    invite_id  TEXT NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('invitation', 'reminder')),
    state      TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'superseded', 'dropped')),
    attempt    INTEGER NOT NULL DEFAULT 0,
    due_at     TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
) STRICT;
--bun:split
CREATE INDEX invites_deliveries_due_idx ON invites_deliveries (due_at, id) WHERE state = 'queued';
--bun:split
CREATE INDEX invites_deliveries_invite_idx ON invites_deliveries (invite_id);
--bun:split
-- The SHA-256 digests of the tokens minted for each invite's latest
-- delivery, one per attempt: a retried email may follow one that did
-- arrive, and both links work. A resend deletes them all. Plaintext tokens
-- are never stored.
CREATE TABLE invites_tokens (
    digest      BLOB PRIMARY KEY,
    invite_id   TEXT NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    delivery_id TEXT NOT NULL
) STRICT;
--bun:split
CREATE INDEX invites_tokens_invite_idx ON invites_tokens (invite_id);
