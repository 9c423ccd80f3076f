-- Up Migration
-- The audience freeze (one INSERT … SELECT … ON CONFLICT DO NOTHING per
-- event and channel) must write 100 000 delivery rows in under a second.
-- Each row paid a heap insert, an entry in every index whose predicate it
-- matches (five for a pending email row) and a foreign-key trigger:
-- `npm run bench -- --scenario freeze --n 100000` took 1 181 ms (median of
-- 3 runs), 738 ms after this migration. Alternating schemas in one Postgres,
-- backend CPU per freeze: ~1 130 ms as 001–004 leave it, ~900 ms without
-- the foreign key, ~720 ms also without the two indexes replaced below.
-- What goes, and why no query loses its index (EXPLAIN on a 100 000-row
-- event, before and after):

-- 1. The foreign key on event_id: a per-row trigger (~0.25 s per 100 000
--    rows). Events are never deleted, and every writer takes the id from an
--    events row it has just read: the webhook freeze joins events for it,
--    the email freeze gets the row the fan-out job loaded, the test ping
--    the row its own transaction inserted.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_id_fkey;

-- 2. (event_id, channel, status): the unique key (event_id, channel,
--    recipient_id) has the same leading columns and answers what it
--    answered (an event's rows of one channel: the email enqueue cursor, the
--    webhook enqueue, an appeal's delivery counts).
DROP INDEX deliveries_event_channel_status_idx;

-- 3. (channel, next_attempt_at) over pending and retrying rows of both
--    channels: the unfinished email rows are all in
--    deliveries_email_recipient_idx (channel 'email', status pending,
--    retrying or sending), which the email reconciler's sweeps now read.
--    Webhook rows get their own, narrower index, in the order the webhook
--    reconciler takes them, with `sending` so that its sweep of rows stuck
--    in flight is index-backed too (it had borrowed the index dropped in 2).
DROP INDEX deliveries_due_idx;
CREATE INDEX deliveries_webhook_due_idx ON deliveries (next_attempt_at NULLS FIRST)
  WHERE channel = 'webhook' AND status IN ('pending', 'retrying', 'sending');

-- Down Migration
DROP INDEX deliveries_webhook_due_idx;
CREATE INDEX deliveries_due_idx ON deliveries (channel, next_attempt_at)
  WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_event_channel_status_idx ON deliveries (event_id, channel, status);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id);
