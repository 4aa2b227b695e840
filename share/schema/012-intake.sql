-- 012-intake: one index fewer written for every inbound message.
--
-- conversations_inbound (004) indexed last_inbound_at, which ig-route sets
-- on every inbound message, so each message moved an entry of it.  No
-- query reads it: the `ig-reply --pending` scan pages through conversations
-- by id (the primary key) and tests each one's window, and the inbox list
-- takes a tenant's conversations by conversations_tenant, then sorts.
-- Dropping it saves about 8,600 instructions per inbound message (callgrind
-- on tests/bench/route.sh's stream; docs/STORE.md "Intake").
DROP INDEX conversations_inbound;
