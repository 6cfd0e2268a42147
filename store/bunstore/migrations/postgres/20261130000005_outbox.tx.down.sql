ALTER TABLE invites RESET (fillfactor);
