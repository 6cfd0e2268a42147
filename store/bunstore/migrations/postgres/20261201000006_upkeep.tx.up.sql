-- Retention, erasure and bounces (issue 14).
--
-- An event no longer needs its invite: Forget erases the invite and
-- leaves an EventForgotten of its id. Every delete of invites deletes
-- their events itself; tokens and deliveries still go with the invite
-- (ON DELETE CASCADE).
ALTER TABLE invites_events DROP CONSTRAINT invites_events_invite_id_fkey;
--bun:split
ALTER TABLE invites_events DROP CONSTRAINT invites_events_type_check;
--bun:split
ALTER TABLE invites_events ADD CONSTRAINT invites_events_type_check
    CHECK (type IN ('created', 'sent', 'delivery_failed', 'resent', 'accepted', 'declined', 'canceled', 'expired',
                    'bounced', 'forgotten'));
--bun:split
-- A bounced delivery failed for good after it was sent.
ALTER TABLE invites_deliveries DROP CONSTRAINT invites_deliveries_state_check;
--bun:split
ALTER TABLE invites_deliveries ADD CONSTRAINT invites_deliveries_state_check
    CHECK (state IN ('queued', 'sent', 'failed', 'superseded', 'dropped', 'bounced'));
--bun:split
-- What the send that queued a delivery left for its attempts to link to
-- (a traceparent, say). A constant default adds no row rewrite.
ALTER TABLE invites_deliveries ADD COLUMN trace text NOT NULL DEFAULT '';
--bun:split
-- Prune finds the invites of a final status in the order they ended, and
-- the handled events in the order they happened, without scanning either
-- table. Neither index holds a column a claim or an outcome writes, so
-- those stay HOT.
CREATE INDEX invites_final_idx ON invites (status_updated_at) WHERE status <> 'pending';
--bun:split
CREATE INDEX invites_events_handled_idx ON invites_events (at) WHERE handled;
