DROP INDEX invites_tenant_locale_idx;
--bun:split
DROP INDEX invites_tenant_last_name_idx;
--bun:split
DROP INDEX invites_tenant_first_name_idx;
