-- Shareable invite links (issue 25); see the PostgreSQL migration of the
-- same name. SQLite alters no CHECK, so invites_events is built anew with
-- the link events' types, rows, ids and indexes kept.
CREATE TABLE invites_links (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    token_digest       BLOB NOT NULL UNIQUE,
    roles              TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(roles)),
    max_uses           INTEGER NOT NULL CHECK (max_uses > 0),
    uses               INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    allowed_domains    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(allowed_domains)),
    note               TEXT NOT NULL DEFAULT '',
    created_by_user_id TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    revoked_at         TEXT,
    revoked_by_user_id TEXT NOT NULL DEFAULT ''
) STRICT;
--bun:split
CREATE INDEX invites_links_tenant_created_idx ON invites_links (tenant_id, created_at, id);
--bun:split
CREATE INDEX invites_links_creator_idx ON invites_links (tenant_id, created_by_user_id, created_at, id);
--bun:split
CREATE INDEX invites_links_live_idx ON invites_links (tenant_id, expires_at) WHERE revoked_at IS NULL;
--bun:split
CREATE TABLE invites_link_uses (
    link_id TEXT NOT NULL REFERENCES invites_links (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    at      TEXT NOT NULL,
    PRIMARY KEY (link_id, user_id)
) STRICT;
--bun:split
CREATE INDEX invites_link_uses_at_idx ON invites_link_uses (link_id, at, user_id);
--bun:split
CREATE TABLE invites_events_new (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    invite_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    type      TEXT NOT NULL CHECK (type IN ('created', 'sent', 'delivery_failed', 'resent',
                                            'accepted', 'declined', 'canceled', 'expired',
                                            'bounced', 'forgotten', 'suppressed', 'unsuppressed',
                                            'link_created', 'link_used', 'link_revoked')),
    actor_id  TEXT NOT NULL DEFAULT '',
    at        TEXT NOT NULL,
    handled   INTEGER NOT NULL DEFAULT 0 CHECK (handled IN (0, 1)),
    attempt   INTEGER NOT NULL DEFAULT 0,
    due_at    TEXT NOT NULL
) STRICT;
--bun:split
INSERT INTO sqlite_sequence (name, seq) SELECT 'invites_events_new', seq FROM sqlite_sequence WHERE name = 'invites_events';
--bun:split
INSERT INTO invites_events_new (id, invite_id, tenant_id, type, actor_id, at, handled, attempt, due_at)
    SELECT id, invite_id, tenant_id, type, actor_id, at, handled, attempt, due_at FROM invites_events;
--bun:split
DROP TABLE invites_events;
--bun:split
ALTER TABLE invites_events_new RENAME TO invites_events;
--bun:split
CREATE INDEX invites_events_invite_idx ON invites_events (invite_id, id);
--bun:split
CREATE INDEX invites_events_due_idx ON invites_events (due_at, id) WHERE NOT handled;
--bun:split
CREATE INDEX invites_events_handled_idx ON invites_events (at) WHERE handled;
