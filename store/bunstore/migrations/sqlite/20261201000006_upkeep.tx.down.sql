-- The tables as migration 5 left them: the events of invites that are gone
-- (EventForgotten) and the bounced and forgotten events go, since the
-- older schema holds neither; a bounced delivery becomes failed.
DROP INDEX invites_final_idx;
--bun:split
CREATE TABLE invites_deliveries_old (
    id         TEXT PRIMARY KEY,
    invite_id  TEXT NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('invitation', 'reminder')),
    state      TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'superseded', 'dropped')),
    attempt    INTEGER NOT NULL DEFAULT 0,
    due_at     TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    leased_until TEXT
) STRICT;
--bun:split
INSERT INTO invites_deliveries_old (id, invite_id, tenant_id, kind, state, attempt, due_at, last_error, created_at, leased_until)
    SELECT id, invite_id, tenant_id, kind, CASE state WHEN 'bounced' THEN 'failed' ELSE state END,
        attempt, due_at, last_error, created_at, leased_until FROM invites_deliveries;
--bun:split
DROP TABLE invites_deliveries;
--bun:split
ALTER TABLE invites_deliveries_old RENAME TO invites_deliveries;
--bun:split
CREATE INDEX invites_deliveries_due_idx ON invites_deliveries (due_at, id) WHERE state = 'queued';
--bun:split
CREATE INDEX invites_deliveries_invite_idx ON invites_deliveries (invite_id);
--bun:split
CREATE TABLE invites_events_old (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    invite_id TEXT NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    type      TEXT NOT NULL CHECK (type IN ('created', 'sent', 'delivery_failed', 'resent',
                                            'accepted', 'declined', 'canceled', 'expired')),
    actor_id  TEXT NOT NULL DEFAULT '',
    at        TEXT NOT NULL,
    handled   INTEGER NOT NULL DEFAULT 0 CHECK (handled IN (0, 1)),
    attempt   INTEGER NOT NULL DEFAULT 0,
    due_at    TEXT NOT NULL
) STRICT;
--bun:split
INSERT INTO sqlite_sequence (name, seq) SELECT 'invites_events_old', seq FROM sqlite_sequence WHERE name = 'invites_events';
--bun:split
INSERT INTO invites_events_old (id, invite_id, tenant_id, type, actor_id, at, handled, attempt, due_at)
    SELECT id, invite_id, tenant_id, type, actor_id, at, handled, attempt, due_at FROM invites_events
    WHERE type NOT IN ('bounced', 'forgotten') AND invite_id IN (SELECT id FROM invites);
--bun:split
DROP TABLE invites_events;
--bun:split
ALTER TABLE invites_events_old RENAME TO invites_events;
--bun:split
CREATE INDEX invites_events_invite_idx ON invites_events (invite_id, id);
--bun:split
CREATE INDEX invites_events_due_idx ON invites_events (due_at, id) WHERE NOT handled;
--bun:split
CREATE INDEX invites_events_sends_idx ON invites_events (tenant_id, actor_id, at)
    WHERE type IN ('created', 'resent');
