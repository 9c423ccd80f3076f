// The console's appeal lifecycle (contract §3, §9; a ConsoleArea of
// console.ts, with the Actions panel console-appeals.ts shows on an
// appeal's page): approve, publish or schedule, follow-up, close with
// outcome, withdraw with reason — each behind a confirmation page saying
// what will happen and to how many people — the email preview per
// language, and live delivery progress over server-sent events.
//
// No second copy of a rule: actions call the AppealService methods the
// API routes call, with the person as the actor (roles, tenancy, approval,
// transitions and the audit log are the service's); forms are checked by
// the API's own schemas (compileValidator); audiences are counted with the
// fan-out's own predicates (services/appeal-audience.ts); the preview is
// the mail renderer's own output (renderAlert). Approving sends the version
// the page showed as If-Match (the service answers 412 if it changed);
// the other actions take no If-Match in the API, so the version the page
// showed is compared with the current one just before the call.
//
// Progress: one stream per open page; one poller per appeal shared by all
// its watchers, at most one sample a second (services/progress-hub.ts);
// an event only when the counts change; the stream ends when the fan-out
// is over.
import { PassThrough } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import type { Actor } from '../auth/api-keys.js'
import { AppError, notFound, type FieldError } from '../errors.js'
import { compileValidator } from '../plugins/problem-details.js'
import { CloseAppealSchema, FollowUpSchema, WithdrawAppealSchema, type AppealRead } from '../schemas/appeal.js'
import { AppealService, etagOf } from '../services/appeals.js'
import { AppealAudience, publicAppeal, type AnnouncingAction } from '../services/appeal-audience.js'
import { ProgressHub, type ProgressSnapshot } from '../services/progress-hub.js'
import { renderAlert, type AlertEvent } from '../email/alert-message.js'
import { parseMailFrom } from '../email/mime.js'
import type { ConsoleSite } from '../pages/console-frame.js'
import type { ActionsPanel } from '../pages/console-appeals.js'
import { loadOwnAppeal } from './console-appeals.js'
import {
  actionsPanel, confirmPage, OUTCOME_CODES, previewPage, progressPage, refusalPage,
  type ConfirmValues, type LifecycleAction, type RefusalKind,
} from '../pages/console-appeal-actions.js'
import { PROGRESS_SCRIPT, PROGRESS_SCRIPT_PATH } from '../pages/console-progress-script.js'
import type { ConsoleArea } from './console.js'
import { acceptForms, formValue, type PostedForm } from './forms.js'

export interface ConsoleAppealActionsOptions {
  config: Readonly<Config>
  pool: Pool
  /** How often a watched appeal's counts are read (default 1 s). */
  progressIntervalMs?: number
}

const HTML = 'text/html; charset=utf-8'
// A follow-up of 20 000 characters, percent-encoded.
const FORM_BODY_LIMIT = 128 * 1024
const ACTIONS: readonly LifecycleAction[] = ['approve', 'publish', 'follow-up', 'close', 'withdraw']
/** A stream is ended after this long (the page's EventSource reconnects if the fan-out is still running). */
const STREAM_LIFETIME_MS = 10 * 60_000
const KEEP_ALIVE_MS = 15_000
/**
 * The mail preview's own policy: no script, no request anywhere (images
 * of data: only), inline styles as mails carry them, a sandbox with no
 * rights (a unique origin: no cookie, no console), framed by the console only.
 */
const PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"


const DONE_NOTICES = {
  published: 'The appeal is published. Its alerts are on their way.',
  'follow-up': 'The follow-up is posted. Its alerts are on their way.',
  closed: 'The appeal is closed. Its alerts are on their way.',
  withdrawn: 'The appeal is withdrawn.',
} as const

