DROP TABLE invites_secrets;
--bun:split
DROP TABLE invites_sends;
--bun:split
CREATE INDEX invites_events_sends_idx ON invites_events (tenant_id, actor_id, at)
    WHERE type IN ('created', 'resent');
