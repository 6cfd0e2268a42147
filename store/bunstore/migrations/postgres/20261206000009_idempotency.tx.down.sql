DROP TABLE invites_idempotency;