/** The lifecycle area and the panel it puts on an appeal's page (console-appeals.ts's `actionsPanel`). */
export function consoleAppealActions(opts: ConsoleAppealActionsOptions): { area: ConsoleArea; panel: ActionsPanel } {
  const { config, pool } = opts
  const appeals = new AppealService(pool)
  const audience = new AppealAudience(pool)
  const panelSite: ConsoleSite = { basePath: new URL(config.publicBaseUrl).pathname.replace(/\/+$/, '') }
  const listId = `alerts.${parseMailFrom(config.mailFrom).domain}`

  const panel: ActionsPanel = async (appeal) =>
    actionsPanel(panelSite, { appeal, approvalMissing: appeal.status === 'draft' && await audience.approvalMissing(appeal.id) })

  const area: ConsoleArea = async (app, { site, viewerOf }) => {
    const base = `${site.basePath}/console/appeals`
    const checkFollowUp = compileValidator(FollowUpSchema, 'body')
    const checkClose = compileValidator(CloseAppealSchema, 'body')
    const checkWithdraw = compileValidator(WithdrawAppealSchema, 'body')
    /**
     * The counts, and whether the fan-out is over. Settled first, then the
     * counts: read the other way round, counts taken before the fan-out froze
     * its rows (nothing pending yet) could be paired with a fan-out found
     * settled a moment later — "done" at 0 of 0.
     */
    const snapshotOf = async (actor: Actor, appealId: string): Promise<ProgressSnapshot> => {
      const settled = await audience.fanOutSettled(appealId)
      const progress = await appeals.deliveryProgress(actor, appealId)
      return { progress, done: settled && progress.pending === 0 }
    }
    const hub = new ProgressHub<Actor>({
      intervalMs: opts.progressIntervalMs ?? 1000,
      sample: (appealId, actor) => snapshotOf(actor, appealId),
      onError: (error) => app.log.warn({ err: error }, 'delivery progress sample failed'),
    })
    // Open streams end before the server waits for its connections.
    app.addHook('preClose', async () => hub.close())

    acceptForms(app, FORM_BODY_LIMIT, { replace: true })

    const editorOnly = { preHandler: app.requireRole('editor') }
    const actorOf = (request: FastifyRequest): Actor => request.actor!
    const page = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type(HTML).send(body)
    const idOf = (request: FastifyRequest) => (request.params as { id: string }).id

    const load = (actor: Actor, id: string) => loadOwnAppeal(appeals, actor, id)

    app.get(PROGRESS_SCRIPT_PATH, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=31536000, immutable').type('text/javascript; charset=utf-8').send(PROGRESS_SCRIPT))

    // ---- Confirmations and actions --------------------------------------------------------------------

    const confirm = async (request: FastifyRequest, reply: FastifyReply, appeal: AppealRead, action: LifecycleAction,
      o: { values?: ConfirmValues; errors?: FieldError[]; status?: number } = {}) => {
      const [who, approvalMissing] = await Promise.all([
        action === 'approve' ? Promise.resolve(null) : audience.of(appeal, action as AnnouncingAction),
        action === 'publish' ? audience.approvalMissing(appeal.id) : Promise.resolve(false),
      ])
      return page(reply, confirmPage(site, {
        viewer: await viewerOf(request), appeal, action, audience: who, approvalMissing,
        ...(o.values ? { values: o.values } : {}), ...(o.errors ? { errors: o.errors } : {}),
      }), o.status)
    }
    const refuse = async (request: FastifyRequest, reply: FastifyReply, kind: RefusalKind, shownVersion: number, detail: string, status: number) => {
      const appeal = await load(actorOf(request), idOf(request))
      return page(reply, refusalPage(site, { viewer: await viewerOf(request), appeal, kind, shownVersion, detail }), status)
    }

    for (const action of ACTIONS) {
      app.get(`/console/appeals/:id/${action}`, editorOnly, async (request, reply) =>
        confirm(request, reply, await load(actorOf(request), idOf(request)), action))

      app.post(`/console/appeals/:id/${action}`, editorOnly, async (request, reply) => {
        const actor = actorOf(request)
        const id = idOf(request)
        const form = request.body as PostedForm
        const shown = Number(formValue(form, '_version'))
        if (!Number.isSafeInteger(shown) || shown < 1) {
          throw new AppError(400, 'validation-error', 'This form is incomplete', 'The form did not say which version it was showing. Reload the appeal and try again.')
        }
        const appeal = await load(actor, id)
        const values: ConfirmValues = {
          body: formValue(form, 'body').replace(/\r\n/g, '\n'), code: formValue(form, 'code'), note: formValue(form, 'note').replace(/\r\n/g, '\n').trim(),
          reason: formValue(form, 'reason').replace(/\r\n/g, '\n').trim(),
        }
        // Approving names the version itself (If-Match, checked by the service); the others are checked here.
        if (action !== 'approve' && shown !== appeal.version) return refuse(request, reply, 'changed', shown, '', 412)
        try {
          switch (action) {
            case 'approve':
              await appeals.approve(actor, id, etagOf(shown))
              return reply.redirect(`${base}/${id}#actions`, 303)
            case 'publish': {
              const published = await appeals.publish(actor, id)
              return reply.redirect(published.status === 'published' ? `${base}/${id}/progress?done=published` : `${base}/${id}#actions`, 303)
            }
            case 'follow-up': {
              const input = { body: values.body! }
              const errors = checkFollowUp(input)
              if (errors.length > 0) return confirm(request, reply, appeal, action, { values, errors, status: 400 })
              await appeals.postUpdate(actor, id, input)
              return reply.redirect(`${base}/${id}/progress?done=follow-up`, 303)
            }
            case 'close': {
              const input = { outcome: { code: values.code!, ...(values.note ? { note: values.note } : {}) } }
              const errors = checkClose(input)
              if (errors.length > 0) {
                const readable = errors.map((e) => (e.pointer === '/outcome/code' ? { ...e, message: `choose one of the outcomes (${OUTCOME_CODES.length})` } : e))
                return confirm(request, reply, appeal, action, { values, errors: readable, status: 400 })
              }
              await appeals.close(actor, id, input as Parameters<AppealService['close']>[2])
              return reply.redirect(`${base}/${id}/progress?done=closed`, 303)
            }
            case 'withdraw': {
              const input = { reason: values.reason! }
              const errors = checkWithdraw(input)
              if (errors.length > 0) return confirm(request, reply, appeal, action, { values, errors, status: 400 })
              const withdrawn = await appeals.withdraw(actor, id, input.reason)
              return reply.redirect(appeal.status === 'draft' ? `${base}/${withdrawn.id}` : `${base}/${id}/progress?done=withdrawn`, 303)
            }
          }
        } catch (error) {
          if (!(error instanceof AppError) || error.status >= 500 || [401, 403, 404].includes(error.status)) throw error
          if (error.slug === 'approval-required' || error.slug === 'self-approval') return refuse(request, reply, error.slug, shown, error.message, 409)
          if (error.status === 412) return refuse(request, reply, 'changed', shown, error.message, 412)
          if (error.status === 400 && error.errors?.length) return confirm(request, reply, appeal, action, { values, errors: error.errors, status: 400 })
          return refuse(request, reply, 'not-now', shown, error.message, error.status)
        }
      })
    }

    // ---- Email preview ------------------------------------------------------------------------------------

    /** The mail supporters of `language` get for the appeal's publication (or closing, once closed). */
    const mailOf = (appeal: AppealRead, language: string) => {
      const event: AlertEvent = { type: appeal.status === 'closed' ? 'appeal.closed' : 'appeal.published', data: { appeal: publicAppeal(appeal) } }
      return renderAlert(event, language, { listId })
    }
    const languagesOf = (appeal: AppealRead) => [appeal.language, ...appeal.translations.map((tr) => tr.language)]
    // Each supporter's own links are filled in per recipient: placeholders here.
    const fillSlots = (text: string, asLink: boolean) =>
      text.replace(/\u0000(\w+)\u0000/g, (_m, name: string) => (asLink ? `#${name}` : `[${name === 'unsubscribe' ? 'your unsubscribe link' : name === 'preferences' ? 'your preferences link' : name}]`))

    app.get('/console/appeals/:id/email', editorOnly, async (request, reply) => {
      const appeal = await load(actorOf(request), idOf(request))
      if (appeal.status === 'withdrawn') throw new AppError(409, 'illegal-transition', 'Withdrawn', 'A withdrawn appeal is never mailed.')
      const previews = languagesOf(appeal).map((language) => {
        const mail = mailOf(appeal, language)
        return { language, subject: mail.subject, text: fillSlots(mail.spec.text, false), src: `${base}/${appeal.id}/email/${encodeURIComponent(language)}` }
      })
      return page(reply, previewPage(site, {
        viewer: await viewerOf(request), appeal, kind: appeal.status === 'closed' ? 'closing' : 'publication', previews,
      }))
    })

    app.get('/console/appeals/:id/email/:language', editorOnly, async (request, reply) => {
      const appeal = await load(actorOf(request), idOf(request))
      const { language } = request.params as { language: string }
      if (appeal.status === 'withdrawn' || !languagesOf(appeal).includes(language)) throw notFound('This preview')
      const mail = mailOf(appeal, language)
      return reply.header('content-security-policy', PREVIEW_CSP).header('x-frame-options', 'SAMEORIGIN')
        .type(HTML).send(fillSlots(mail.spec.html ?? '', true))
    })

    // ---- Delivery progress ----------------------------------------------------------------------------------

    app.get('/console/appeals/:id/progress', editorOnly, async (request, reply) => {
      const actor = actorOf(request)
      const appeal = await load(actor, idOf(request))
      const { progress, done } = await snapshotOf(actor, appeal.id)
      const key = (request.query as { done?: string }).done
      const notice = key && key in DONE_NOTICES ? DONE_NOTICES[key as keyof typeof DONE_NOTICES] : undefined
      return page(reply, progressPage(site, {
        viewer: await viewerOf(request), appeal, progress, done, stream: `${base}/${appeal.id}/progress/events`, ...(notice ? { notice } : {}),
      }))
    })

    app.get('/console/appeals/:id/progress/events', editorOnly, async (request, reply) => {
      const actor = actorOf(request)
      const appeal = await load(actor, idOf(request))
      const stream = new PassThrough()
      let finished = false
      let unwatch: (() => void) | null = null
      const finish = () => {
        if (finished) return
        finished = true
        clearInterval(keepAlive)
        clearTimeout(lifetime)
        unwatch?.()
        stream.end()
      }
      const keepAlive = setInterval(() => stream.write(': keep-alive\n\n'), KEEP_ALIVE_MS)
      const lifetime = setTimeout(finish, STREAM_LIFETIME_MS)
      stream.write('retry: 5000\n\n')
      unwatch = hub.watch(appeal.id, {
        update(snapshot) {
          if (finished) return
          stream.write(`event: ${snapshot.done ? 'done' : 'progress'}\ndata: ${JSON.stringify({ ...snapshot.progress, done: snapshot.done })}\n\n`)
          if (snapshot.done) finish()
        },
        end: finish,
      }, actor)
      if (finished) unwatch()
      request.raw.on('close', finish)
      return reply.header('cache-control', 'no-store').header('x-accel-buffering', 'no')
        .type('text/event-stream; charset=utf-8').send(stream)
    })
  }

  return { area, panel }
}
