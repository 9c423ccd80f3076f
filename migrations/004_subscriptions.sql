-- Up Migration
-- Supporters (contract §6): subscriptions with double opt-in, the
-- append-only consent ledger, and the suppression list. Email deliveries
-- use the shared `deliveries` table (channel 'email', recipient_id =
-- subscriptions.id).
--
-- Tokens are never stored. A token is derived from SECRETS_KEY, the
-- subscription id and a random nonce kept here (useless without the key),
-- so the worker can put it into mail; lookups go through an HMAC-SHA256 of
-- the token, keyed by SECRETS_KEY. One purpose per token: confirmation
-- (expires after 72 h, cleared once used) and management.

CREATE TABLE subscriptions (
  id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Immutable insertion order: the keyset for staff pagination.
  seq                     bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  email                   text NOT NULL,
  -- HMAC of the normalised address: one subscription per address, and the
  -- join key to the suppression list.
  email_hash              bytea NOT NULL UNIQUE,
  language                text NOT NULL,
  countries               text[] NOT NULL DEFAULT '{}',
  themes                  text[] NOT NULL DEFAULT '{}',
  min_urgency             text NOT NULL DEFAULT 'normal' CHECK (min_urgency IN ('critical', 'high', 'normal')),
  status                  text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'unsubscribed')),
  confirm_nonce           bytea,
  confirm_token_hash      bytea UNIQUE,
  confirm_expires_at      timestamptz,
  manage_nonce            bytea NOT NULL,
  manage_token_hash       bytea NOT NULL UNIQUE,
  -- When a confirmation mail was last decided on (the 24 h rule) and when
  -- the worker handed it to SMTP (the reconciler re-sends lost ones).
  confirmation_sent_at    timestamptz,
  confirmation_mailed_at  timestamptz,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  confirmed_at            timestamptz,
  unsubscribed_at         timestamptz
);
-- The audience query scans active subscriptions only.
CREATE INDEX subscriptions_active_idx ON subscriptions (seq) WHERE status = 'active';
CREATE INDEX subscriptions_status_seq_idx ON subscriptions (status, seq);
CREATE INDEX subscriptions_confirmation_due_idx ON subscriptions (confirmation_sent_at)
  WHERE status = 'pending' AND confirmation_mailed_at IS NULL;

-- Append-only: what each supporter agreed to, when, through which path and
-- having seen which version of the consent wording. Survives erasure
-- without the address (subscription_id has no foreign key on purpose).
CREATE TABLE consent_ledger (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at                   timestamptz NOT NULL DEFAULT now(),
  subscription_id      uuid NOT NULL,
  action               text NOT NULL CHECK (action IN
                         ('subscribe', 'confirm', 'cancel', 'preferences', 'unsubscribe', 'resubscribe', 'erase')),
  source               text NOT NULL,
  consent_text_version text NOT NULL,
  details              jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX consent_ledger_subscription_idx ON consent_ledger (subscription_id, id);

CREATE FUNCTION consent_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'consent_ledger is append-only';
END
$$;
CREATE TRIGGER consent_ledger_no_update BEFORE UPDATE OR DELETE ON consent_ledger
  FOR EACH ROW EXECUTE FUNCTION consent_ledger_append_only();
CREATE TRIGGER consent_ledger_no_truncate BEFORE TRUNCATE ON consent_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION consent_ledger_append_only();

-- Addresses never to mail, by keyed hash only (an erased address leaves
-- nothing readable behind).
CREATE TABLE email_suppressions (
  email_hash bytea PRIMARY KEY,
  reason     text NOT NULL CHECK (reason IN ('unsubscribed', 'erased', 'hard-bounce', 'complaint')),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Email rows of one recipient (one-click unsubscribe cancels what is still queued).
CREATE INDEX deliveries_email_recipient_idx ON deliveries (recipient_id)
  WHERE channel = 'email' AND status IN ('pending', 'retrying', 'sending');

-- Down Migration
DROP INDEX deliveries_email_recipient_idx;
DROP TABLE email_suppressions;
DROP TABLE consent_ledger;
DROP FUNCTION consent_ledger_append_only();
DROP TABLE subscriptions;
