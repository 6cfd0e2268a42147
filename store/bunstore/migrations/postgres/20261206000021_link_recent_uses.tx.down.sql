DROP FUNCTION invites_link_recent_uses(uuid, timestamptz);
