DROP TABLE invites_tokens;
--bun:split
DROP TABLE invites_deliveries;
--bun:split
DROP TABLE invites;
