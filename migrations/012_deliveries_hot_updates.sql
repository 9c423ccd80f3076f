-- Up Migration
-- Status updates of `deliveries` that Postgres can make HOT (heap-only: no
-- new entry in any index). An update is HOT only when no column an index
-- names — in its key or in its predicate — changes, and the new version fits
-- on the row's page. `status` sat in the predicates of
-- deliveries_webhook_due_idx and deliveries_email_recipient_idx, and
-- `next_attempt_at` in the key of the first: not one update in a fan-out was
-- HOT, and each wrote a new entry into every index (webhook rows: 4 on the
-- claim, 3 on the outcome; email rows: 3 and 2).
--
-- "Unfinished" is now said by `completed_at IS NULL`, which every writer
-- already keeps (set when a row reaches a final status, cleared when resend
-- or recover makes it due again) and which the CHECK below now holds. One
-- index over the unfinished rows of both channels replaces the two: the
-- claim (pending → sending) and a retry (sending → retrying) change no
-- indexed column, so they can be HOT; only the final update (completed_at
-- set) still writes index entries. fillfactor 70 leaves a page room for
-- those new versions.
--
-- Measured on test databases (2-core machine shared with other work):
-- - one fan-out to 2 000 supporters and 100 endpoints, pg_stat_user_tables
--   of `deliveries`: HOT updates 0 of 4 200 with the old indexes; 1 278 of
--   3 948 with this migration (fillfactor 70); 1 900 of 3 603 at
--   fillfactor 50, which would double the heap a freeze writes (100 000
--   rows: 21.1 MB, against 15.0 at 70 and 10.4 at 100); 548 of 3 800 with
--   the new index at fillfactor 100. fillfactor alone, old indexes: 0 HOT.
-- - the queries the old indexes served, on 300 000 finished email rows,
--   30 000 finished webhook rows and 3 000 + 500 unfinished ones (EXPLAIN
--   ANALYZE, median of 5, each rolled back), old → new: email sweep of
--   stale `sending` rows 91.8 → 8.1 ms, email stale-due sweep 47.7 → 7.5,
--   webhook stale `sending` 9.0 → 0.5, webhook overdue 15.4 → 0.9, a
--   supporter's unsent rows 0.16 → 0.11. Every one still reads the
--   unfinished rows through an index (the new one); they got cheaper
--   because their own updates are now HOT. The queries say
--   `completed_at IS NULL` so that the planner can use the partial index.

-- Rows written before completed_at existed (migration 002) or by hand.
UPDATE deliveries SET completed_at = updated_at
 WHERE completed_at IS NULL AND status NOT IN ('pending', 'retrying', 'sending');
UPDATE deliveries SET completed_at = NULL
 WHERE completed_at IS NOT NULL AND status IN ('pending', 'retrying', 'sending');
-- The sweeps find unfinished rows by completed_at alone: a row that breaks
-- this would never be retried, so a writer that breaks it fails instead.
ALTER TABLE deliveries ADD CONSTRAINT deliveries_completed_iff_final
  CHECK ((completed_at IS NULL) = (status IN ('pending', 'retrying', 'sending')));

DROP INDEX deliveries_webhook_due_idx;
DROP INDEX deliveries_email_recipient_idx;
CREATE INDEX deliveries_unfinished_idx ON deliveries (channel, recipient_id) WHERE completed_at IS NULL;
ALTER TABLE deliveries SET (fillfactor = 70);

-- Down Migration
ALTER TABLE deliveries RESET (fillfactor);
DROP INDEX deliveries_unfinished_idx;
CREATE INDEX deliveries_email_recipient_idx ON deliveries (recipient_id)
  WHERE channel = 'email' AND status IN ('pending', 'retrying', 'sending');
CREATE INDEX deliveries_webhook_due_idx ON deliveries (next_attempt_at NULLS FIRST)
  WHERE channel = 'webhook' AND status IN ('pending', 'retrying', 'sending');
ALTER TABLE deliveries DROP CONSTRAINT deliveries_completed_iff_final;
