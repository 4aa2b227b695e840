-- 007-ops: which stored deliveries ig-route has not yet printed.
--
-- Pipe mode commits a batch, then prints its events.  A kill between the two
-- left events stored but never emitted, and a re-sent input counted them as
-- duplicates, so no run ever printed them.  Each pipe run has a random id:
-- deliveries.emit_run names the run that stored a delivery, and emit_runs
-- says up to which delivery id that run has printed (its row goes when the
-- run ends cleanly).  A delivery of a run that still has a row, above its
-- `printed`, was never printed: a redelivered event whose first delivery is
-- such a one is emitted again (and that delivery's emit_run cleared).
-- comments.delivery_id tells which delivery stored a comment, as messages and
-- event_keys already do.
ALTER TABLE deliveries ADD COLUMN emit_run INTEGER;
ALTER TABLE comments ADD COLUMN delivery_id INTEGER;
CREATE TABLE emit_runs (
  run      INTEGER PRIMARY KEY,
  printed  INTEGER NOT NULL DEFAULT 0,       -- deliveries.id up to which it printed
  started  INTEGER NOT NULL
);
