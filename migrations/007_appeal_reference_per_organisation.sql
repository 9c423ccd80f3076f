-- Up Migration
-- Appeal references are unique within their organisation (contract §3):
-- two NGOs may each have their `UA 001/19`, and nothing one organisation
-- does with a reference reveals another's. Generated references count per
-- organisation and year.

ALTER TABLE appeals DROP CONSTRAINT appeals_reference_key;
ALTER TABLE appeals ADD CONSTRAINT appeals_organisation_reference_key UNIQUE (organisation_id, reference);

ALTER TABLE reference_counters RENAME TO reference_counters_global;
CREATE TABLE reference_counters (
  organisation_id uuid NOT NULL REFERENCES organisations (id),
  year            int NOT NULL,
  last            int NOT NULL,
  PRIMARY KEY (organisation_id, year)
);
-- Each organisation continues after the highest `UA nnn/yy` of its own that
-- the global counter could have generated; numbers above the global counter
-- were chosen by hand and are skipped when the counter reaches them, as before.
INSERT INTO reference_counters (organisation_id, year, last)
SELECT a.organisation_id, g.year, max(m[1]::int)
  FROM appeals a
 CROSS JOIN LATERAL regexp_match(a.reference, '^UA ([0-9]{1,9})/([0-9]{2})$') AS m
  JOIN reference_counters_global g ON g.year % 100 = m[2]::int AND m[1]::int <= g.last
 GROUP BY a.organisation_id, g.year;
DROP TABLE reference_counters_global;

-- Down Migration
-- Fails if two organisations now share a reference (which the old global constraint forbade).
ALTER TABLE appeals DROP CONSTRAINT appeals_organisation_reference_key;
ALTER TABLE appeals ADD CONSTRAINT appeals_reference_key UNIQUE (reference);
ALTER TABLE reference_counters RENAME TO reference_counters_per_organisation;
CREATE TABLE reference_counters (
  year int PRIMARY KEY,
  last int NOT NULL
);
INSERT INTO reference_counters (year, last)
SELECT year, max(last) FROM reference_counters_per_organisation GROUP BY year;
DROP TABLE reference_counters_per_organisation;
