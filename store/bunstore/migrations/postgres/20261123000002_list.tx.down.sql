DROP INDEX invites_tenant_locale_idx;
--bun:split
DROP INDEX invites_tenant_last_name_idx;
--bun:split
DROP INDEX invites_tenant_first_name_idx;
--bun:split
DROP INDEX invites_tenant_email_idx;
--bun:split
DROP INDEX invites_tenant_updated_idx;
--bun:split
DROP INDEX invites_tenant_created_idx;
--bun:split
ALTER TABLE invites ALTER COLUMN locale TYPE text COLLATE "default";
--bun:split
ALTER TABLE invites ALTER COLUMN last_name_fold TYPE text COLLATE "default";
--bun:split
ALTER TABLE invites ALTER COLUMN first_name_fold TYPE text COLLATE "default";
--bun:split
CREATE INDEX invites_tenant_created_idx ON invites (tenant_id, created_at, id)
    INCLUDE (status, expires_at, email_norm, first_name_fold, last_name_fold, created_by_user_id);
--bun:split
CREATE INDEX invites_tenant_updated_idx ON invites (tenant_id, updated_at, id);
--bun:split
CREATE INDEX invites_tenant_email_idx ON invites (tenant_id, email_norm, id);
