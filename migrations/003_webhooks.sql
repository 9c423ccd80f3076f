-- Up Migration
-- Partner webhooks (contract §5): endpoints with their filters and
-- encrypted signing secrets, and one row per delivery attempt. Deliveries
-- themselves live in the shared `deliveries` table (channel = 'webhook',
-- recipient_id = webhook_endpoints.id).

CREATE TABLE webhook_endpoints (
  id                  uuid PRIMARY KEY,
  -- Immutable insertion order: the keyset for pagination.
  seq                 bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  organisation_id     uuid NOT NULL REFERENCES organisations (id),
  url                 text NOT NULL,
  description         text,
  event_types         text[] NOT NULL,
  countries           text[] NOT NULL DEFAULT '{}',
  themes              text[] NOT NULL DEFAULT '{}',
  min_urgency         text CHECK (min_urgency IN ('critical', 'high', 'normal')),
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  disabled_reason     text CHECK (disabled_reason IN ('gone', 'failing')),
  disabled_at         timestamptz,
  -- Start of the current run of failures; NULL after any success.
  failing_since       timestamptz,
  -- AES-256-GCM under SECRETS_KEY (iv | tag | ciphertext), the endpoint id as
  -- associated data so a ciphertext cannot be moved to another endpoint.
  secret_current      bytea NOT NULL,
  secret_previous     bytea,
  secret_previous_expires_at timestamptz,
  -- A disable/recovery email owed to the organisation's contact (sent by the worker).
  notice_pending      text CHECK (notice_pending IN ('disabled', 'recovered')),
  -- Set when an endpoint is disabled: its first success after re-enabling is news.
  notify_on_recovery  boolean NOT NULL DEFAULT false,
  version             int NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_organisation_seq_idx ON webhook_endpoints (organisation_id, seq DESC);
CREATE INDEX webhook_endpoints_event_types_idx ON webhook_endpoints USING gin (event_types);
CREATE INDEX webhook_endpoints_notice_idx ON webhook_endpoints (id) WHERE notice_pending IS NOT NULL;

CREATE TABLE webhook_attempts (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id     bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  trigger         text NOT NULL CHECK (trigger IN ('scheduled', 'manual', 'recover', 'test')),
  -- The peer address the request went to (NULL when no connection was made).
  address         text,
  status_code     int,
  error_class     text CHECK (error_class IN ('timeout', 'connection', 'dns', 'tls', 'http', 'blocked', 'redirect')),
  error           text,
  duration_ms     int NOT NULL,
  -- First 4 KB of the response body, as text.
  response        text,
  next_attempt_at timestamptz,
  at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

-- A partner's delivery log, newest first, optionally by status.
CREATE INDEX deliveries_webhook_recipient_idx ON deliveries (recipient_id, id DESC) WHERE channel = 'webhook';

-- Down Migration
DROP INDEX deliveries_webhook_recipient_idx;
DROP TABLE webhook_attempts, webhook_endpoints;
