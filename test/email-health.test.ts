// Deliverability health (contract §10, issue 13 item 4), against the real
// Postgres and real alert mail from the SMTP sink: bounce and complaint
// counts and rates per appeal in GET /v1/appeals/{id}/deliveries (owning
// organisation only), the audit-log warning written once when a report
// takes a rate past its threshold (not before, not again, not twice when
// two reports cross together), the /metrics gauges, and the console's
// progress page and audit log showing them.
import t from 'tap'
import { applyEmailReport, type EmailReport } from '../src/services/email-reports.js'
import { MIN_REPORTS, rateOverThreshold, WARNING_ACTION } from '../src/services/email-health.js'
import { consoleSession } from './helpers/console.js'
import { alertOf, BOUNCE_DOMAIN, publishAndSettle } from './helpers/bounces.js'
import { eventually, startSupporterStack, subscribeAndConfirm } from './helpers/supporters.js'

const DOMAIN = BOUNCE_DOMAIN
const PEOPLE = ['p1@example.org', 'p2@example.org', 'p3@example.org', 'p4@example.org', 'p5@example.org', 'p6@example.org'] as const



t.test('the rule: above the threshold with at least two reports', async (t) => {
  t.equal(MIN_REPORTS, 2)
  t.notOk(rateOverThreshold('complaint', 1, 10), 'one complaint of 10 (10 %) alone does not warn')
  t.ok(rateOverThreshold('complaint', 2, 10), 'two of 10 do')
  t.ok(rateOverThreshold('complaint', 2, 1_999), 'two of 1 999 (0.1001 %) do')
  t.notOk(rateOverThreshold('complaint', 2, 2_000), 'two of 2 000 (exactly 0.1 %) do not')
  t.notOk(rateOverThreshold('hard-bounce', 2, 100), 'two hard bounces of 100 (exactly 2 %) do not')
  t.ok(rateOverThreshold('hard-bounce', 3, 100), 'three of 100 do')
  t.notOk(rateOverThreshold('hard-bounce', 5, 0), 'no rate without mail sent')
})

