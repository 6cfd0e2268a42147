-- Lists in status order (issue 12): each status as read at Now is a range
-- of this index, walked in id order, so a page reads its own rows instead
-- of sorting all the tenant's. Pending splits by expires_at, which the
-- index carries with every column a filter reads.
CREATE INDEX invites_tenant_status_idx ON invites (tenant_id, status, id)
    INCLUDE (expires_at, created_at, email, email_norm, first_name, last_name, first_name_fold, last_name_fold,
             locale, created_by_user_id, accepted_by_user_id);
