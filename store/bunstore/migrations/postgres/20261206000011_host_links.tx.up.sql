-- Links the host delivers and invites of their own TTL (issue 25).
-- by_host: the invite's latest send is a link its host delivers
-- (invites.DeliveryHost): its token was minted with the send, no delivery
-- was queued, and latest_delivery_id names that send's token alone.
-- delivery_status keeps 'sent' beside it (nothing is left to send), as
-- the column's CHECK, which SQLite cannot alter, allows.
-- fixed_expiry: expires_at is the invite's own TTL's, which a claim of
-- its email does not renew.
ALTER TABLE invites ADD COLUMN by_host boolean NOT NULL DEFAULT false;
--bun:split
ALTER TABLE invites ADD COLUMN fixed_expiry boolean NOT NULL DEFAULT false;
