// SQL for console sessions and WebAuthn challenges. A session is found by
// the hash of its cookie's token, and only while it is alive: not revoked,
// used within the idle timeout, before its absolute expiry, its person not
// disabled — one statement checks all of that and records the use.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'
import type { Role } from '../auth/api-keys.js'

export interface LiveSession {
  id: string
  personId: string
  organisationId: string
  role: Role
  csrfToken: string
}

export async function insertSession(db: Queryable, s: {
  personId: string; passkeyId: string | null; tokenHash: Buffer; csrfToken: string; maxAgeSeconds: number
}): Promise<{ id: string; expiresAt: string }> {
  const { rows } = await db.query<{ id: string; expiresAt: string }>(
    `INSERT INTO console_sessions (person_id, passkey_id, token_hash, csrf_token, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING id, ${iso('expires_at')} AS "expiresAt"`,
    [s.personId, s.passkeyId, s.tokenHash, s.csrfToken, s.maxAgeSeconds])
  return rows[0]!
}

/**
 * The live session behind a token hash, its last use moved to now; null
 * when there is none, it idled out, expired, was revoked or its person is
 * disabled.
 */
export async function touchLiveSession(db: Queryable, tokenHash: Buffer, idleSeconds: number): Promise<LiveSession | null> {
  const { rows } = await db.query<LiveSession>(
    `UPDATE console_sessions s SET last_seen_at = now()
       FROM people p
      WHERE s.token_hash = $1 AND p.id = s.person_id
        AND s.revoked_at IS NULL AND s.expires_at > now()
        AND s.last_seen_at > now() - make_interval(secs => $2)
        AND p.disabled_at IS NULL
     RETURNING s.id, s.person_id AS "personId", p.organisation_id AS "organisationId", p.role, s.csrf_token AS "csrfToken"`,
    [tokenHash, idleSeconds])
  return rows[0] ?? null
}

export async function revokeSession(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE console_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, [id])
}

/** Ends every session of a person; returns how many were alive. */
export async function revokePersonSessions(db: Queryable, personId: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE console_sessions SET revoked_at = now() WHERE person_id = $1 AND revoked_at IS NULL AND expires_at > now()`, [personId])
  return rowCount ?? 0
}

// ---- WebAuthn challenges -------------------------------------------------------

export interface Challenge {
  id: string
  purpose: 'register' | 'authenticate'
  challenge: string
  personId: string | null
  enrolmentTokenId: string | null
}

export async function insertChallenge(db: Queryable, c: {
  purpose: 'register' | 'authenticate'; challenge: string; personId: string | null; enrolmentTokenId: string | null; ttlSeconds: number
}): Promise<string> {
  // Answered challenges are deleted when used; abandoned ones go here, a few at a time.
  await db.query(`DELETE FROM webauthn_challenges WHERE id IN (SELECT id FROM webauthn_challenges WHERE expires_at < now() LIMIT 100)`)
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO webauthn_challenges (purpose, challenge, person_id, enrolment_token_id, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING id`,
    [c.purpose, c.challenge, c.personId, c.enrolmentTokenId, c.ttlSeconds])
  return rows[0]!.id
}

/** Takes a challenge out (single use): null when it does not exist, expired, or was already answered. */
export async function takeChallenge(db: Queryable, id: string, purpose: Challenge['purpose']): Promise<Challenge | null> {
  const { rows } = await db.query<Challenge & { live: boolean }>(
    `DELETE FROM webauthn_challenges WHERE id = $1 AND purpose = $2
     RETURNING id, purpose, challenge, person_id AS "personId", enrolment_token_id AS "enrolmentTokenId", expires_at > now() AS live`,
    [id, purpose])
  const row = rows[0]
  if (!row || !row.live) return null
  const { live: _live, ...challenge } = row
  return challenge
}
