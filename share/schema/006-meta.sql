-- 006-meta: an OAuth state remembers the channel it connects.
--
-- 'instagram' (the default, every state issued before this migration) stores
-- Instagram accounts; 'messenger' (ig-connect url --channel messenger) stores
-- the consenting user's Facebook Pages as Messenger accounts
-- (accounts.channel = 'messenger', external_id = the Page id).
ALTER TABLE oauth_states ADD COLUMN channel TEXT NOT NULL DEFAULT 'instagram'
  CHECK (channel = 'instagram' OR channel = 'messenger');
