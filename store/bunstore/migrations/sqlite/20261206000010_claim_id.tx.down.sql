ALTER TABLE invites_deliveries DROP COLUMN claim_id;
