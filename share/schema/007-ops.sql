-- 007-ops: which stored deliveries ig-route has not yet printed.
--
-- Pipe mode commits a batch, then prints its events.  A kill between the two
-- left events stored but never emitted, and a re-sent input counted them as
-- duplicates, so no run ever printed them.  deliveries.emit_run holds the
-- pipe run that stored the delivery until that run has printed its events
-- (NULL afterwards, and for every other source): a redelivered event whose
-- first delivery still names a run is emitted again.  comments.delivery_id
-- tells which delivery stored a comment, as messages and event_keys do.
ALTER TABLE deliveries ADD COLUMN emit_run INTEGER;
ALTER TABLE comments ADD COLUMN delivery_id INTEGER;
