-- Lifecycle events, written in the transaction of the change they tell
-- of. The table is also the outbox of Config.OnEvent: handled marks an
-- event told, due_at is when it may next be claimed (its time, a retry
-- time, or the end of a worker's lease). An invite's events are in id
-- order; AUTOINCREMENT never reuses an id.
CREATE TABLE invites_events (
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
-- History, and the check that an event is the earliest unhandled of its invite.
CREATE INDEX invites_events_invite_idx ON invites_events (invite_id, id);
--bun:split
CREATE INDEX invites_events_due_idx ON invites_events (due_at, id) WHERE NOT handled;
--bun:split
-- Counting a user's sends in the last hour, for Quota.MaxSendsPerHour.
CREATE INDEX invites_events_sends_idx ON invites_events (tenant_id, actor_id, at)
    WHERE type IN ('created', 'resent');
--bun:split
-- ExpireDue finds the pending invites past their expiry.
CREATE INDEX invites_pending_expiry_idx ON invites (expires_at) WHERE status = 'pending';
