// Owns the appeal lifecycle (contract §3): draft → published (or scheduled
// behind an embargo) → closed, and withdrawal, and the two-person rule on
// the way to publication (approve; publish needs an approval when the
// organisation's policy says so). Every action is one transaction holding
// the change, its event (outbox) and its audit entry.
import type { Pool, Queryable } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import { actorRef, type Actor } from '../auth/api-keys.js'
import {
  AppError, badRequest, illegalTransition, notFound, preconditionFailed, preconditionRequired, unprocessable,
  type FieldError,
} from '../errors.js'
import { canonicalJson } from '../lib/canonical-json.js'
import { canonicalLanguage, isCountry, isSubdivision } from '../lib/codes.js'
import { decodeCursor, toPage } from '../lib/cursor.js'
import * as repo from '../repositories/appeals.js'
import type { AppealRow, Visibility } from '../repositories/appeals.js'
import { redactAppealEvents } from '../repositories/events.js'
import { actionsTaken, actionsTakenOf } from '../repositories/actions.js'
import { countsByAppeal, isUnfinished } from '../repositories/deliveries.js'
import { appealReportsAndWarnings } from '../repositories/email-reports.js'
import { emailHealthOf } from './email-health.js'
import { recordAudit } from '../repositories/audit-log.js'
import { approvalPolicyOf, type ApprovalPolicy } from '../repositories/organisations.js'
import { appendEvent } from './events.js'
import type {
  Appeal, AppealRead, CloseAppeal, CreateAppeal, DeliveryProgress, FollowUp, ListAppealsQuery, PatchAppeal, PeopleAtRisk, StaffAppeal,
  TranslationInput,
} from '../schemas/appeal.js'

/** Changes to these fields of a published appeal are news for partners and supporters. */
const MATERIAL_FIELDS = [
  'title', 'summary', 'body', 'urgency', 'countries', 'subdivisions', 'themes', 'peopleAtRisk', 'targets', 'asks',
  'actionDeadline',
] as const

export function visibilityFor(actor: Actor | null): Visibility {
  if (actor?.role === 'admin') return { kind: 'all' }
  if (actor?.role === 'editor') return { kind: 'organisation', organisationId: actor.organisationId }
  return { kind: 'public' }
}

/** Fields whose change is not a change of content: the approval of a draft survives them. */
const NOT_CONTENT: readonly string[] = ['embargoUntil', 'sensitive']

/** Strips what only the service and staff see; the result is the public representation (reads, events, feeds). */
export function toApi(row: AppealRow): Appeal {
  const {
    seq: _seq, organisationId: _org, publishRequestedAt: _p, withdrawalReason: _w, sensitive: _s, approval: _a, contentBy: _c,
    ...appeal
  } = row
  return appeal
}

/** The representation for the owning organisation's staff (and admins): `sensitive` and `approval` too. */
function toStaff(row: AppealRow): StaffAppeal {
  const { sensitive, approval } = row
  return { ...toApi(row), sensitive, approval }
}

/** Whether `visibility` reads `row` as its own organisation's staff (or an admin). */
const ownsIt = (visibility: Visibility, row: AppealRow) =>
  visibility.kind === 'all' || (visibility.kind === 'organisation' && visibility.organisationId === row.organisationId)

/** A girl, a boy or a minor counted: the appeal is sensitive, whatever anyone says. */
const countsChildren = (p: PeopleAtRisk | undefined) => ((p?.girls ?? 0) + (p?.boys ?? 0) + (p?.minors ?? 0)) > 0

/** Whether publishing needs a second person's approval under `policy`. */
export const needsApproval = (policy: ApprovalPolicy, sensitive: boolean) =>
  policy === 'all' || (policy === 'sensitive' && sensitive)

/** The ETag of a version; `If-Match` accepts it strong or weak, or `*`. */
export const etagOf = (version: number) => `"${version}"`

