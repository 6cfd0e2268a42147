-- The suppression list (issue 24): one row per tenant and address whose
-- email bounced for good (for that tenant) or whose recipient complained
-- (for every tenant: all_tenants). The address is held only as the
-- Service's keyed hash (invites.SuppressionKey), so Forget leaves the row
-- and erasure does not lift the suppression; invite_id names the invite
-- whose email caused it, for the event Unsuppress writes, and outlives
-- it. Send's and Resend's checks find an address's rows through the
-- primary key's prefix (address), whatever the statistics.
CREATE TABLE invites_suppressions (
    address     bytea NOT NULL,
    tenant_id   text NOT NULL,
    all_tenants boolean NOT NULL,
    reason      text NOT NULL,
    invite_id   uuid NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (address, tenant_id)
);
--bun:split
-- Counts the writes keep in their transaction, so Stats reads one row
-- where a count(*) would read the whole list at each metrics scrape.
CREATE TABLE invites_counts (
    name text PRIMARY KEY,
    n    bigint NOT NULL
);
--bun:split
INSERT INTO invites_counts (name, n) VALUES ('suppressions', 0);
--bun:split
ALTER TABLE invites_events DROP CONSTRAINT invites_events_type_check;
--bun:split
ALTER TABLE invites_events ADD CONSTRAINT invites_events_type_check
    CHECK (type IN ('created', 'sent', 'delivery_failed', 'resent', 'accepted', 'declined', 'canceled', 'expired',
                    'bounced', 'forgotten', 'suppressed', 'unsuppressed'));
