-- 003-route: what ig-route needs beyond 001-core.
--
-- The link or ad context (referral: ref, source, ad_id, ads_context_data,
-- reference §2.3) that last opened the conversation, as JSON; kept so the
-- reply engine and reports can tell which campaign a customer came from.
ALTER TABLE conversations ADD COLUMN referral TEXT;

-- `ig-route dead` and `ig-route replay` walk the open dead letters.
CREATE INDEX dead_letters_status ON dead_letters(status, source);
