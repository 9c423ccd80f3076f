// Owns signing people in to the console (contract §9): passkey
// registration (from a one-time enrolment link, or signed in, to add
// another) and authentication with WebAuthn through @simplewebauthn/server,
// and the server-side sessions that follow. No Fastify here: routes/
// console.ts speaks HTTP, this decides.
//
// WebAuthn choices: the relying party is PUBLIC_BASE_URL's host name, and
// responses must come from its origin. Passkeys are discoverable (resident)
// credentials, so sign-in asks for no user name. User verification is
// REQUIRED: the passkey is the only factor, and our users are targets of
// state actors — a stolen security key without its PIN or the owner's
// fingerprint must not open the console. Challenges live in Postgres, are
// deleted when answered (single use) and expire after 5 minutes.
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type AuthenticatorTransportFuture, type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON, type RegistrationResponseJSON,
} from '@simplewebauthn/server'
import { randomBytes } from 'node:crypto'
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import type { Actor } from '../auth/api-keys.js'
import { consoleTokenHash, newConsoleToken } from '../auth/console-tokens.js'
import { AppError, conflict, notFound } from '../errors.js'
import * as people from '../repositories/people.js'
import * as sessions from '../repositories/console-sessions.js'
import { recordAudit } from '../repositories/audit-log.js'

/** A session ends after this long without a request (contract §9). */
const SESSION_IDLE_SECONDS = 30 * 60
/** …and this long after sign-in whatever happens: a working day, then a passkey again. */
const SESSION_MAX_SECONDS = 12 * 3600
const CHALLENGE_TTL_SECONDS = 5 * 60
const RP_NAME = 'Urgent Appeals'
const NAME_MAX = 60

export type EnrolmentState =
  | { state: 'open'; enrolment: people.EnrolmentRow; person: people.PersonRow }
  | { state: 'used' | 'expired' | 'unknown' }

export interface NewSession {
  /** The cookie's value; only its hash is stored. */
  token: string
  personId: string
}

export type CeremonyOptions<T> = { flow: string; options: T }

const notVerified = (detail: string) => new AppError(400, 'passkey-not-verified', 'The passkey could not be verified', detail)
const linkGone = () => new AppError(410, 'enrolment-link-gone', 'This enrolment link no longer works',
  'The link was already used, has expired, or a newer one was sent. Ask an admin of your organisation for a new one.')

/** WebAuthn user handle: the person's id as 16 bytes (no personal data in it). */
const userHandle = (personId: string) => new Uint8Array(Buffer.from(personId.replace(/-/g, ''), 'hex'))

function passkeyName(name: string | undefined): string {
  const trimmed = (name ?? '').trim().replace(/\s+/g, ' ')
  if (!trimmed) return 'Passkey'
  return trimmed.slice(0, NAME_MAX)
}

export class ConsoleAuthService {
  readonly rpID: string
  readonly origin: string

  constructor(private readonly pool: Pool, publicBaseUrl: string) {
    const url = new URL(publicBaseUrl)
    this.rpID = url.hostname
    this.origin = url.origin
  }

  // ---- Enrolment links -----------------------------------------------------------

  /** What a link is: open (with its person), used (or voided by a newer one), expired, or not ours. */
  async enrolment(token: string): Promise<EnrolmentState> {
    const hash = consoleTokenHash(token)
    const row = hash ? await people.findEnrolmentToken(this.pool, hash) : null
    if (!row) return { state: 'unknown' }
    if (row.usedAt !== null || row.voidedAt !== null) return { state: 'used' }
    const person = await people.findPerson(this.pool, row.personId)
    if (!person || person.disabledAt !== null) return { state: 'used' }
    if (row.expired) return { state: 'expired' }
    return { state: 'open', enrolment: row, person }
  }

