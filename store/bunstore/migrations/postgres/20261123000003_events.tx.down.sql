DROP INDEX invites_pending_expiry_idx;
--bun:split
DROP TABLE invites_events;
