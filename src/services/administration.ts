// Owns organisations and API keys: creation, changes, listing, revocation —
// shared by the admin API and the `create-api-key` CLI, each write audited.
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import { generateApiKey, type Actor, type Role } from '../auth/api-keys.js'
import { AppError, badRequest, notFound, unprocessable } from '../errors.js'
import { canonicalLanguage } from '../lib/codes.js'
import { decodeCursor, toPage } from '../lib/cursor.js'
import type { PatchOrganisation } from '../schemas/administration.js'
import * as orgs from '../repositories/organisations.js'
import * as keys from '../repositories/api-keys.js'
import { listAudit, recordAudit, type AuditFilter } from '../repositories/audit-log.js'

const publicOrganisation = ({ seq: _seq, ...o }: orgs.OrganisationRow) => o
const publicKey = ({ seq: _seq, ...k }: keys.ApiKeyRow) => k

/** Names are compared trimmed (and, in SQL, ignoring case); a blank name is refused. */
function organisationName(name: string): string {
  const trimmed = name.trim()
  if (!trimmed) throw badRequest('The organisation needs a name.', [{ pointer: '/name', in: 'body', message: 'must not be blank' }])
  return trimmed
}

/** A BCP 47 tag ICU knows, canonicalised; a 400 naming the field otherwise. */
function knownLanguage(tag: string): string {
  const language = canonicalLanguage(tag)
  if (!language) throw badRequest('The language is not known.', [{ pointer: '/language', in: 'body', message: 'is not a known BCP 47 language' }])
  return language
}

/**
 * Partner organisations hold partner keys and people only: a partner must
 * never edit appeals. One rule for API keys and console people (services/people.ts).
 */
export function checkRoleFitsOrganisation(role: Role, kind: string, holds: 'keys' | 'people' = 'keys'): void {
  if (kind === 'partner' && role !== 'partner') {
    throw unprocessable(`A partner organisation can only ${holds === 'keys' ? 'hold partner keys' : 'have partner people'}, not ${role}.`,
      [{ pointer: '/role', in: 'body', message: 'must be partner for a partner organisation' }], 'role-not-allowed')
  }
}

export class AdministrationService {
  constructor(private readonly pool: Pool) {}

  async createOrganisation(actor: Actor | null, input: { name: string; kind: 'ngo' | 'partner'; contactEmail: string | null; language?: string }) {
    const name = organisationName(input.name)
    const language = input.language === undefined ? undefined : knownLanguage(input.language)
    return withTransaction(this.pool, async (tx) => {
      const row = await orgs.insertOrganisation(tx, { ...input, name, ...(language ? { language } : {}) })
      if (!row) {
        throw new AppError(409, 'organisation-exists', 'Organisation already exists', `An organisation named ${name} already exists.`,
          [{ pointer: '/name', in: 'body', message: 'is taken (names are compared ignoring case)' }])
      }
      await recordAudit(tx, actor, 'organisation.create', 'organisation', row.id, { name: row.name, kind: row.kind })
      return publicOrganisation(row)
    })
  }

  async updateOrganisation(actor: Actor, id: string, patch: PatchOrganisation) {
    const changes = { ...patch, ...(patch.language === undefined ? {} : { language: knownLanguage(patch.language) }) }
    return withTransaction(this.pool, async (tx) => {
      const row = await orgs.updateOrganisation(tx, id, changes)
      if (!row) throw notFound('This organisation')
      // The approval policy is the two-person rule itself: the audit says what it became.
      await recordAudit(tx, actor, 'organisation.update', 'organisation', id, {
        fields: Object.keys(patch), ...(patch.approvalPolicy === undefined ? {} : { approvalPolicy: patch.approvalPolicy }),
      })
      return publicOrganisation(row)
    })
  }

  async listOrganisations(limit: number, cursor?: string) {
    const page = toPage(await orgs.listOrganisations(this.pool, limit, decodeCursor(cursor)), limit, (r) => r.seq)
    return { items: page.items.map(publicOrganisation), nextCursor: page.nextCursor }
  }

  async createApiKey(actor: Actor | null, input: { organisationId: string; role: Role; name: string }) {
    return withTransaction(this.pool, async (tx) => {
      const organisation = await orgs.findOrganisation(tx, input.organisationId)
      if (!organisation) {
        throw unprocessable('No organisation has this id.', [{ pointer: '/organisationId', in: 'body', message: 'does not exist' }], 'unknown-organisation')
      }
      checkRoleFitsOrganisation(input.role, organisation.kind)
      const generated = generateApiKey()
      const row = await keys.insertApiKey(tx, { ...input, prefix: generated.prefix, secretHash: generated.secretHash })
      await recordAudit(tx, actor, 'api-key.create', 'api-key', row.id, { role: row.role, organisationId: row.organisationId })
      return { apiKey: publicKey(row), key: generated.key }
    })
  }

  /** CLI: finds or creates the organisation by name, then issues a key. */
  async createApiKeyForOrganisationName(name: string, role: Role, keyName: string) {
    const kind = role === 'partner' ? 'partner' : 'ngo'
    const wanted = organisationName(name)
    const organisation = await withTransaction(this.pool, async (tx) => {
      const created = await orgs.insertOrganisation(tx, { name: wanted, kind, contactEmail: null })
      if (created) await recordAudit(tx, null, 'organisation.create', 'organisation', created.id, { name: wanted, kind })
      return created ?? (await orgs.findOrganisationByName(tx, wanted))!
    })
    return this.createApiKey(null, { organisationId: organisation.id, role, name: keyName })
  }

  async listApiKeys(limit: number, cursor?: string) {
    const page = toPage(await keys.listApiKeys(this.pool, limit, decodeCursor(cursor)), limit, (r) => r.seq)
    return { items: page.items.map(publicKey), nextCursor: page.nextCursor }
  }

  /** Idempotent: revoking a revoked key changes nothing and is not audited again. */
  async revokeApiKey(actor: Actor, id: string): Promise<void> {
    await withTransaction(this.pool, async (tx) => {
      const result = await keys.revokeApiKey(tx, id)
      if (!result) throw notFound('This API key')
      if (!result.revokedNow) return
      const { row } = result
      await recordAudit(tx, actor, 'api-key.revoke', 'api-key', id, { role: row.role, organisationId: row.organisationId, prefix: row.prefix })
    })
  }

  async listAudit(limit: number, cursor: string | undefined, filter: AuditFilter) {
    return toPage(await listAudit(this.pool, limit, decodeCursor(cursor), filter), limit, (r) => r.id)
  }
}

