-- Up Migration
-- "I took action" (contract §8): how many actions were taken on an appeal,
-- counted per UTC day and per source — the public button on the appeal
-- page, or an organisation reporting what its own supporters did (offline
-- letters, its own site). Counts only: no address, no IP, no user agent, no
-- cookie, nothing that could tell who acted. A click adds 1 to its day's
-- row; a report adds its count to the reporting organisation's row.
CREATE TABLE appeal_actions (
  appeal_id       uuid NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
  day             date NOT NULL,
  source          text NOT NULL CHECK (source IN ('public', 'organisation')),
  -- The reporting organisation (not a person) for `organisation`; none for the button.
  organisation_id uuid REFERENCES organisations (id),
  count           bigint NOT NULL CHECK (count > 0),
  CHECK ((source = 'organisation') = (organisation_id IS NOT NULL)),
  -- One row per (appeal, day, source[, organisation]): every action is an
  -- upsert of that row. Leading appeal_id: an appeal's total is an index scan.
  CONSTRAINT appeal_actions_key UNIQUE NULLS NOT DISTINCT (appeal_id, day, source, organisation_id)
);

-- Down Migration
DROP TABLE appeal_actions;
