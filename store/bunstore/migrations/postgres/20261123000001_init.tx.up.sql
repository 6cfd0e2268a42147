-- One row per invitation.
-- email_norm and status sort in byte order (COLLATE "C"), as Go compares
-- strings, so every store lists in the same order.
CREATE TABLE invites (
    id                  uuid PRIMARY KEY,
    tenant_id           text NOT NULL,
    email               text NOT NULL,
    email_norm          text COLLATE "C" NOT NULL,
    first_name          text NOT NULL DEFAULT '',
    last_name           text NOT NULL DEFAULT '',
    -- Lower-cased in Go (strings.ToLower), as search compares; SQL's
    -- lower() differs between databases beyond ASCII.
    first_name_fold     text NOT NULL DEFAULT '',
    last_name_fold      text NOT NULL DEFAULT '',
    locale              text NOT NULL,
    data                jsonb,
    roles               jsonb NOT NULL DEFAULT '[]',
    status              text COLLATE "C" NOT NULL
                        CHECK (status IN ('pending', 'accepted', 'declined', 'canceled', 'expired')),
    status_updated_at   timestamptz NOT NULL,
    -- The digest of the latest token, for the one-lookup accept of the
    -- link a user clicks nearly always; every live digest is in
    -- invites_tokens.
    token_digest        bytea UNIQUE,
    expires_at          timestamptz NOT NULL,
    send_count          integer NOT NULL,
    last_sent_at        timestamptz NOT NULL,
    delivery_status     text NOT NULL CHECK (delivery_status IN ('queued', 'sent', 'failed')),
    delivery_error      text NOT NULL DEFAULT '',
    latest_delivery_id  uuid,
    created_by_user_id  text NOT NULL,
    accepted_by_user_id text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
--bun:split
-- One pending invite per address and tenant.
CREATE UNIQUE INDEX invites_pending_email_key ON invites (tenant_id, email_norm) WHERE status = 'pending';
--bun:split
-- Paging in each order a list can ask for, ties broken by id. The default
-- order's index also carries every filtered column, so a list filters and
-- counts from the index alone and reads from the table only the rows of
-- its page.
CREATE INDEX invites_tenant_created_idx ON invites (tenant_id, created_at, id)
    INCLUDE (status, expires_at, email_norm, first_name_fold, last_name_fold, created_by_user_id);
--bun:split
CREATE INDEX invites_tenant_updated_idx ON invites (tenant_id, updated_at, id);
--bun:split
CREATE INDEX invites_tenant_email_idx ON invites (tenant_id, email_norm, id);
--bun:split
-- The outbox: one row per email to send. Only an invite's latest delivery
-- is ever queued; due_at is when it may next be claimed (its retry time,
-- or the end of a worker's lease).
CREATE TABLE invites_deliveries (
    id         uuid PRIMARY KEY,
    invite_id  uuid NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    tenant_id  text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('invitation', 'reminder')),
    state      text NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'superseded', 'dropped')),
    attempt    integer NOT NULL DEFAULT 0,
    due_at     timestamptz NOT NULL,
    last_error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);
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
    digest      bytea PRIMARY KEY,
    invite_id   uuid NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    delivery_id uuid NOT NULL
);
--bun:split
CREATE INDEX invites_tokens_invite_idx ON invites_tokens (invite_id);
