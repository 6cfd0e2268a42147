DROP TABLE invites_deliveries;
--bun:split
DROP TABLE invites;