  private async registrationOptions(person: people.PersonRow, enrolmentTokenId: string | null): Promise<CeremonyOptions<PublicKeyCredentialCreationOptionsJSON>> {
    const existing = await people.listPasskeys(this.pool, person.id)
    const options = await generateRegistrationOptions({
      rpName: RP_NAME, rpID: this.rpID,
      userName: person.email, userDisplayName: person.displayName || person.email, userID: userHandle(person.id),
      attestationType: 'none',
      // The same authenticator twice would only be a second name for one key.
      excludeCredentials: existing.map((k) => ({ id: k.credentialId, transports: k.transports as AuthenticatorTransportFuture[] })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      timeout: CHALLENGE_TTL_SECONDS * 1000,
    })
    const flow = await sessions.insertChallenge(this.pool, {
      purpose: 'register', challenge: options.challenge, personId: person.id, enrolmentTokenId, ttlSeconds: CHALLENGE_TTL_SECONDS,
    })
    return { flow, options }
  }

  /** Options to register a passkey through an enrolment link (410 when it no longer works). */
  async enrolmentOptions(token: string): Promise<CeremonyOptions<PublicKeyCredentialCreationOptionsJSON>> {
    const state = await this.enrolment(token)
    if (state.state !== 'open') throw linkGone()
    return this.registrationOptions(state.person, state.enrolment.id)
  }

  /** Options for a signed-in person adding another passkey. */
  async addPasskeyOptions(actor: Actor): Promise<CeremonyOptions<PublicKeyCredentialCreationOptionsJSON>> {
    const person = await people.findPerson(this.pool, actor.personId!)
    if (!person) throw notFound('This person')
    return this.registrationOptions(person, null)
  }

  /**
   * Checks a registration against its challenge (taken out first, so it
   * cannot be answered twice even when verification fails) and stores the
   * passkey. Through a link, the link is used up in the same transaction
   * and the person is signed in; signed in, it is added to their keys.
   */
  async finishRegistration(input: { flow: string; response: RegistrationResponseJSON; name?: string },
    via: { token: string } | { actor: Actor }): Promise<{ passkey: people.PasskeyRow; session: NewSession | null }> {
    const challenge = await sessions.takeChallenge(this.pool, input.flow, 'register')
    if (!challenge) throw notVerified('This registration has expired or was already answered; start again.')
    let enrolmentId: string | null = null
    let actor: Actor
    if ('token' in via) {
      const state = await this.enrolment(via.token)
      if (state.state !== 'open') throw linkGone()
      if (challenge.enrolmentTokenId !== state.enrolment.id) throw notVerified('This registration was started elsewhere; start again.')
      enrolmentId = state.enrolment.id
      actor = { keyId: null, personId: state.person.id, organisationId: state.person.organisationId, role: state.person.role }
    } else {
      if (challenge.enrolmentTokenId !== null || challenge.personId !== via.actor.personId) throw notVerified('This registration was started elsewhere; start again.')
      actor = via.actor
    }
    let verification
    try {
      verification = await verifyRegistrationResponse({
        response: input.response, expectedChallenge: challenge.challenge,
        expectedOrigin: this.origin, expectedRPID: this.rpID, requireUserVerification: true,
      })
    } catch (error) {
      throw notVerified(`The passkey's answer was not accepted: ${(error as Error).message}`)
    }
    if (!verification.verified) throw notVerified('The passkey\'s answer was not accepted.')
    const info = verification.registrationInfo
    return withTransaction(this.pool, async (tx) => {
      if (enrolmentId !== null && !(await people.useEnrolmentToken(tx, enrolmentId))) throw linkGone()
      const passkey = await people.insertPasskey(tx, {
        personId: actor.personId!, credentialId: info.credential.id, publicKey: info.credential.publicKey,
        counter: info.credential.counter, transports: info.credential.transports ?? [], name: passkeyName(input.name),
        deviceType: info.credentialDeviceType, backedUp: info.credentialBackedUp,
      }).catch((error: { code?: string }) => {
        if (error.code === '23505') throw conflict('This passkey is already registered.', 'passkey-exists')
        throw error
      })
      await recordAudit(tx, actor, 'passkey.create', 'passkey', passkey.id, { name: passkey.name, via: enrolmentId ? 'enrolment-link' : 'console' })
      const session = enrolmentId !== null ? await this.openSession(tx, actor, passkey.id) : null
      return { passkey, session }
    })
  }

  // ---- Sign-in ---------------------------------------------------------------

  /** Options for a usernameless sign-in: any passkey of ours the browser holds may answer. */
  async signInOptions(): Promise<CeremonyOptions<PublicKeyCredentialRequestOptionsJSON>> {
    const options = await generateAuthenticationOptions({
      rpID: this.rpID, userVerification: 'required', allowCredentials: [], timeout: CHALLENGE_TTL_SECONDS * 1000,
    })
    const flow = await sessions.insertChallenge(this.pool, {
      purpose: 'authenticate', challenge: options.challenge, personId: null, enrolmentTokenId: null, ttlSeconds: CHALLENGE_TTL_SECONDS,
    })
    return { flow, options }
  }

  async finishSignIn(input: { flow: string; response: AuthenticationResponseJSON }): Promise<NewSession> {
    const challenge = await sessions.takeChallenge(this.pool, input.flow, 'authenticate')
    if (!challenge) throw notVerified('This sign-in has expired or was already answered; start again.')
    const passkey = await people.findPasskeyForSignIn(this.pool, input.response.id)
    const refused = () => new AppError(401, 'passkey-not-accepted', 'Passkey not accepted',
      'This passkey is not registered here, was revoked, or its person is disabled.')
    if (!passkey) throw refused()
    const handle = input.response.response.userHandle
    if (handle && Buffer.from(handle, 'base64url').toString('hex') !== passkey.personId.replace(/-/g, '')) throw refused()
    let verification
    try {
      verification = await verifyAuthenticationResponse({
        response: input.response, expectedChallenge: challenge.challenge, expectedOrigin: this.origin, expectedRPID: this.rpID,
        credential: { id: passkey.credentialId, publicKey: new Uint8Array(passkey.publicKey), counter: passkey.counter, transports: passkey.transports as AuthenticatorTransportFuture[] },
        requireUserVerification: true,
      })
    } catch (error) {
      throw notVerified(`The passkey's answer was not accepted: ${(error as Error).message}`)
    }
    if (!verification.verified) throw notVerified('The passkey\'s answer was not accepted.')
    const person = (await people.findPerson(this.pool, passkey.personId))!
    const actor: Actor = { keyId: null, personId: person.id, organisationId: person.organisationId, role: person.role }
    return withTransaction(this.pool, async (tx) => {
      await people.recordPasskeyUse(tx, passkey.id, verification.authenticationInfo.newCounter)
      return this.openSession(tx, actor, passkey.id)
    })
  }

  private async openSession(tx: Parameters<typeof sessions.insertSession>[0], actor: Actor, passkeyId: string): Promise<NewSession> {
    const { token, hash } = newConsoleToken()
    const session = await sessions.insertSession(tx, {
      personId: actor.personId!, passkeyId, tokenHash: hash, csrfToken: randomBytes(32).toString('base64url'), maxAgeSeconds: SESSION_MAX_SECONDS,
    })
    await recordAudit(tx, actor, 'session.create', 'session', session.id, { passkeyId })
    return { token, personId: actor.personId! }
  }

  // ---- Sessions ------------------------------------------------------------------

  /** The live session behind a cookie's token (its use recorded), or null. */
  async session(token: string | undefined): Promise<sessions.LiveSession | null> {
    const hash = consoleTokenHash(token)
    return hash ? sessions.touchLiveSession(this.pool, hash, SESSION_IDLE_SECONDS) : null
  }

  async signOut(actor: Actor, sessionId: string): Promise<void> {
    await withTransaction(this.pool, async (tx) => {
      await sessions.revokeSession(tx, sessionId)
      await recordAudit(tx, actor, 'session.revoke', 'session', sessionId)
    })
  }

  /** Ends every session of the person, this one included. */
  async signOutEverywhere(actor: Actor): Promise<number> {
    return withTransaction(this.pool, async (tx) => {
      const ended = await sessions.revokePersonSessions(tx, actor.personId!)
      await recordAudit(tx, actor, 'session.revoke-all', 'person', actor.personId, { sessions: ended })
      return ended
    })
  }

  // ---- Passkeys ------------------------------------------------------------------

  listPasskeys(personId: string): Promise<people.PasskeyRow[]> {
    return people.listPasskeys(this.pool, personId)
  }

  /** Revokes one of the signed-in person's own passkeys (not their last), ending sessions opened with it. */
  async revokePasskey(actor: Actor, passkeyId: string): Promise<people.PasskeyRow> {
    return withTransaction(this.pool, async (tx) => {
      const result = await people.revokePasskey(tx, actor.personId!, passkeyId)
      if (result === 'missing') throw notFound('This passkey')
      if (result === 'last') throw conflict('This is your only passkey: add another one before you revoke it.', 'last-passkey')
      await recordAudit(tx, actor, 'passkey.revoke', 'passkey', passkeyId, { name: result.name })
      return result
    })
  }
}
