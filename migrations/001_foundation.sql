-- Up Migration
-- Foundation: organisations and keys, appeals with translations and
-- follow-ups, the events outbox, deliveries, idempotency and the audit log.

CREATE TABLE organisations (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  name          text NOT NULL UNIQUE,
  kind          text NOT NULL CHECK (kind IN ('ngo', 'partner')),
  contact_email text,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  organisation_id uuid NOT NULL REFERENCES organisations (id),
  role            text NOT NULL CHECK (role IN ('admin', 'editor', 'partner')),
  name            text NOT NULL,
  -- The visible start of the key, used to find the row; the rest is only hashed.
  prefix          text NOT NULL UNIQUE,
  secret_hash     bytea NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_used_at    timestamptz,
  revoked_at      timestamptz
);
CREATE INDEX api_keys_organisation_idx ON api_keys (organisation_id);

-- Language-aware full-text configuration; unknown languages fall back to
-- 'simple' (no stemming) so every script is still searchable.
CREATE FUNCTION ua_ts_config(language text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  -- Every Snowball configuration PostgreSQL 15+ ships, by primary subtag.
  SELECT CASE split_part(lower(language), '-', 1)
    WHEN 'ar' THEN 'arabic'::regconfig
    WHEN 'hy' THEN 'armenian'::regconfig
    WHEN 'eu' THEN 'basque'::regconfig
    WHEN 'ca' THEN 'catalan'::regconfig
    WHEN 'da' THEN 'danish'::regconfig
    WHEN 'nl' THEN 'dutch'::regconfig
    WHEN 'en' THEN 'english'::regconfig
    WHEN 'fi' THEN 'finnish'::regconfig
    WHEN 'fr' THEN 'french'::regconfig
    WHEN 'de' THEN 'german'::regconfig
    WHEN 'el' THEN 'greek'::regconfig
    WHEN 'hi' THEN 'hindi'::regconfig
    WHEN 'hu' THEN 'hungarian'::regconfig
    WHEN 'id' THEN 'indonesian'::regconfig
    WHEN 'ga' THEN 'irish'::regconfig
    WHEN 'it' THEN 'italian'::regconfig
    WHEN 'lt' THEN 'lithuanian'::regconfig
    WHEN 'ne' THEN 'nepali'::regconfig
    WHEN 'no' THEN 'norwegian'::regconfig
    WHEN 'nb' THEN 'norwegian'::regconfig
    WHEN 'nn' THEN 'norwegian'::regconfig
    WHEN 'pt' THEN 'portuguese'::regconfig
    WHEN 'ro' THEN 'romanian'::regconfig
    WHEN 'ru' THEN 'russian'::regconfig
    WHEN 'sr' THEN 'serbian'::regconfig
    WHEN 'es' THEN 'spanish'::regconfig
    WHEN 'sv' THEN 'swedish'::regconfig
    WHEN 'ta' THEN 'tamil'::regconfig
    WHEN 'tr' THEN 'turkish'::regconfig
    WHEN 'yi' THEN 'yiddish'::regconfig
    ELSE 'simple'::regconfig
  END
$$;

-- Joins a text list for full-text search. array_to_string is only STABLE in
-- general (element output may depend on settings); for text[] it is not.
CREATE FUNCTION ua_join(parts text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT array_to_string(parts, ' ') $$;

CREATE TABLE reference_counters (
  year int PRIMARY KEY,
  last int NOT NULL
);

CREATE TABLE appeals (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Immutable insertion order: the keyset for pagination.
  seq                  bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  organisation_id      uuid NOT NULL REFERENCES organisations (id),
  reference            text NOT NULL UNIQUE,
  status               text NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft', 'published', 'closed', 'withdrawn')),
  version              int NOT NULL DEFAULT 1,
  language             text NOT NULL,
  title                text NOT NULL,
  summary              text NOT NULL,
  body                 text NOT NULL DEFAULT '',
  urgency              text NOT NULL CHECK (urgency IN ('critical', 'high', 'normal')),
  countries            text[] NOT NULL,
  subdivisions         text[] NOT NULL DEFAULT '{}',
  themes               text[] NOT NULL DEFAULT '{}',
  people_at_risk       jsonb NOT NULL,
  targets              jsonb NOT NULL DEFAULT '[]',
  asks                 text[] NOT NULL DEFAULT '{}',
  legal_basis          text[] NOT NULL DEFAULT '{}',
  sources              jsonb NOT NULL DEFAULT '[]',
  action_deadline      date,
  embargo_until        timestamptz,
  -- Set by publish while an embargo holds; the worker publishes when it lifts.
  publish_requested_at timestamptz,
  outcome              jsonb,
  withdrawal_reason    text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  published_at         timestamptz,
  closed_at            timestamptz,
  withdrawn_at         timestamptz,
  search               tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector(ua_ts_config(language), title), 'A') ||
    setweight(to_tsvector(ua_ts_config(language), summary), 'B') ||
    setweight(to_tsvector(ua_ts_config(language), body || ' ' || ua_join(asks)), 'C') ||
    to_tsvector('simple', title || ' ' || summary || ' ' || body || ' ' || ua_join(asks))
  ) STORED
);
CREATE INDEX appeals_status_seq_idx ON appeals (status, seq DESC);
CREATE INDEX appeals_organisation_seq_idx ON appeals (organisation_id, seq DESC);
CREATE INDEX appeals_countries_idx ON appeals USING gin (countries);
CREATE INDEX appeals_themes_idx ON appeals USING gin (themes);
CREATE INDEX appeals_search_idx ON appeals USING gin (search);
CREATE INDEX appeals_updated_idx ON appeals (updated_at);
CREATE INDEX appeals_scheduled_idx ON appeals (embargo_until)
  WHERE status = 'draft' AND publish_requested_at IS NOT NULL;

