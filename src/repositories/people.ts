// SQL for people (console accounts), their passkeys and enrolment links.
// Every read or change an admin makes is scoped by organisation here, in
// SQL: an admin of one organisation cannot see or touch another's people.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'
import type { Role } from '../auth/api-keys.js'

export interface PersonRow {
  id: string
  seq: number
  organisationId: string
  organisationName: string
  email: string
  displayName: string
  role: Role
  createdAt: string
  disabledAt: string | null
}

const PERSON = `p.id, p.seq, p.organisation_id AS "organisationId", o.name AS "organisationName", p.email,
  p.display_name AS "displayName", p.role, ${iso('p.created_at')} AS "createdAt", ${iso('p.disabled_at')} AS "disabledAt"`

/** Null when the organisation already has a person with this address (compared ignoring case). */
export async function insertPerson(db: Queryable, p: { organisationId: string; email: string; displayName: string; role: Role }): Promise<PersonRow | null> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO people (organisation_id, email, display_name, role) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING RETURNING id`, [p.organisationId, p.email, p.displayName, p.role])
  return rows[0] ? findPerson(db, rows[0].id) : null
}

export async function findPerson(db: Queryable, id: string): Promise<PersonRow | null> {
  const { rows } = await db.query<PersonRow>(
    `SELECT ${PERSON} FROM people p JOIN organisations o ON o.id = p.organisation_id WHERE p.id = $1`, [id])
  return rows[0] ?? null
}

export async function findPersonByEmail(db: Queryable, organisationId: string, email: string): Promise<PersonRow | null> {
  const { rows } = await db.query<PersonRow>(
    `SELECT ${PERSON} FROM people p JOIN organisations o ON o.id = p.organisation_id
      WHERE p.organisation_id = $1 AND lower(p.email) = lower($2)`, [organisationId, email])
  return rows[0] ?? null
}

/** One organisation's people, oldest first (the first admin at the top). */
export async function listPeople(db: Queryable, organisationId: string): Promise<(PersonRow & { passkeys: number })[]> {
  const { rows } = await db.query<PersonRow & { passkeys: number }>(
    `SELECT ${PERSON},
            (SELECT count(*)::int FROM passkeys k WHERE k.person_id = p.id AND k.revoked_at IS NULL) AS passkeys
       FROM people p JOIN organisations o ON o.id = p.organisation_id
      WHERE p.organisation_id = $1 ORDER BY p.seq LIMIT 1000`, [organisationId])
  return rows
}

/**
 * Disables a person of `organisationId` and ends their sessions in the same
 * statement. Null when no such person is in that organisation; `disabledNow`
 * false when they already were.
 */
export async function disablePerson(db: Queryable, organisationId: string, id: string): Promise<{ row: PersonRow; disabledNow: boolean } | null> {
  const { rows } = await db.query<{ id: string }>(
    `WITH disabled AS (
       UPDATE people SET disabled_at = now() WHERE id = $2 AND organisation_id = $1 AND disabled_at IS NULL RETURNING id
     ), ended AS (
       UPDATE console_sessions SET revoked_at = now() WHERE person_id IN (SELECT id FROM disabled) AND revoked_at IS NULL
     )
     SELECT id FROM disabled`, [organisationId, id])
  const row = await findPerson(db, id)
  if (!row || row.organisationId !== organisationId) return null
  return { row, disabledNow: rows.length > 0 }
}

// ---- Enrolment links ---------------------------------------------------------

export interface EnrolmentRow {
  id: string
  personId: string
  expiresAt: string
  usedAt: string | null
  voidedAt: string | null
  expired: boolean
}

/**
 * A new link for `personId`, valid `seconds`; earlier unused links of the
 * person are voided. `id` is given when the token is derived from it (a mailed link).
 */
export async function insertEnrolmentToken(db: Queryable, personId: string, tokenHash: Buffer, seconds: number, id?: string): Promise<EnrolmentRow> {
  await db.query(
    `UPDATE enrolment_tokens SET voided_at = now() WHERE person_id = $1 AND used_at IS NULL AND voided_at IS NULL`, [personId])
  const { rows } = await db.query<EnrolmentRow>(
    `INSERT INTO enrolment_tokens (id, person_id, token_hash, expires_at)
     VALUES (coalesce($4::uuid, gen_random_uuid()), $1, $2, now() + make_interval(secs => $3))
     RETURNING id, person_id AS "personId", ${iso('expires_at')} AS "expiresAt", NULL AS "usedAt", NULL AS "voidedAt", false AS expired`,
    [personId, tokenHash, seconds, id ?? null])
  return rows[0]!
}

/** What the enrolment mail needs: the link's hash and whether it still works, and whom it is for. */
export interface EnrolmentMailRow {
  id: string
  tokenHash: Buffer
  expiresAt: string
  /** Unused, not voided, not expired, and its person not disabled. */
  open: boolean
  email: string
  displayName: string
  role: Role
  organisationName: string
}

export async function findEnrolmentForMail(db: Queryable, id: string): Promise<EnrolmentMailRow | null> {
  const { rows } = await db.query<EnrolmentMailRow>(
    `SELECT t.id, t.token_hash AS "tokenHash", ${iso('t.expires_at')} AS "expiresAt",
            (t.used_at IS NULL AND t.voided_at IS NULL AND t.expires_at > now() AND p.disabled_at IS NULL) AS open,
            p.email, p.display_name AS "displayName", p.role, o.name AS "organisationName"
       FROM enrolment_tokens t JOIN people p ON p.id = t.person_id JOIN organisations o ON o.id = p.organisation_id
      WHERE t.id = $1`, [id])
  return rows[0] ?? null
}

/** The link behind a token hash, whatever its state (the page says why it no longer works). */
export async function findEnrolmentToken(db: Queryable, tokenHash: Buffer): Promise<EnrolmentRow | null> {
  const { rows } = await db.query<EnrolmentRow>(
    `SELECT id, person_id AS "personId", ${iso('expires_at')} AS "expiresAt", ${iso('used_at')} AS "usedAt",
            ${iso('voided_at')} AS "voidedAt", expires_at <= now() AS expired
       FROM enrolment_tokens WHERE token_hash = $1`, [tokenHash])
  return rows[0] ?? null
}

/** Uses a link once: false when it was used, voided or expired meanwhile (or its person disabled). */
export async function useEnrolmentToken(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE enrolment_tokens t SET used_at = now()
       FROM people p
      WHERE t.id = $1 AND p.id = t.person_id AND p.disabled_at IS NULL
        AND t.used_at IS NULL AND t.voided_at IS NULL AND t.expires_at > now()`, [id])
  return rowCount === 1
}

