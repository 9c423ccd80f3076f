// SQL for the names behind ids on staff pages (the console's audit log and
// API keys): people's addresses and names, keys' names and visible
// prefixes, organisations' names. Read-only; never a secret or its hash.
import type { Queryable } from '../db/pool.js'

export interface DisplayNames {
  people: Map<string, { email: string; displayName: string }>
  apiKeys: Map<string, { name: string; prefix: string }>
  organisations: Map<string, string>
}

export async function displayNames(db: Queryable, ids: { people?: string[]; apiKeys?: string[]; organisations?: string[] }): Promise<DisplayNames> {
  const unique = (list: string[] | undefined) => [...new Set(list ?? [])]
  const [people, apiKeys, organisations] = await Promise.all([
    db.query<{ id: string; email: string; displayName: string }>(
      'SELECT id, email, display_name AS "displayName" FROM people WHERE id = ANY($1::uuid[])', [unique(ids.people)]),
    db.query<{ id: string; name: string; prefix: string }>(
      'SELECT id, name, prefix FROM api_keys WHERE id = ANY($1::uuid[])', [unique(ids.apiKeys)]),
    db.query<{ id: string; name: string }>(
      'SELECT id, name FROM organisations WHERE id = ANY($1::uuid[])', [unique(ids.organisations)]),
  ])
  return {
    people: new Map(people.rows.map((r) => [r.id, { email: r.email, displayName: r.displayName }])),
    apiKeys: new Map(apiKeys.rows.map((r) => [r.id, { name: r.name, prefix: r.prefix }])),
    organisations: new Map(organisations.rows.map((r) => [r.id, r.name])),
  }
}
