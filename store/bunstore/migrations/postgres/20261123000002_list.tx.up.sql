-- Orders by first name, last name and locale, and filters on every field
-- a list names (issue 6). The names' folds and the locale sort in byte
-- order (COLLATE "C"), as Go compares strings.
DROP INDEX invites_tenant_created_idx;
--bun:split
DROP INDEX invites_tenant_updated_idx;
--bun:split
DROP INDEX invites_tenant_email_idx;
--bun:split
ALTER TABLE invites ALTER COLUMN first_name_fold TYPE text COLLATE "C";
--bun:split
ALTER TABLE invites ALTER COLUMN last_name_fold TYPE text COLLATE "C";
--bun:split
ALTER TABLE invites ALTER COLUMN locale TYPE text COLLATE "C";
--bun:split
-- One index per order, led by the tenant, ties broken by id. Each carries
-- every column a filter reads, so a list filters and counts in whichever
-- index its order walks, and reads from the table only its page's rows.
CREATE INDEX invites_tenant_created_idx ON invites (tenant_id, created_at, id)
    INCLUDE (status, expires_at, email, email_norm, first_name, last_name, first_name_fold, last_name_fold,
             locale, created_by_user_id, accepted_by_user_id);
--bun:split
CREATE INDEX invites_tenant_updated_idx ON invites (tenant_id, updated_at, id)
    INCLUDE (status, expires_at, email, email_norm, first_name, last_name, first_name_fold, last_name_fold,
             locale, created_by_user_id, accepted_by_user_id);
--bun:split
CREATE INDEX invites_tenant_email_idx ON invites (tenant_id, email_norm, id)
    INCLUDE (status, expires_at, email, first_name, last_name, first_name_fold, last_name_fold,
             locale, created_by_user_id, accepted_by_user_id);
--bun:split
CREATE INDEX invites_tenant_first_name_idx ON invites (tenant_id, first_name_fold, id)
    INCLUDE (status, expires_at, email, email_norm, first_name, last_name, last_name_fold,
             locale, created_by_user_id, accepted_by_user_id);
--bun:split
CREATE INDEX invites_tenant_last_name_idx ON invites (tenant_id, last_name_fold, id)
    INCLUDE (status, expires_at, email, email_norm, first_name, last_name, first_name_fold,
             locale, created_by_user_id, accepted_by_user_id);
--bun:split
CREATE INDEX invites_tenant_locale_idx ON invites (tenant_id, locale, id)
    INCLUDE (status, expires_at, email, email_norm, first_name, last_name, first_name_fold, last_name_fold,
             created_by_user_id, accepted_by_user_id);
