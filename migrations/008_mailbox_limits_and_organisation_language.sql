-- Up Migration
-- Confirmation-mail bombing (contract §6): `a.b+tag@` forms of one mailbox
-- are different addresses (stored as typed, one subscription each) but one
-- mailbox, which gets at most one confirmation mail per 24 hours. The
-- mailbox is known only by a keyed hash of its canonical form (HMAC under
-- SECRETS_KEY, another purpose than the address hash). Rows older than a
-- day decide nothing and are purged by the worker; erasure deletes the
-- supporter's row at once.
CREATE TABLE confirmation_limits (
  mailbox_hash bytea PRIMARY KEY,
  last_sent_at timestamptz NOT NULL
);

-- "This wasn't me" and a bounced confirmation block the whole mailbox, not
-- only the form of the address that was used: a suppression may also carry
-- the mailbox hash, which subscribe checks.
ALTER TABLE email_suppressions ADD COLUMN mailbox_hash bytea;
CREATE INDEX email_suppressions_mailbox_idx ON email_suppressions (mailbox_hash) WHERE mailbox_hash IS NOT NULL;

-- Mail to an organisation (webhook endpoint notices) in its language.
ALTER TABLE organisations ADD COLUMN language text NOT NULL DEFAULT 'en';

-- Down Migration
ALTER TABLE organisations DROP COLUMN language;
DROP INDEX email_suppressions_mailbox_idx;
ALTER TABLE email_suppressions DROP COLUMN mailbox_hash;
DROP TABLE confirmation_limits;
