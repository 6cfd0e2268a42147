-- Orders by first name, last name and locale (issue 6), ties broken by id.
CREATE INDEX invites_tenant_first_name_idx ON invites (tenant_id, first_name_fold, id);
--bun:split
CREATE INDEX invites_tenant_last_name_idx ON invites (tenant_id, last_name_fold, id);
--bun:split
CREATE INDEX invites_tenant_locale_idx ON invites (tenant_id, locale, id);
