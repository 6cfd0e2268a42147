-- Retention, erasure and bounces (issue 14); see the PostgreSQL migration
-- of the same name. SQLite alters neither a foreign key nor a CHECK, so
-- invites_events and invites_deliveries are built anew, rows, ids and
-- indexes kept. Nothing references either table, so dropping the old one
-- cascades nowhere.
CREATE TABLE invites_events_new (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    invite_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    type      TEXT NOT NULL CHECK (type IN ('created', 'sent', 'delivery_failed', 'resent',
                                            'accepted', 'declined', 'canceled', 'expired',
                                            'bounced', 'forgotten')),
    actor_id  TEXT NOT NULL DEFAULT '',
    at        TEXT NOT NULL,
    handled   INTEGER NOT NULL DEFAULT 0 CHECK (handled IN (0, 1)),
    attempt   INTEGER NOT NULL DEFAULT 0,
    due_at    TEXT NOT NULL
) STRICT;
--bun:split
-- AUTOINCREMENT never reuses an id, not even one of an event deleted
-- since: the new table goes on from the old one's sequence.
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
CREATE INDEX invites_events_sends_idx ON invites_events (tenant_id, actor_id, at)
    WHERE type IN ('created', 'resent');
--bun:split
-- Prune's handled events, in the order they happened.
CREATE INDEX invites_events_handled_idx ON invites_events (at) WHERE handled;
--bun:split
CREATE TABLE invites_deliveries_new (
    id           TEXT PRIMARY KEY,
    invite_id    TEXT NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('invitation', 'reminder')),
    state        TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'superseded', 'dropped', 'bounced')),
    attempt      INTEGER NOT NULL DEFAULT 0,
    due_at       TEXT NOT NULL,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    leased_until TEXT,
    trace        TEXT NOT NULL DEFAULT ''
) STRICT;
--bun:split
INSERT INTO invites_deliveries_new (id, invite_id, tenant_id, kind, state, attempt, due_at, last_error, created_at, leased_until)
    SELECT id, invite_id, tenant_id, kind, state, attempt, due_at, last_error, created_at, leased_until FROM invites_deliveries;
--bun:split
DROP TABLE invites_deliveries;
--bun:split
ALTER TABLE invites_deliveries_new RENAME TO invites_deliveries;
--bun:split
CREATE INDEX invites_deliveries_due_idx ON invites_deliveries (due_at, id) WHERE state = 'queued';
--bun:split
CREATE INDEX invites_deliveries_invite_idx ON invites_deliveries (invite_id);
--bun:split
-- Prune's invites of a final status, in the order they ended.
CREATE INDEX invites_final_idx ON invites (status_updated_at) WHERE status <> 'pending';