t.test('bounce and complaint health per appeal: API, audit warning once, metrics, console', async (t) => {
  const stack = await startSupporterStack(t, { BOUNCE_DOMAIN: DOMAIN, MAIL_FROM: 'Urgent Appeals <alerts@ngo.example>' })
  const options = { secretsKey: stack.config.secretsKey, bounceDomain: stack.config.email.bounce.domain }
  const apply = (report: EmailReport) => applyEmailReport(stack.pool, report, options)
  const hard = async (email: string, appealId: string) =>
    apply({ kind: 'hard-bounce', source: 'smtp-dsn', returnPath: (await alertOf(stack, email, appealId)).returnPath, status: '5.1.1' })
  const soft = async (email: string, appealId: string) =>
    apply({ kind: 'soft-bounce', source: 'smtp-dsn', returnPath: (await alertOf(stack, email, appealId)).returnPath, status: '4.2.2' })
  const complaint = async (email: string, appealId: string, reportId: string) =>
    apply({ kind: 'complaint', source: 'postmark', messageId: (await alertOf(stack, email, appealId)).messageId, reportId })
  const health = async (appealId: string, as: 'editor' | 'admin' = 'editor') => {
    const res = await stack.request(as, 'GET', `/v1/appeals/${appealId}/deliveries`)
    t.equal(res.statusCode, 200)
    return res.json().emailHealth
  }
  const warnings = async (appealId?: string) => {
    const res = await stack.request('admin', 'GET', `/v1/audit-log?action=${WARNING_ACTION}&limit=100`)
    t.equal(res.statusCode, 200)
    return (res.json().items as { resourceId: string }[]).filter((e) => appealId === undefined || e.resourceId === appealId)
  }

  for (const email of PEOPLE) await subscribeAndConfirm(stack, email)
  const first = await publishAndSettle(stack, PEOPLE.length, 'UA 401/26')
  const second = await publishAndSettle(stack, PEOPLE.length, 'UA 402/26')

  await t.test('before any report: counts 0, rates 0, no warning', async (t) => {
    t.same(await health(first), {
      sent: 6, hardBounces: 0, softBounces: 0, complaints: 0, hardBounceRate: 0, softBounceRate: 0, complaintRate: 0,
      thresholds: { hardBounceRate: 0.02, complaintRate: 0.001 }, warnings: [],
    })
  })

  await t.test('only the owning organisation sees it', async (t) => {
    const other = await stack.request('otherEditor', 'GET', `/v1/appeals/${first}/deliveries`)
    t.equal(other.statusCode, 404, "another organisation's editor: 404")
    t.notMatch(other.body, /hardBounces|emailHealth/)
  })

  await t.test('hard bounces: the first alone does not warn, the second does, once', async (t) => {
    t.match(await hard('p1@example.org', first), { outcome: 'applied', effect: 'suppressed' })
    t.same(await warnings(), [], 'one hard bounce of 6: no warning yet')
    t.match(await health(first), { sent: 6, hardBounces: 1, hardBounceRate: 0.166667, warnings: [] })

    t.match(await hard('p2@example.org', first), { outcome: 'applied', effect: 'suppressed' })
    const after = await warnings(first)
    t.equal(after.length, 1, 'two of 6: the warning')
    t.match(after[0], {
      action: WARNING_ACTION, resourceType: 'appeal', resourceId: first, organisationId: stack.orgIds.ngo, actorRole: 'service',
      apiKeyId: null, personId: null, details: { kind: 'hard-bounce', rate: 0.333333, threshold: 0.02, reports: 2, sent: 6 },
    })
    t.notMatch(JSON.stringify(after), /example\.org/, 'no address in the audit log')

    t.match(await hard('p3@example.org', first), { outcome: 'applied', effect: 'suppressed' })
    t.same(await hard('p2@example.org', first), { outcome: 'duplicate' })
    t.equal((await warnings(first)).length, 1, 'a third bounce and a repeated report: still one warning')
  })

  await t.test('soft bounces count but never warn; complaints warn at the second', async (t) => {
    t.match(await soft('p4@example.org', first), { outcome: 'applied', effect: 'counted' })
    t.match(await soft('p5@example.org', first), { outcome: 'applied', effect: 'counted' })
    t.equal((await warnings(first)).length, 1, 'two soft bounces of 6: no warning')
    t.match(await complaint('p4@example.org', first, 'pm-1'), { outcome: 'applied', effect: 'unsubscribed' })
    t.equal((await warnings(first)).length, 1, 'one complaint: no warning yet')
    t.match(await complaint('p5@example.org', first, 'pm-2'), { outcome: 'applied', effect: 'unsubscribed' })
    const all = await warnings(first)
    t.equal(all.length, 2, 'the complaint warning')
    t.match(all[0], { details: { kind: 'complaint', rate: 0.333333, threshold: 0.001, reports: 2, sent: 6 } })

    const h = await health(first)
    t.match(h, {
      sent: 6, hardBounces: 3, softBounces: 2, complaints: 2, hardBounceRate: 0.5, softBounceRate: 0.333333, complaintRate: 0.333333,
    })
    t.match(h.warnings, [
      { kind: 'hard-bounce', rate: 0.333333, threshold: 0.02, reports: 2, sent: 6, at: /^\d{4}-\d\d-\d\dT.*Z$/ },
      { kind: 'complaint', rate: 0.333333, threshold: 0.001, reports: 2, sent: 6 },
    ])
    t.equal(h.warnings.length, 2)
    t.match(await health(second), { hardBounces: 0, complaints: 0, warnings: [] }, 'the other appeal is untouched')
  })

  await t.test('two reports crossing the line at the same time warn exactly once', async (t) => {
    // Both reports are held after storing their row and before their check (a lock on the warnings
    // table), then released together: each transaction's count alone sees one report.
    const holder = await stack.pool.connect()
    await holder.query('BEGIN')
    await holder.query('LOCK TABLE appeal_email_warnings IN ACCESS EXCLUSIVE MODE')
    // p1 and p2 are already suppressed: these reports change nothing for them, but count for the appeal.
    const both = Promise.all([hard('p1@example.org', second), hard('p2@example.org', second)])
    try {
      await eventually(async () => {
        const { rows } = await stack.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT 1 FROM appeal_email_warnings WHERE%'`)
        return rows[0]!.n === 2 || undefined
      }, 10_000, 'both reports waiting')
    } finally {
      await holder.query('COMMIT')
      holder.release()
    }
    const [a, b] = await both
    t.match([a, b], [{ outcome: 'applied', effect: 'recorded' }, { outcome: 'applied', effect: 'recorded' }])
    t.equal((await warnings(second)).length, 1)
    t.match(await health(second), { hardBounces: 2, hardBounceRate: 0.333333, warnings: [{ kind: 'hard-bounce' }] })
  })

  await t.test('/metrics: reports of the last 24 h by kind, warnings by kind, suppressions by reason; no appeal or address', async (t) => {
    const body = await eventually(async () => {
      const res = await stack.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })
      return res.body.includes('ua_email_reports_last_24h{kind="hard-bounce"} 5') ? res.body : undefined
    }, 10_000, 'the gauges recounted')
    t.match(body, /ua_email_reports_last_24h\{kind="hard-bounce"\} 5\n/)
    t.match(body, /ua_email_reports_last_24h\{kind="soft-bounce"\} 2\n/)
    t.match(body, /ua_email_reports_last_24h\{kind="complaint"\} 2\n/)
    t.match(body, /ua_email_deliverability_warnings_last_24h\{kind="hard-bounce"\} 2\n/)
    t.match(body, /ua_email_deliverability_warnings_last_24h\{kind="complaint"\} 1\n/)
    t.match(body, /ua_email_suppressed_addresses\{reason="hard-bounce"\} 3\n/)
    t.match(body, /ua_email_suppressed_addresses\{reason="complaint"\} 2\n/)
    t.match(body, /ua_email_suppressed_addresses\{reason="soft-bounce"\} 0\n/, 'every reason shown, 0 when none')
    t.notMatch(body, new RegExp(`${first}|${second}|example\\.org`))
  })

  await t.test('the console: counts, rates and the warning on the progress page; the audit log names the service', async (t) => {
    const editor = await consoleSession(stack, 'editor')
    const page = await editor.request('GET', `/console/appeals/${first}/progress`)
    t.equal(page.statusCode, 200)
    t.match(page.body, /<div class="notice error" role="alert" id="deliverability-warning">/)
    t.match(page.body, /data-warning="hard-bounce">The hard-bounce rate passed 2 %: 2 hard bounces of 6 mails \(33.33 %\)/)
    t.match(page.body, /data-warning="complaint">The complaint rate passed 0.1 %: 2 spam complaints of 6 mails \(33.33 %\)/)
    t.match(page.body, /data-health="hard-bounces">3</)
    t.match(page.body, /data-health="hard-bounces-rate" data-threshold="0.02">50 % <strong>\(above 2 %\)<\/strong>/)
    t.match(page.body, /data-health="soft-bounces">2</)
    t.match(page.body, /data-health="complaints">2</)
    t.match(page.body, /data-health="complaints-rate" data-threshold="0.001">33.33 % <strong>\(above 0.1 %\)<\/strong>/)
    t.notMatch(page.body, /p\d@example\.org/, 'no supporter address')

    const calm = await publishAndSettle(stack, 1, 'UA 403/26') // only p6 is still mailed
    const quiet = await editor.request('GET', `/console/appeals/${calm}/progress`)
    t.equal(quiet.statusCode, 200)
    t.notMatch(quiet.body, /deliverability-warning/, 'no warning on an appeal without reports')
    t.match(quiet.body, /data-health="complaints">0</)

    const outsider = await consoleSession(stack, 'editor', { org: 'Other NGO' })
    t.equal((await outsider.request('GET', `/console/appeals/${first}/progress`)).statusCode, 404, "another organisation's editor")

    const admin = await consoleSession(stack, 'admin')
    const audit = await admin.request('GET', `/console/audit-log?action=${WARNING_ACTION}`)
    t.equal(audit.statusCode, 200)
    t.equal(audit.body.split(`<code>${WARNING_ACTION}</code>`).length - 1, 3, 'three warnings listed')
    t.match(audit.body, /The service itself \(automatic\)/)
  })
})
