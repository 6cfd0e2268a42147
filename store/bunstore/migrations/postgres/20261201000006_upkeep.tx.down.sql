-- The events of invites that are gone (EventForgotten) and the bounced and
-- forgotten events go, since the older schema holds neither; a bounced
-- delivery becomes failed.
DROP INDEX invites_events_handled_idx;
--bun:split
DROP INDEX invites_final_idx;
--bun:split
ALTER TABLE invites_deliveries DROP COLUMN trace;
--bun:split
UPDATE invites_deliveries SET state = 'failed' WHERE state = 'bounced';
--bun:split
ALTER TABLE invites_deliveries DROP CONSTRAINT invites_deliveries_state_check;
--bun:split
ALTER TABLE invites_deliveries ADD CONSTRAINT invites_deliveries_state_check
    CHECK (state IN ('queued', 'sent', 'failed', 'superseded', 'dropped'));
--bun:split
DELETE FROM invites_events WHERE type IN ('bounced', 'forgotten')
    OR NOT EXISTS (SELECT 1 FROM invites WHERE invites.id = invites_events.invite_id);
--bun:split
ALTER TABLE invites_events DROP CONSTRAINT invites_events_type_check;
--bun:split
ALTER TABLE invites_events ADD CONSTRAINT invites_events_type_check
    CHECK (type IN ('created', 'sent', 'delivery_failed', 'resent', 'accepted', 'declined', 'canceled', 'expired'));
--bun:split
ALTER TABLE invites_events ADD CONSTRAINT invites_events_invite_id_fkey
    FOREIGN KEY (invite_id) REFERENCES invites (id) ON DELETE CASCADE;
