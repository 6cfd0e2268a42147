-- Nothing on SQLite, which lists in status order as before; the version
-- keeps both dialects' migrations in step.
SELECT 1;
