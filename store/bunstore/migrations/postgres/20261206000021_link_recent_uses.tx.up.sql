-- A link's uses after since, counted with a snapshot of their own (issue
-- 25). A join locks its link with the UPDATE that uses it; in READ
-- COMMITTED a statement that waited for a row lock reads every other
-- table with the snapshot it began with, which misses the uses of the
-- joins it waited for. Each query of a VOLATILE function takes a new
-- snapshot, so called in that UPDATE's RETURNING it counts them all.
-- PL/pgSQL keeps the query's plan for the session; an SQL function would
-- plan it on every join.
CREATE FUNCTION invites_link_recent_uses(link uuid, since timestamptz) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    AS 'BEGIN RETURN (SELECT count(*) FROM invites_link_uses WHERE link_id = link AND at > since); END';
