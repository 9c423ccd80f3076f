-- Up Migration
-- Deliverability (contract §10, issue 13): bounce and complaint reports
-- that arrive after a relay accepted a mail (DSNs and ARF reports by SMTP,
-- provider webhooks). One row per report that took effect, so that counts
-- and rates per appeal can be read, and so that a repeated report (a
-- provider retrying its webhook) is recognised by `dedupe_key` and changes
-- nothing. No address is stored: `email_hash` is the same keyed HMAC as
-- subscriptions.email_hash and email_suppressions.email_hash.

CREATE TABLE email_reports (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('hard-bounce', 'soft-bounce', 'complaint')),
  source      text NOT NULL CHECK (source IN ('smtp-dsn', 'smtp-arf', 'ses', 'postmark', 'mailgun', 'sendgrid')),
  -- The alert mail reported on, when known (return-path token or our Message-ID).
  delivery_id bigint REFERENCES deliveries (id) ON DELETE SET NULL,
  -- The delivery's appeal, copied here so that an appeal's counts read one index.
  appeal_id   uuid,
  email_hash  bytea,
  -- Enhanced status code (RFC 3463), e.g. 5.1.1; nothing free-form from a report is kept.
  status      text CHECK (status ~ '^[245]\.[0-9]{1,3}\.[0-9]{1,3}$'),
  occurred_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  -- SHA-256 of what makes two reports the same fact (services/email-reports.ts).
  dedupe_key  bytea NOT NULL UNIQUE
);
CREATE INDEX email_reports_appeal_idx ON email_reports (appeal_id, kind) WHERE appeal_id IS NOT NULL;
CREATE INDEX email_reports_soft_bounce_idx ON email_reports (email_hash, occurred_at) WHERE kind = 'soft-bounce';

-- Repeated temporary failures suppress too (after a count within a window).
ALTER TABLE email_suppressions DROP CONSTRAINT email_suppressions_reason_check,
  ADD CONSTRAINT email_suppressions_reason_check
    CHECK (reason IN ('unsubscribed', 'erased', 'soft-bounce', 'hard-bounce', 'complaint'));

-- A report that changes whether a supporter is mailed is a consent event.
ALTER TABLE consent_ledger DROP CONSTRAINT consent_ledger_action_check,
  ADD CONSTRAINT consent_ledger_action_check CHECK (action IN
    ('subscribe', 'confirm', 'cancel', 'preferences', 'unsubscribe', 'resubscribe', 'erase',
     'hard-bounce', 'soft-bounce', 'complaint'));

-- Down Migration
ALTER TABLE consent_ledger DROP CONSTRAINT consent_ledger_action_check,
  ADD CONSTRAINT consent_ledger_action_check CHECK (action IN
    ('subscribe', 'confirm', 'cancel', 'preferences', 'unsubscribe', 'resubscribe', 'erase')) NOT VALID;
DELETE FROM email_suppressions WHERE reason = 'soft-bounce';
ALTER TABLE email_suppressions DROP CONSTRAINT email_suppressions_reason_check,
  ADD CONSTRAINT email_suppressions_reason_check CHECK (reason IN ('unsubscribed', 'erased', 'hard-bounce', 'complaint'));
DROP TABLE email_reports;
