-- The id of each delivery's latest claim, for ReleaseClaim (see the
-- PostgreSQL migration).
ALTER TABLE invites_deliveries ADD COLUMN claim_id TEXT;
