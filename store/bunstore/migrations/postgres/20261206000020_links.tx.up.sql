-- Shareable invite links (issue 25). A link is kept by its token's
-- digest; uses only grows, and the CHECK keeps it within max_uses
-- whatever a caller does. Joins update uses alone, which no index holds,
-- so they stay HOT.
CREATE TABLE invites_links (
    id                 uuid PRIMARY KEY,
    tenant_id          text NOT NULL,
    token_digest       bytea NOT NULL UNIQUE,
    roles              jsonb NOT NULL DEFAULT '[]',
    max_uses           integer NOT NULL CHECK (max_uses > 0),
    uses               integer NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    allowed_domains    jsonb NOT NULL DEFAULT '[]',
    note               text NOT NULL DEFAULT '',
    created_by_user_id text NOT NULL,
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    revoked_by_user_id text NOT NULL DEFAULT ''
);
--bun:split
-- A tenant's links newest first, and a creator's.
CREATE INDEX invites_links_tenant_created_idx ON invites_links (tenant_id, created_at, id);
--bun:split
CREATE INDEX invites_links_creator_idx ON invites_links (tenant_id, created_by_user_id, created_at, id);
--bun:split
-- The links not revoked, by expiry: the count of a tenant's active links.
CREATE INDEX invites_links_live_idx ON invites_links (tenant_id, expires_at) WHERE revoked_at IS NULL;
--bun:split
-- One row per join: one per user and link (the key), and a link's uses
-- in order, which also counts the uses of the last minute.
CREATE TABLE invites_link_uses (
    link_id uuid NOT NULL REFERENCES invites_links (id) ON DELETE CASCADE,
    user_id text NOT NULL,
    at      timestamptz NOT NULL,
    PRIMARY KEY (link_id, user_id)
);
--bun:split
CREATE INDEX invites_link_uses_at_idx ON invites_link_uses (link_id, at, user_id);
--bun:split
-- A link's events go to the events' outbox under its id.
ALTER TABLE invites_events DROP CONSTRAINT invites_events_type_check;
--bun:split
ALTER TABLE invites_events ADD CONSTRAINT invites_events_type_check
    CHECK (type IN ('created', 'sent', 'delivery_failed', 'resent', 'accepted', 'declined', 'canceled', 'expired',
                    'bounced', 'forgotten', 'suppressed', 'unsuppressed', 'link_created', 'link_used', 'link_revoked'));
