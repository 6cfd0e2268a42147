-- Links the host delivers and invites of their own TTL (see the
-- PostgreSQL migration of the same name).
ALTER TABLE invites ADD COLUMN by_host INTEGER NOT NULL DEFAULT 0 CHECK (by_host IN (0, 1));
--bun:split
ALTER TABLE invites ADD COLUMN fixed_expiry INTEGER NOT NULL DEFAULT 0 CHECK (fixed_expiry IN (0, 1));
