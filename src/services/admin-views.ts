// Owns what the console's administration pages show beside
// AdministrationService's own answers, which stay the one place for the
// rules (listing, issuing and revoking keys, the audit log): a key by id
// for the revoke confirmation, and the names behind the ids that keys and
// audit entries carry. Read-only; callers are admins (the route checks the
// role, as /v1 does). No Fastify here.
import type { Pool } from '../db/pool.js'
import { findApiKey, type ApiKeyRow } from '../repositories/api-keys.js'
import { displayNames, type DisplayNames } from '../repositories/display-names.js'

export type ApiKeyView = Omit<ApiKeyRow, 'seq'>

export class AdminViews {
  constructor(private readonly pool: Pool) {}

  async apiKey(id: string): Promise<ApiKeyView | null> {
    const row = await findApiKey(this.pool, id)
    if (!row) return null
    const { seq: _seq, ...key } = row
    return key
  }

  names(ids: { people?: string[]; apiKeys?: string[]; organisations?: string[] }): Promise<DisplayNames> {
    return displayNames(this.pool, ids)
  }
}