CREATE TABLE appeal_translations (
  appeal_id  uuid NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
  language   text NOT NULL,
  title      text NOT NULL,
  summary    text NOT NULL,
  body       text NOT NULL DEFAULT '',
  asks       text[] NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- Each language version is searched on its own, like the original.
  search     tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector(ua_ts_config(language), title), 'A') ||
    setweight(to_tsvector(ua_ts_config(language), summary), 'B') ||
    setweight(to_tsvector(ua_ts_config(language), body || ' ' || ua_join(asks)), 'C') ||
    to_tsvector('simple', title || ' ' || summary || ' ' || body || ' ' || ua_join(asks))
  ) STORED,
  PRIMARY KEY (appeal_id, language)
);
CREATE INDEX appeal_translations_language_idx ON appeal_translations (language);
CREATE INDEX appeal_translations_search_idx ON appeal_translations USING gin (search);

CREATE TABLE appeal_updates (
  appeal_id    uuid NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
  number       int NOT NULL,
  body         text NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (appeal_id, number)
);

-- One row; its lock is held until commit so that event positions become
-- visible in order and a poller of /v1/events never skips one.
CREATE TABLE event_position (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last      bigint NOT NULL
);
INSERT INTO event_position VALUES (true, 0);

CREATE TABLE events (
  id              text PRIMARY KEY CHECK (id ~ '^msg_[0-9A-Za-z]{26}$'),
  position        bigint NOT NULL UNIQUE,
  type            text NOT NULL,
  appeal_id       uuid REFERENCES appeals (id),
  -- Set for events addressed to one organisation only (webhook.test).
  organisation_id uuid REFERENCES organisations (id),
  payload         jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  dispatched_at   timestamptz
);
CREATE INDEX events_undispatched_idx ON events (position) WHERE dispatched_at IS NULL;
CREATE INDEX events_appeal_idx ON events (appeal_id);

-- One row per (event, channel, recipient): the frozen audience of a fan-out.
CREATE TABLE deliveries (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id        text NOT NULL REFERENCES events (id),
  channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
  recipient_id    uuid NOT NULL,
  status          text NOT NULL DEFAULT 'pending',
  attempts        int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (event_id, channel, recipient_id)
);

CREATE TABLE idempotency_keys (
  api_key_id      uuid NOT NULL REFERENCES api_keys (id),
  key             text NOT NULL,
  method          text NOT NULL,
  path            text NOT NULL,
  request_hash    text NOT NULL,
  response_status int,
  response_body   text,
  response_headers jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE TABLE audit_log (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT now(),
  organisation_id uuid REFERENCES organisations (id),
  api_key_id      uuid REFERENCES api_keys (id),
  actor_role      text,
  action          text NOT NULL,
  resource_type   text NOT NULL,
  resource_id     text,
  details         jsonb NOT NULL DEFAULT '{}'
);

-- Down Migration
DROP TABLE audit_log, idempotency_keys, deliveries, events, event_position,
  appeal_updates, appeal_translations, appeals, reference_counters, api_keys,
  organisations;
DROP FUNCTION ua_ts_config(text), ua_join(text[]);
