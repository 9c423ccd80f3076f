-- Up Migration
-- People (contract §9): console accounts of an organisation, each with one
-- role (the rights of an API key of that role), signing in with passkeys
-- (WebAuthn). Secrets are never stored in clear: enrolment links and
-- session cookies are random tokens kept as SHA-256; a passkey's public key
-- is not a secret.

CREATE TABLE people (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  organisation_id uuid NOT NULL REFERENCES organisations (id),
  email           text NOT NULL,
  display_name    text NOT NULL DEFAULT '',
  role            text NOT NULL CHECK (role IN ('admin', 'editor', 'partner')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  -- Disabled people cannot sign in, and their sessions stop at once (checked on every request).
  disabled_at     timestamptz
);
-- One account per address within an organisation. Not across organisations:
-- an admin inviting an address must not learn that another organisation has it.
CREATE UNIQUE INDEX people_organisation_email_key ON people (organisation_id, lower(email));

CREATE TABLE passkeys (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  person_id      uuid NOT NULL REFERENCES people (id),
  -- The credential id as the browser reports it (base64url): how a sign-in finds its passkey.
  credential_id  text NOT NULL UNIQUE,
  public_key     bytea NOT NULL,
  -- The authenticator's signature counter (0 for most passkeys, which do not count).
  counter        bigint NOT NULL DEFAULT 0,
  transports     text[] NOT NULL DEFAULT '{}',
  name           text NOT NULL,
  device_type    text NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up      boolean NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_used_at   timestamptz,
  -- Kept (not deleted) when revoked: the audit log refers to it.
  revoked_at     timestamptz
);
CREATE INDEX passkeys_person_idx ON passkeys (person_id);

-- One-time links that let a person register a passkey: 24 h from
-- create-user or an invitation, 15 min when sent again. A newer link voids
-- the older ones of the same person.
CREATE TABLE enrolment_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  person_id   uuid NOT NULL REFERENCES people (id),
  token_hash  bytea NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  voided_at   timestamptz
);
CREATE INDEX enrolment_tokens_person_idx ON enrolment_tokens (person_id);

-- WebAuthn challenges: server-side, single use (deleted when answered),
-- short-lived. A registration challenge names who may answer it (the
-- enrolment link, or the signed-in person adding a passkey).
CREATE TABLE webauthn_challenges (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  purpose             text NOT NULL CHECK (purpose IN ('register', 'authenticate')),
  challenge           text NOT NULL,
  person_id           uuid REFERENCES people (id) ON DELETE CASCADE,
  enrolment_token_id  uuid REFERENCES enrolment_tokens (id) ON DELETE CASCADE,
  expires_at          timestamptz NOT NULL,
  CHECK ((purpose = 'register') = (person_id IS NOT NULL))
);
CREATE INDEX webauthn_challenges_expires_idx ON webauthn_challenges (expires_at);

-- Console sessions: the cookie holds a random token, the row its hash. A
-- session ends after 30 min without a request (last_seen_at), at its
-- absolute expiry (12 h after sign-in), on sign-out (revoked_at), on "sign
-- out everywhere", when its passkey is revoked, or when the person is disabled.
CREATE TABLE console_sessions (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  person_id     uuid NOT NULL REFERENCES people (id),
  passkey_id    uuid REFERENCES passkeys (id),
  token_hash    bytea NOT NULL UNIQUE,
  -- The synchronizer token every state change must carry (in the form or a header).
  csrf_token    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz
);
CREATE INDEX console_sessions_person_idx ON console_sessions (person_id) WHERE revoked_at IS NULL;

-- Who acted: an API key (api_key_id) or a person signed in to the console (person_id).
ALTER TABLE audit_log ADD COLUMN person_id uuid REFERENCES people (id);

-- Down Migration
ALTER TABLE audit_log DROP COLUMN person_id;
DROP TABLE console_sessions, webauthn_challenges, enrolment_tokens, passkeys, people;
