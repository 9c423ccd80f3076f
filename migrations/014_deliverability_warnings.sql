-- Up Migration
-- Deliverability health (contract §10, issue 13): the warning an appeal
-- gets when its complaint rate passes 0.1 % or its hard-bounce rate 2 %
-- (services/email-reports.ts). One row per appeal and kind: the primary key
-- is what makes the audit-log warning happen once, even when two reports
-- of one appeal cross the line in concurrent transactions. Counts only.
CREATE TABLE appeal_email_warnings (
  appeal_id uuid NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
  kind      text NOT NULL CHECK (kind IN ('hard-bounce', 'complaint')),
  -- What was measured when the line was crossed.
  reports   integer NOT NULL,
  sent      integer NOT NULL,
  threshold numeric NOT NULL,
  at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (appeal_id, kind)
);

-- /metrics counts the reports of the last 24 h (in the background) without reading the whole table.
CREATE INDEX email_reports_received_idx ON email_reports (received_at);

-- Down Migration
DROP INDEX email_reports_received_idx;
DROP TABLE appeal_email_warnings;
