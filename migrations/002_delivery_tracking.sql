-- Up Migration
-- What every delivery channel shares: when a row was last handed to a
-- queue (the reconciler re-enqueues due rows whose job was lost) and when
-- it reached a final state.
ALTER TABLE deliveries
  ADD COLUMN queued_at    timestamptz,
  ADD COLUMN completed_at timestamptz;

CREATE INDEX deliveries_due_idx ON deliveries (channel, next_attempt_at)
  WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_event_channel_status_idx ON deliveries (event_id, channel, status);

-- Down Migration
DROP INDEX deliveries_event_channel_status_idx;
DROP INDEX deliveries_due_idx;
ALTER TABLE deliveries DROP COLUMN completed_at, DROP COLUMN queued_at;