// ---- Passkeys ----------------------------------------------------------------

export interface PasskeyRow {
  id: string
  personId: string
  credentialId: string
  transports: string[]
  name: string
  deviceType: 'singleDevice' | 'multiDevice'
  backedUp: boolean
  createdAt: string
  lastUsedAt: string | null
}

const PASSKEY = `k.id, k.person_id AS "personId", k.credential_id AS "credentialId", k.transports, k.name,
  k.device_type AS "deviceType", k.backed_up AS "backedUp", ${iso('k.created_at')} AS "createdAt", ${iso('k.last_used_at')} AS "lastUsedAt"`

export async function insertPasskey(db: Queryable, k: {
  personId: string; credentialId: string; publicKey: Uint8Array; counter: number; transports: string[]; name: string
  deviceType: 'singleDevice' | 'multiDevice'; backedUp: boolean
}): Promise<PasskeyRow> {
  const { rows } = await db.query<PasskeyRow>(
    `INSERT INTO passkeys AS k (person_id, credential_id, public_key, counter, transports, name, device_type, backed_up)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${PASSKEY}`,
    [k.personId, k.credentialId, Buffer.from(k.publicKey), k.counter, k.transports, k.name, k.deviceType, k.backedUp])
  return rows[0]!
}

/** A person's passkeys that still work, oldest first. */
export async function listPasskeys(db: Queryable, personId: string): Promise<PasskeyRow[]> {
  const { rows } = await db.query<PasskeyRow>(
    `SELECT ${PASSKEY} FROM passkeys k WHERE k.person_id = $1 AND k.revoked_at IS NULL ORDER BY k.created_at, k.id`, [personId])
  return rows
}

/** The unrevoked passkey of an enabled person behind a credential id, with what verification needs. */
export async function findPasskeyForSignIn(db: Queryable, credentialId: string): Promise<(PasskeyRow & { publicKey: Buffer; counter: number }) | null> {
  const { rows } = await db.query<PasskeyRow & { publicKey: Buffer; counter: number }>(
    `SELECT ${PASSKEY}, k.public_key AS "publicKey", k.counter
       FROM passkeys k JOIN people p ON p.id = k.person_id
      WHERE k.credential_id = $1 AND k.revoked_at IS NULL AND p.disabled_at IS NULL`, [credentialId])
  return rows[0] ?? null
}

export async function recordPasskeyUse(db: Queryable, id: string, counter: number): Promise<void> {
  await db.query(`UPDATE passkeys SET counter = $2, last_used_at = now() WHERE id = $1`, [id, counter])
}

/**
 * Revokes one of the person's own passkeys and ends the sessions opened
 * with it — unless it is their last one (they could never sign in again).
 * 'last' / 'missing' say why nothing changed.
 */
export async function revokePasskey(db: Queryable, personId: string, id: string): Promise<PasskeyRow | 'last' | 'missing'> {
  // Locks the person's passkeys: two revocations at once cannot both pass the "not the last" check.
  const { rows: mine } = await db.query<{ id: string }>(
    `SELECT id FROM passkeys WHERE person_id = $1 AND revoked_at IS NULL ORDER BY id FOR UPDATE`, [personId])
  if (!mine.some((k) => k.id === id)) return 'missing'
  if (mine.length === 1) return 'last'
  const { rows } = await db.query<PasskeyRow>(
    `UPDATE passkeys k SET revoked_at = now() WHERE k.id = $1 AND k.person_id = $2 RETURNING ${PASSKEY}`, [id, personId])
  await db.query(`UPDATE console_sessions SET revoked_at = now() WHERE passkey_id = $1 AND revoked_at IS NULL`, [id])
  return rows[0]!
}
