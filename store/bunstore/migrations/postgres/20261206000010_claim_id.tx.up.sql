-- The id of each delivery's latest claim, so a worker that lost the reply
-- of a claim can release what it took (ReleaseClaim) rather than leave
-- those emails to wait out the lease. No index holds it: ReleaseClaim
-- finds the claim's deliveries through the digests of its tokens, and a
-- claim stays a HOT update.
ALTER TABLE invites_deliveries ADD COLUMN claim_id uuid;
