-- 005-intake: a lighter write path for ig-route.
--
-- deliveries_status indexed every delivery by status, yet only the stuck
-- ones ('received': stored, not routed yet) are ever looked up, by
-- `ig-route replay --deliveries`.  A partial index holds just those: a
-- delivery routed in pipe mode never enters it, and one taken in by CGI
-- leaves it when the routing child marks it processed.
DROP INDEX deliveries_status;
CREATE INDEX deliveries_received ON deliveries(id) WHERE status = 'received';
