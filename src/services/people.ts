// Owns people (contract §9): creating a console account (the
// `create-user` CLI, an admin's invitation), its one-time enrolment links,
// listing and disabling an organisation's people — each change audited
// with whoever made it. Admins act within their own organisation only (the
// repository scopes every query by it). No Fastify here.
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import type { Actor, Role } from '../auth/api-keys.js'
import { newConsoleToken, newEnrolmentToken } from '../auth/console-tokens.js'
import { AppError, badRequest, conflict, notFound } from '../errors.js'
import * as orgs from '../repositories/organisations.js'
import * as people from '../repositories/people.js'
import { recordAudit } from '../repositories/audit-log.js'
import { checkRoleFitsOrganisation } from './administration.js'

/** An enrolment link from `create-user` or an invitation: a day to open it. */
const ENROLMENT_TTL_SECONDS = 24 * 3600
/** A link sent again: a quarter of an hour (contract §9), as whoever asked for it is at hand. */
const RESENT_ENROLMENT_TTL_SECONDS = 15 * 60

const EMAIL = /^[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+$/

/** A person as the console shows them: the row without its ordering key. */
export type Person = Omit<people.PersonRow, 'seq'>

const publicPerson = ({ seq: _seq, ...p }: people.PersonRow): Person => p

export interface Enrolment {
  /** The link's id: all the email queue carries (the worker derives the token from it, see console-tokens.ts). */
  enrolmentId: string
  person: Person
  /** PUBLIC_BASE_URL/console/enrol/{token}: the token is in this URL only, never stored. */
  url: string
  expiresAt: string
}

function checkEmail(email: string): string {
  const trimmed = email.trim()
  if (trimmed.length > 254 || !EMAIL.test(trimmed)) {
    throw badRequest('The email address is not valid.', [{ pointer: '/email', in: 'body', message: 'must be an email address' }])
  }
  return trimmed
}


export class PeopleService {
  private readonly enrolBase: string

  /**
   * With `secretsKey` (the console), links are derived from their id under
   * it, so they can be mailed; without (create-user needs only
   * DATABASE_URL), they are random and only printed.
   */
  constructor(private readonly pool: Pool, publicBaseUrl: string, private readonly secretsKey?: Buffer) {
    this.enrolBase = `${publicBaseUrl.replace(/\/+$/, '')}/console/enrol/`
  }

  private async issueLink(tx: Parameters<typeof people.insertEnrolmentToken>[0], person: people.PersonRow, seconds: number): Promise<Enrolment> {
    const { id, token, hash } = this.secretsKey?.length ? newEnrolmentToken(this.secretsKey) : { id: undefined, ...newConsoleToken() }
    const row = await people.insertEnrolmentToken(tx, person.id, hash, seconds, id)
    return { enrolmentId: row.id, person: publicPerson(person), url: `${this.enrolBase}${token}`, expiresAt: row.expiresAt }
  }

  /**
   * `urgent-appeals create-user`: the organisation (created if needed, like
   * create-api-key does), the person, and a 24 h enrolment link. A person
   * who already exists gets a fresh link instead (the earlier one is void).
   */
  async createUserForOrganisationName(organisationName: string, input: { email: string; role: Role; displayName?: string }): Promise<Enrolment & { created: boolean }> {
    const name = organisationName.trim()
    if (!name) throw badRequest('The organisation needs a name.')
    const email = checkEmail(input.email)
    return withTransaction(this.pool, async (tx) => {
      const kind = input.role === 'partner' ? 'partner' : 'ngo'
      let organisation = await orgs.insertOrganisation(tx, { name, kind, contactEmail: null })
      if (organisation) await recordAudit(tx, null, 'organisation.create', 'organisation', organisation.id, { name, kind })
      organisation ??= (await orgs.findOrganisationByName(tx, name))!
      checkRoleFitsOrganisation(input.role, organisation.kind, 'people')
      const existing = await people.findPersonByEmail(tx, organisation.id, email)
      if (existing) {
        if (existing.role !== input.role) {
          throw conflict(`${email} already has a ${existing.role} account in ${organisation.name}.`, 'person-exists')
        }
        const enrolment = await this.issueLink(tx, existing, ENROLMENT_TTL_SECONDS)
        await recordAudit(tx, null, 'person.enrolment-link', 'person', existing.id, { expiresAt: enrolment.expiresAt })
        return { ...enrolment, created: false }
      }
      const person = (await people.insertPerson(tx, { organisationId: organisation.id, email, displayName: input.displayName ?? '', role: input.role }))!
      await recordAudit(tx, null, 'person.create', 'person', person.id, { role: person.role })
      return { ...(await this.issueLink(tx, person, ENROLMENT_TTL_SECONDS)), created: true }
    })
  }

  /** An admin invites someone into their own organisation: a person and a 24 h link. */
  async invite(actor: Actor, input: { email: string; role: Role; displayName: string }): Promise<Enrolment> {
    const email = checkEmail(input.email)
    return withTransaction(this.pool, async (tx) => {
      const organisation = (await orgs.findOrganisation(tx, actor.organisationId))!
      checkRoleFitsOrganisation(input.role, organisation.kind, 'people')
      const person = await people.insertPerson(tx, { organisationId: actor.organisationId, email, displayName: input.displayName.trim(), role: input.role })
      if (!person) {
        throw new AppError(409, 'person-exists', 'Person already exists', `${email} already has an account in your organisation.`,
          [{ pointer: '/email', in: 'body', message: 'already has an account' }])
      }
      await recordAudit(tx, actor, 'person.create', 'person', person.id, { role: person.role })
      return this.issueLink(tx, person, ENROLMENT_TTL_SECONDS)
    })
  }

  /** A new link (15 min) for a person of the admin's organisation; the older ones are void. */
  async resendEnrolment(actor: Actor, personId: string): Promise<Enrolment> {
    return withTransaction(this.pool, async (tx) => {
      const person = await people.findPerson(tx, personId)
      if (!person || person.organisationId !== actor.organisationId) throw notFound('This person')
      if (person.disabledAt !== null) throw conflict('This person is disabled.', 'person-disabled')
      const enrolment = await this.issueLink(tx, person, RESENT_ENROLMENT_TTL_SECONDS)
      await recordAudit(tx, actor, 'person.enrolment-link', 'person', person.id, { expiresAt: enrolment.expiresAt })
      return enrolment
    })
  }

  /** Disables a person of the admin's organisation: their sessions end at once. Not oneself. */
  async disable(actor: Actor, personId: string): Promise<Person> {
    if (actor.personId === personId) throw conflict('You cannot disable yourself; ask another admin.', 'self-disable')
    return withTransaction(this.pool, async (tx) => {
      const result = await people.disablePerson(tx, actor.organisationId, personId)
      if (!result) throw notFound('This person')
      if (result.disabledNow) await recordAudit(tx, actor, 'person.disable', 'person', personId, { role: result.row.role })
      return publicPerson(result.row)
    })
  }

  async get(personId: string): Promise<Person | null> {
    const row = await people.findPerson(this.pool, personId)
    return row ? publicPerson(row) : null
  }

  /** The people of the caller's organisation, with how many passkeys each has. */
  async list(actor: Actor): Promise<(Person & { passkeys: number })[]> {
    return (await people.listPeople(this.pool, actor.organisationId)).map(({ seq: _seq, ...p }) => p)
  }

  /** Whether `personId` has a working passkey (dev start-up: print a new link only when not). */
  async hasPasskey(personId: string): Promise<boolean> {
    return (await people.listPasskeys(this.pool, personId)).length > 0
  }
}
