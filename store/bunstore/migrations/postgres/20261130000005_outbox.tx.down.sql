ALTER TABLE invites RESET (fillfactor);
--bun:split
ALTER TABLE invites_deliveries RESET (fillfactor);
--bun:split
UPDATE invites_deliveries SET due_at = leased_until WHERE state = 'queued' AND leased_until > due_at;
--bun:split
ALTER TABLE invites_deliveries DROP COLUMN leased_until;
