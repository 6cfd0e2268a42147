-- The suppression list (issue 24); see the PostgreSQL migration of the
-- same name. SQLite alters no CHECK, so invites_events is built anew for
-- the two new event types, rows, ids and indexes kept.
CREATE TABLE invites_suppressions (
    address     BLOB NOT NULL,
    tenant_id   TEXT NOT NULL,
    all_tenants INTEGER NOT NULL CHECK (all_tenants IN (0, 1)),
    reason      TEXT NOT NULL,
    invite_id   TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (address, tenant_id)
) STRICT;
--bun:split
CREATE TABLE invites_counts (
    name TEXT PRIMARY KEY,
    n    INTEGER NOT NULL
) STRICT;
--bun:split
INSERT INTO invites_counts (name, n) VALUES ('suppressions', 0);
--bun:split
CREATE TABLE invites_events_new (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    invite_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    type      TEXT NOT NULL CHECK (type IN ('created', 'sent', 'delivery_failed', 'resent',
                                            'accepted', 'declined', 'canceled', 'expired',
                                            'bounced', 'forgotten', 'suppressed', 'unsuppressed')),
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
