-- Up Migration
-- Every webhook attempt inserts one webhook_attempts row, and its foreign
-- key on delivery_id ran a per-row trigger (a key-share lookup of the
-- delivery, through the executor's SPI) inside the very statement that
-- writes the delivery's outcome (repositories/webhook-deliveries.ts,
-- recordFailureFree). Like deliveries.event_id (migration 005), the
-- reference holds without it: every writer takes delivery_id from a
-- deliveries row it has just claimed or inserted (the claim, the test
-- ping's insert in the same transaction), and deliveries are never
-- deleted, so the ON DELETE CASCADE had nothing to do. The index on
-- (delivery_id, id) stays: the delivery log reads attempts through it.
-- Postgres backend CPU per recorded outcome (attempt row + delivery
-- update, batches of 250; two databases on one server, rounds interleaved,
-- two runs): 32.0 / 32.1 µs with the key, 28.5 / 27.1 µs without.
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_fkey;

-- Down Migration
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_delivery_id_fkey
  FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE;
