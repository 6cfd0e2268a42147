-- The suppressions go, and their events, which the older schema does not
-- hold; invites_events is built anew with the older CHECK.
CREATE TABLE invites_events_old (
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
INSERT INTO sqlite_sequence (name, seq) SELECT 'invites_events_old', seq FROM sqlite_sequence WHERE name = 'invites_events';
--bun:split
INSERT INTO invites_events_old (id, invite_id, tenant_id, type, actor_id, at, handled, attempt, due_at)
    SELECT id, invite_id, tenant_id, type, actor_id, at, handled, attempt, due_at FROM invites_events
    WHERE type NOT IN ('suppressed', 'unsuppressed');
--bun:split
DROP TABLE invites_events;
--bun:split
ALTER TABLE invites_events_old RENAME TO invites_events;
--bun:split
CREATE INDEX invites_events_invite_idx ON invites_events (invite_id, id);
--bun:split
CREATE INDEX invites_events_due_idx ON invites_events (due_at, id) WHERE NOT handled;
--bun:split
CREATE INDEX invites_events_handled_idx ON invites_events (at) WHERE handled;
--bun:split
DROP TABLE invites_counts;
--bun:split
DROP TABLE invites_suppressions;
