-- Up Migration
-- Two-person approval (contract §3, issue 11): an organisation decides which
-- appeals need a second person's approval before they are published; an
-- appeal knows whether it is sensitive, who made its current content, and
-- who approved it, when, and which version they saw.
--
-- Who acted is an actor reference, `key:<uuid>` or `person:<uuid>`
-- (src/auth/api-keys.ts actorRef): API keys now, console people later, one
-- comparable string for both. It is not a foreign key because it points at
-- one of two tables; keys and people are never deleted, only revoked or
-- disabled, so a reference keeps resolving.

ALTER TABLE organisations ADD COLUMN approval_policy text NOT NULL DEFAULT 'sensitive'
  CHECK (approval_policy IN ('none', 'sensitive', 'all'));

ALTER TABLE appeals
  ADD COLUMN sensitive        boolean NOT NULL DEFAULT false,
  -- Who made the current version's content (the approver must be someone else).
  ADD COLUMN content_by       text CHECK (content_by ~ '^(key|person):[0-9a-f-]{36}$'),
  ADD COLUMN approved_by      text CHECK (approved_by ~ '^(key|person):[0-9a-f-]{36}$'),
  ADD COLUMN approved_at      timestamptz,
  -- The version the approver saw (their If-Match).
  ADD COLUMN approved_version int;

-- Existing appeals: sensitive when a child is counted (the rule new ones follow).
UPDATE appeals SET sensitive = true
 WHERE coalesce((people_at_risk ->> 'girls')::int, 0) + coalesce((people_at_risk ->> 'boys')::int, 0)
     + coalesce((people_at_risk ->> 'minors')::int, 0) > 0;

-- Existing appeals: the content's author is whoever last changed it, as the
-- audit log knows (operator actions from the CLI name nobody: left NULL).
UPDATE appeals a SET content_by = 'key:' || l.api_key_id
  FROM (SELECT DISTINCT ON (resource_id) resource_id, api_key_id FROM audit_log
         WHERE resource_type = 'appeal' AND action IN ('appeal.create', 'appeal.update', 'appeal.translate', 'appeal.follow-up')
         ORDER BY resource_id, id DESC) l
 WHERE l.resource_id = a.id::text AND l.api_key_id IS NOT NULL;

ALTER TABLE appeals
  -- A child case is always sensitive: no code path may forget it.
  ADD CONSTRAINT appeals_children_sensitive CHECK (sensitive
    OR coalesce((people_at_risk ->> 'girls')::int, 0) + coalesce((people_at_risk ->> 'boys')::int, 0)
     + coalesce((people_at_risk ->> 'minors')::int, 0) = 0),
  -- An approval is whole or absent.
  ADD CONSTRAINT appeals_approval_whole CHECK (
    (approved_by IS NULL) = (approved_at IS NULL) AND (approved_by IS NULL) = (approved_version IS NULL));

-- Down Migration
ALTER TABLE appeals DROP CONSTRAINT appeals_approval_whole, DROP CONSTRAINT appeals_children_sensitive,
  DROP COLUMN approved_version, DROP COLUMN approved_at, DROP COLUMN approved_by, DROP COLUMN content_by,
  DROP COLUMN sensitive;
ALTER TABLE organisations DROP COLUMN approval_policy;
