DELETE FROM invites_events WHERE type IN ('link_created', 'link_used', 'link_revoked');
--bun:split
ALTER TABLE invites_events DROP CONSTRAINT invites_events_type_check;
--bun:split
ALTER TABLE invites_events ADD CONSTRAINT invites_events_type_check
    CHECK (type IN ('created', 'sent', 'delivery_failed', 'resent', 'accepted', 'declined', 'canceled', 'expired',
                    'bounced', 'forgotten', 'suppressed', 'unsuppressed'));
--bun:split
DROP TABLE invites_link_uses;
--bun:split
DROP TABLE invites_links;
