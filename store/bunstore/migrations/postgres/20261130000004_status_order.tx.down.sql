DROP INDEX invites_tenant_status_idx;
