-- The suppressions go, and their events, which the older schema does not
-- hold.
DELETE FROM invites_events WHERE type IN ('suppressed', 'unsuppressed');
--bun:split
ALTER TABLE invites_events DROP CONSTRAINT invites_events_type_check;
--bun:split
ALTER TABLE invites_events ADD CONSTRAINT invites_events_type_check
    CHECK (type IN ('created', 'sent', 'delivery_failed', 'resent', 'accepted', 'declined', 'canceled', 'expired',
                    'bounced', 'forgotten'));
--bun:split
DROP TABLE invites_counts;
--bun:split
DROP TABLE invites_suppressions;