export function matchesIfMatch(header: string, version: number): boolean {
  return header.split(',').map((s) => s.trim()).some((tag) => tag === '*' || tag.replace(/^W\//, '') === etagOf(version))
}

/** Checks what a schema cannot: real codes and counts that add up. */
function checkSemantics(f: Partial<CreateAppeal & PatchAppeal>, current?: AppealRow): Record<string, unknown> {
  const errors: FieldError[] = []
  const out: Record<string, unknown> = { ...f }
  if (f.language !== undefined) {
    const canonical = canonicalLanguage(f.language)
    if (!canonical) errors.push({ pointer: '/language', in: 'body', message: 'is not a known BCP 47 language' })
    else out.language = canonical
  }
  f.countries?.forEach((c, i) => {
    if (!isCountry(c)) errors.push({ pointer: `/countries/${i}`, in: 'body', message: `${c} is not an ISO 3166-1 country` })
  })
  if (f.countries && new Set(f.countries).size !== f.countries.length) {
    errors.push({ pointer: '/countries', in: 'body', message: 'must not repeat a country' })
  }
  const countries = f.countries ?? current?.countries ?? []
  f.subdivisions?.forEach((s, i) => {
    if (!isSubdivision(s)) errors.push({ pointer: `/subdivisions/${i}`, in: 'body', message: `${s} is not an ISO 3166-2 code` })
    else if (!countries.includes(s.slice(0, 2))) {
      errors.push({ pointer: `/subdivisions/${i}`, in: 'body', message: `its country ${s.slice(0, 2)} is not in countries` })
    }
  })
  // New countries must still cover the subdivisions the appeal keeps.
  if (f.countries && f.subdivisions === undefined && current) {
    const orphans = current.subdivisions.filter((s) => !countries.includes(s.slice(0, 2)))
    if (orphans.length > 0) {
      errors.push({ pointer: '/countries', in: 'body', message: `must include the country of ${orphans.join(', ')} (or change subdivisions too)` })
    }
  }
  if (f.themes) out.themes = [...new Set(f.themes)]
  // Stored and returned as UTC with milliseconds; the same instant must compare equal.
  if (typeof f.embargoUntil === 'string') out.embargoUntil = new Date(f.embargoUntil).toISOString()
  f.targets?.forEach((t, i) => {
    if (t.country && !isCountry(t.country)) errors.push({ pointer: `/targets/${i}/country`, in: 'body', message: 'is not an ISO 3166-1 country' })
    if (t.preferredLanguage && !canonicalLanguage(t.preferredLanguage)) {
      errors.push({ pointer: `/targets/${i}/preferredLanguage`, in: 'body', message: 'is not a known BCP 47 language' })
    }
  })
  if (f.targets) {
    out.targets = f.targets.map((t) => (t.preferredLanguage ? { ...t, preferredLanguage: canonicalLanguage(t.preferredLanguage) ?? t.preferredLanguage } : t))
  }
  const p = f.peopleAtRisk
  if (p) {
    const counted = (p.women ?? 0) + (p.men ?? 0) + (p.girls ?? 0) + (p.boys ?? 0) + (p.minors ?? 0)
    if (counted > p.total) {
      errors.push({ pointer: '/peopleAtRisk/total', in: 'body', message: `is less than the ${counted} people counted by sex and age` })
    }
  }
  // A child case always needs two people (where the policy asks for them):
  // sensitive by default, set again when a change counts a child, and never
  // switched off while one is counted. Taking the children out of the counts
  // leaves the flag as it was: an editor clears it on purpose.
  const children = countsChildren(p ?? current?.peopleAtRisk)
  if (f.sensitive === false && children) {
    errors.push({ pointer: '/sensitive', in: 'body', message: 'must be true while peopleAtRisk counts a girl, boy or minor' })
  } else if (f.sensitive === undefined && (current === undefined || (p !== undefined && children))) {
    out.sensitive = children
  }
  if (errors.length > 0) throw badRequest(`The request body has ${errors.length} invalid value${errors.length === 1 ? '' : 's'}.`, errors)
  return out
}

/** Filters use the same code lists as appeals: a typo is a 400, not an empty page. */
function checkListQuery(q: ListAppealsQuery): ListAppealsQuery {
  const errors: FieldError[] = []
  const out = { ...q }
  if (q.country !== undefined && !isCountry(q.country)) {
    errors.push({ pointer: '/country', in: 'query', message: `${q.country} is not an ISO 3166-1 country` })
  }
  if (q.language !== undefined) {
    const canonical = canonicalLanguage(q.language)
    if (!canonical) errors.push({ pointer: '/language', in: 'query', message: 'is not a known BCP 47 language' })
    else out.language = canonical
  }
  if (errors.length > 0) throw badRequest(`The query string has ${errors.length} invalid value${errors.length === 1 ? '' : 's'}.`, errors)
  return out
}

const notReadyToPublish = (errors: FieldError[]) => unprocessable('The appeal is not ready to publish.', errors, 'not-ready-to-publish')

const selfApproval = () =>
  new AppError(409, 'self-approval', 'Approval needs a second person',
    'You made the content of this version; another editor (a different person or API key) must approve it.')

const approvalRequired = (policy: ApprovalPolicy) =>
  new AppError(409, 'approval-required', 'Approval required before publishing',
    policy === 'all'
      ? 'Your organisation\'s approval policy is \'all\': another editor must approve this version (POST /v1/appeals/{id}/approve with If-Match) before it is published.'
      : 'This appeal is sensitive and your organisation\'s approval policy is \'sensitive\': another editor must approve this version (POST /v1/appeals/{id}/approve with If-Match) before it is published.')

/** References are unique per organisation (migration 007): only the appeal's own organisation can hold one. */
function isUniqueReferenceViolation(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string }
  return e.code === '23505' && e.constraint === 'appeals_organisation_reference_key'
}

const referenceTaken = (reference: unknown) =>
  new AppError(409, 'reference-taken', 'Reference already in use',
    `Another appeal of the same organisation already has the reference ${String(reference)}.`,
    [{ pointer: '/reference', in: 'body', message: 'is already used by another appeal of the same organisation' }])

// jsonb hands objects back in its own key order: compare canonical JSON.
const changedFields = (before: AppealRow, fields: Record<string, unknown>) =>
  Object.keys(fields).filter((k) => fields[k] !== undefined
    && canonicalJson(fields[k]) !== canonicalJson((before as unknown as Record<string, unknown>)[k]))

export class AppealService {
  constructor(private readonly pool: Pool) {}

  async create(actor: Actor, input: CreateAppeal): Promise<StaffAppeal> {
    const fields = checkSemantics(input)
    try {
      return await withTransaction(this.pool, async (tx) => {
        fields.reference ??= await repo.nextReference(tx, actor.organisationId, new Date().getUTCFullYear())
        const id = await repo.insertAppeal(tx, actor.organisationId, actorRef(actor), fields)
        await recordAudit(tx, actor, 'appeal.create', 'appeal', id, { reference: fields.reference })
        return toStaff((await repo.findAppeal(tx, id, { kind: 'all' }))!)
      })
    } catch (error) {
      if (isUniqueReferenceViolation(error)) throw referenceTaken(fields.reference)
      throw error
    }
  }

  async get(actor: Actor | null, id: string): Promise<AppealRead> {
    const visibility = visibilityFor(actor)
    const row = await repo.findAppeal(this.pool, id, visibility)
    if (!row) throw notFound('This appeal')
    return (await this.withActionsTaken(visibility, [ownsIt(visibility, row) ? toStaff(row) : toApi(row)]))[0]!
  }

  async list(actor: Actor | null, query: ListAppealsQuery): Promise<{ items: AppealRead[]; nextCursor: string | null }> {
    const limit = query.limit ?? 20
    const filters = checkListQuery(query)
    const visibility = visibilityFor(actor)
    const rows = await repo.listAppeals(this.pool, visibility, { ...filters, limit }, decodeCursor(query.cursor))
    const page = toPage(rows, limit, (r) => r.seq)
    const items = page.items.map((row) => (ownsIt(visibility, row) ? toStaff(row) : toApi(row)))
    return { items: await this.withActionsTaken(visibility, items), nextCursor: page.nextCursor }
  }

  /**
   * Reads only: staff see the "I took action" count of their own
   * organisation's appeals (admins of all), scoped in SQL; public reads
   * (and partners) never. Events carry the public representation alone.
   */
  private async withActionsTaken(visibility: Visibility, appeals: AppealRead[]): Promise<AppealRead[]> {
    const counts = await actionsTakenOf(this.pool, appeals.map((a) => a.id), visibility)
    if (counts.size === 0) return appeals
    return appeals.map((a) => (counts.has(a.id) ? { ...a, actionsTaken: counts.get(a.id)! } : a))
  }

  /** Loads the appeal the editor may change, locked for the rest of the transaction. */
  private async lockForEdit(tx: Queryable, actor: Actor, id: string): Promise<AppealRow> {
    const row = await repo.findAppeal(tx, id, actor.role === 'admin' ? { kind: 'all' } : { kind: 'organisation', organisationId: actor.organisationId }, { forUpdate: true })
    // Another organisation's published appeal is readable but not theirs to change.
    if (!row || (actor.role !== 'admin' && row.organisationId !== actor.organisationId)) throw notFound('This appeal')
    return row
  }

  async patch(actor: Actor, id: string, input: PatchAppeal, ifMatch: string | undefined): Promise<StaffAppeal> {
    try {
      return await withTransaction(this.pool, async (tx) => {
        const row = await this.lockForEdit(tx, actor, id)
        if (row.status === 'closed' || row.status === 'withdrawn') throw illegalTransition('edit', row.status)
        if (row.status === 'published' && ifMatch === undefined) throw preconditionRequired()
        if (ifMatch !== undefined && !matchesIfMatch(ifMatch, row.version)) throw preconditionFailed(row.version)
        if (row.status === 'published' && input.reference !== undefined && input.reference !== row.reference) {
          throw new AppError(409, 'reference-frozen', 'Reference cannot change', 'A published appeal keeps its reference.',
            [{ pointer: '/reference', in: 'body', message: 'cannot change after publication' }])
        }
        if (row.status === 'draft' && row.publishRequestedAt !== null && input.asks?.length === 0) {
          // The worker publishes it when the embargo lifts: it must stay publishable.
          throw notReadyToPublish([{ pointer: '/asks', in: 'body', message: 'a scheduled appeal needs at least one ask' }])
        }
        const fields = checkSemantics(input, row)
        if (typeof fields.language === 'string' && fields.language !== row.language
            && row.translations.some((t) => t.language === fields.language)) {
          throw unprocessable(`The appeal has a ${fields.language} translation; the original cannot be in the same language.`,
            [{ pointer: '/language', in: 'body', message: 'is the language of an existing translation' }], 'translation-of-original')
        }
        const changed = changedFields(row, fields)
        if (changed.length === 0) return toStaff(row) // nothing to do: same version, no event
        await repo.updateAppeal(tx, id, fields)
        await recordAudit(tx, actor, 'appeal.update', 'appeal', id, { fields: changed })
        await this.settleApproval(tx, actor, row, {
          contentChanged: changed.some((f) => !NOT_CONTENT.includes(f)),
          sensitive: typeof fields.sensitive === 'boolean' ? fields.sensitive : row.sensitive,
        })
        const material = changed.filter((f) => (MATERIAL_FIELDS as readonly string[]).includes(f))
        const updated = (await repo.findAppeal(tx, id, { kind: 'all' }))!
        if (row.status === 'published' && material.length > 0) {
          await appendEvent(tx, 'appeal.updated', { appeal: toApi(updated), changes: material }, { appealId: id })
        }
        return toStaff(updated)
      })
    } catch (error) {
      if (isUniqueReferenceViolation(error)) throw referenceTaken(input.reference)
      throw error
    }
  }

  async putTranslation(actor: Actor, id: string, language: string, input: TranslationInput): Promise<{ appeal: StaffAppeal; created: boolean }> {
    const canonical = canonicalLanguage(language)
    if (!canonical) throw badRequest('The language is not known.', [{ pointer: '/language', in: 'path', message: 'is not a known BCP 47 language' }])
    return withTransaction(this.pool, async (tx) => {
      const row = await this.lockForEdit(tx, actor, id)
      if (row.status === 'withdrawn') throw illegalTransition('translate', row.status)
      if (canonical === row.language) {
        throw unprocessable(`The appeal is written in ${canonical}; edit the original with PATCH instead.`,
          [{ pointer: '/language', in: 'path', message: 'is the language of the original' }], 'translation-of-original')
      }
      const existing = row.translations.find((t) => t.language === canonical)
      const translation = { title: input.title, summary: input.summary, body: input.body ?? '', asks: input.asks ?? [] }
      if (existing && canonicalJson(translation) === canonicalJson({ title: existing.title, summary: existing.summary, body: existing.body, asks: existing.asks })) {
        return { appeal: toStaff(row), created: false } // the same text again: same version, no event
      }
      const created = existing === undefined
      await repo.upsertTranslation(tx, id, canonical, translation)
      await repo.updateAppeal(tx, id, {})
      await recordAudit(tx, actor, 'appeal.translate', 'appeal', id, { language: canonical })
      await this.settleApproval(tx, actor, row, { contentChanged: true, sensitive: row.sensitive })
      const updated = (await repo.findAppeal(tx, id, { kind: 'all' }))!
      if (row.status === 'published') {
        await appendEvent(tx, 'appeal.updated', { appeal: toApi(updated), changes: [`translations/${canonical}`] }, { appealId: id })
      }
      return { appeal: toStaff(updated), created }
    })
  }

  /**
   * The two-person rule after a change of the locked `row` (the change
   * already written in `tx`): records who made the content; a draft whose
   * content changed loses its approval; and a scheduled draft that now
   * needs an approval it does not have (its content changed, or it became
   * sensitive) is no longer scheduled — the worker must never publish
   * what nobody approved. Published appeals keep their approval as the
   * record of the one their publication rested on.
   */
  private async settleApproval(tx: Queryable, actor: Actor, row: AppealRow, after: { contentChanged: boolean; sensitive: boolean }): Promise<void> {
    const draft = row.status === 'draft'
    const voidApproval = draft && after.contentChanged && row.approval !== null
    const unschedule = draft && row.publishRequestedAt !== null && (after.contentChanged || (after.sensitive && !row.sensitive))
      && (row.approval === null || voidApproval) && needsApproval(await approvalPolicyOf(tx, row.organisationId), after.sensitive)
    if (!after.contentChanged && !unschedule) return
    await repo.settleApproval(tx, row.id, { contentBy: after.contentChanged ? actorRef(actor) : null, voidApproval, unschedule })
    if (voidApproval) {
      const { approvedBy, version } = row.approval!
      await recordAudit(tx, actor, 'appeal.approval-voided', 'appeal', row.id, { approvedBy: `${approvedBy.kind}:${approvedBy.id}`, version })
    }
    if (unschedule) await recordAudit(tx, actor, 'appeal.unschedule', 'appeal', row.id, { reason: 'approval-required' })
  }

  /**
   * A second person approves the draft's current version for publishing:
   * `ifMatch` must name the version they reviewed, and they must not be
   * whoever made its content. Approving an approved version changes nothing.
   */
  async approve(actor: Actor, id: string, ifMatch: string | undefined): Promise<StaffAppeal> {
    return withTransaction(this.pool, async (tx) => {
      const row = await this.lockForEdit(tx, actor, id)
      if (row.status !== 'draft') throw illegalTransition('approve', row.status)
      // `*` would approve whatever the appeal says by now: the approver names what they read.
      const named = ifMatch?.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '' && tag !== '*').join(', ')
      if (!named) throw preconditionRequired('Approving requires an If-Match header with the ETag of the version you reviewed.')
      if (!matchesIfMatch(named, row.version)) throw preconditionFailed(row.version)
      const approver = actorRef(actor)
      if (row.contentBy === approver) throw selfApproval()
      if (row.approval !== null) return toStaff(row)
      await repo.setApproval(tx, id, approver, row.version)
      await recordAudit(tx, actor, 'appeal.approve', 'appeal', id, { version: row.version })
      return toStaff((await repo.findAppeal(tx, id, { kind: 'all' }))!)
    })
  }

  async publish(actor: Actor, id: string): Promise<StaffAppeal> {
    return withTransaction(this.pool, async (tx) => {
      const row = await this.lockForEdit(tx, actor, id)
      if (row.status !== 'draft') throw illegalTransition('publish', row.status)
      if (row.asks.length === 0) throw notReadyToPublish([{ pointer: '/asks', in: 'body', message: 'needs at least one ask before publishing' }])
      const embargoed = row.embargoUntil !== null && Date.parse(row.embargoUntil) > Date.now()
      if (embargoed && row.publishRequestedAt !== null) return toStaff(row) // already scheduled: nothing changes
      // Asked now, for now or for when the embargo lifts: the rule is applied at this request.
      const policy = await approvalPolicyOf(tx, row.organisationId)
      if (row.approval === null && needsApproval(policy, row.sensitive)) throw approvalRequired(policy)
      if (embargoed) {
        await repo.requestPublish(tx, id)
        await recordAudit(tx, actor, 'appeal.schedule', 'appeal', id, { embargoUntil: row.embargoUntil })
        return toStaff((await repo.findAppeal(tx, id, { kind: 'all' }))!)
      }
      const published = await this.publishLocked(tx, id)
      await recordAudit(tx, actor, 'appeal.publish', 'appeal', id)
      return toStaff(published)
    })
  }

  /** The draft → published step itself, for an appeal already locked in `tx`. */
  private async publishLocked(tx: Queryable, id: string): Promise<AppealRow> {
    await repo.setPublished(tx, id)
    const row = (await repo.findAppeal(tx, id, { kind: 'all' }))!
    await appendEvent(tx, 'appeal.published', { appeal: toApi(row) }, { appealId: id })
    return row
  }

  /** Worker: publishes scheduled appeals whose embargo has lifted. Returns how many. */
  async releaseDueEmbargoes(limit = 50): Promise<number> {
    return withTransaction(this.pool, async (tx) => {
      const ids = await repo.claimDueScheduled(tx, limit)
      for (const id of ids) {
        await this.publishLocked(tx, id)
        await recordAudit(tx, null, 'appeal.publish', 'appeal', id, { embargoLifted: true })
      }
      return ids.length
    })
  }

  async postUpdate(actor: Actor, id: string, input: FollowUp): Promise<StaffAppeal> {
    const { body, ...changes } = input
    return withTransaction(this.pool, async (tx) => {
      const row = await this.lockForEdit(tx, actor, id)
      if (row.status !== 'published') throw illegalTransition('post a follow-up to', row.status)
      const fields = checkSemantics(changes, row)
      const number = await repo.appendFollowUp(tx, id, body)
      await repo.updateAppeal(tx, id, fields)
      await this.settleApproval(tx, actor, row, { contentChanged: true, sensitive: row.sensitive })
      const updatedRow = (await repo.findAppeal(tx, id, { kind: 'all' }))!
      const updated = toApi(updatedRow)
      const update = updated.updates.find((u) => u.number === number)!
      const changed = changedFields(row, fields)
      await recordAudit(tx, actor, 'appeal.follow-up', 'appeal', id, { number, fields: changed })
      // `sensitive` is staff business: never named in an event.
      const announced = changed.filter((f) => f !== 'sensitive')
      await appendEvent(tx, 'appeal.updated', { appeal: updated, update, changes: ['updates', ...announced] }, { appealId: id })
      return toStaff(updatedRow)
    })
  }

  async close(actor: Actor, id: string, input: CloseAppeal): Promise<StaffAppeal> {
    return withTransaction(this.pool, async (tx) => {
      const row = await this.lockForEdit(tx, actor, id)
      if (row.status !== 'published') throw illegalTransition('close', row.status)
      await repo.setOutcome(tx, id, input.outcome)
      const closed = (await repo.findAppeal(tx, id, { kind: 'all' }))!
      await recordAudit(tx, actor, 'appeal.close', 'appeal', id, { outcome: input.outcome.code })
      await appendEvent(tx, 'appeal.closed', { appeal: toApi(closed) }, { appealId: id })
      return toStaff(closed)
    })
  }

  /**
   * Withdrawal takes content out of every public read and feed, including
   * the bodies of earlier events. A draft (even a scheduled one) was never
   * public, so withdrawing it announces nothing.
   */
  async withdraw(actor: Actor, id: string, reason: string): Promise<StaffAppeal> {
    return withTransaction(this.pool, async (tx) => {
      const row = await this.lockForEdit(tx, actor, id)
      if (row.status === 'withdrawn') throw illegalTransition('withdraw', row.status)
      await repo.setWithdrawn(tx, id, reason)
      await recordAudit(tx, actor, 'appeal.withdraw', 'appeal', id)
      if (row.status !== 'draft') {
        const stub = { appealId: id, reference: row.reference }
        await redactAppealEvents(tx, id, stub)
        await appendEvent(tx, 'appeal.withdrawn', stub, { appealId: id })
      }
      return toStaff((await repo.findAppeal(tx, id, { kind: 'all' }))!)
    })
  }

  async deliveryProgress(actor: Actor, id: string): Promise<DeliveryProgress> {
    // Fan-out progress is the owning organisation's business, like editing.
    const row = await repo.findAppeal(this.pool, id, visibilityFor(actor))
    if (!row || (actor.role !== 'admin' && row.organisationId !== actor.organisationId)) throw notFound('This appeal')
    const [{ counts, completedLastMinute }, actions, reports] = await Promise.all([
      countsByAppeal(this.pool, id), actionsTaken(this.pool, id), appealReportsAndWarnings(this.pool, id),
    ])
    const channels: DeliveryProgress['channels'] = { email: {}, webhook: {} }
    let total = 0
    let pending = 0
    for (const { channel, status, count } of counts) {
      channels[channel][status] = count
      total += count
      if (isUnfinished(status)) pending += count
    }
    const ratePerSecond = completedLastMinute > 0 ? completedLastMinute / 60 : null
    const eta = pending > 0 && ratePerSecond ? new Date(Date.now() + (pending / ratePerSecond) * 1000).toISOString() : null
    return { appealId: id, channels, total, pending, ratePerSecond, eta, actionsTaken: actions, emailHealth: emailHealthOf(reports, channels.email.sent ?? 0) }
  }
}
