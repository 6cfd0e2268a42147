ALTER TABLE invites DROP COLUMN fixed_expiry;
--bun:split
ALTER TABLE invites DROP COLUMN by_host;
