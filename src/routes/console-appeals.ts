// The console's appeals area (contract §9; a ConsoleArea of console.ts):
// the list with search and filters, drafting, editing every field with a
// Markdown preview, translations side by side, and a way through a
// conflicting save. Thin, and no second copy of a rule: a form becomes the
// body the JSON API takes (pages/console-appeal-form.ts), checked by the
// API's own schemas with the API's own validator (compileValidator, the
// routes' Ajv), then handed to the same AppealService methods the API
// routes call, with the person as the actor. Errors come back as the API's
// field errors (JSON pointers) and are shown at their fields.
//
// Saves are optimistic like the API's: the form carries the version it was
// loaded with, sent as If-Match; a 412 becomes a page that names what
// changed (by whom: "someone else" or "you", per field, from fingerprints
// of the loaded version) and offers to keep mine on the current version or
// discard them. Lifecycle actions (approve, publish, …) are another area's:
// `actionsPanel` renders them on an appeal's page.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import type { Actor } from '../auth/api-keys.js'
import { AppError, notFound, type FieldError } from '../errors.js'
import { compileValidator } from '../plugins/problem-details.js'
import { canonicalLanguage, isUuid } from '../lib/codes.js'
import { CreateAppealSchema, ListAppealsQuery, PatchAppealSchema, TranslationInputSchema, type AppealRead } from '../schemas/appeal.js'
import { AppealService, etagOf } from '../services/appeals.js'
import { knownThemes } from '../repositories/subscriptions.js'
import { offeredThemes } from '../pages/fields.js'
import type { Viewer } from '../pages/console-frame.js'
import type { EditorData } from '../pages/console-appeal-editor.js'
import {
  changedSince, createInput, decodeFingerprints, emptyForm, fingerprints, merged, patchInput, valuesFromAppeal, valuesFromForm,
  type AppealFormValues, type Fingerprints, type PostedForm,
} from '../pages/console-appeal-form.js'
import {
  appealPage, conflictPage, LIST_FILTERS, listPage, newAppealPage, ownAppeal, translationPage,
  type ActionsPanel, type ListFilters, type TranslationValues,
} from '../pages/console-appeals.js'
import type { ConsoleArea } from './console.js'
import { acceptForms, formValue } from './forms.js'

export interface ConsoleAppealsOptions {
  config: Readonly<Config>
  pool: Pool
  /** The lifecycle actions on an appeal's page (approve, publish, follow-up, close, withdraw…): another area's. */
  actionsPanel?: ActionsPanel
}

const HTML = 'text/html; charset=utf-8'
// A body of 20 000 characters, percent-encoded, with everything else an appeal holds.
const FORM_BODY_LIMIT = 256 * 1024

/** What a page confirms after a save (from `?done=`): fixed wording only. */
const DONE = {
  created: 'The draft is created.',
  saved: 'Your changes are saved.',
  unchanged: 'Nothing had changed: nothing was saved.',
  translated: 'The translation is saved.',
} as const

const doneNotice = (request: FastifyRequest) => {
  const done = (request.query as { done?: string }).done
  return done && done in DONE ? DONE[done as keyof typeof DONE] : undefined
}

/** The appeal as its own organisation's staff read it; anyone else's (or a malformed id) is not found in the console. */
export async function loadOwnAppeal(appeals: AppealService, actor: Actor, id: string): Promise<AppealRead> {
  if (!isUuid(id)) throw notFound('This appeal')
  const appeal = await appeals.get(actor, id)
  if (!ownAppeal(appeal)) throw notFound('This appeal')
  return appeal
}

export function consoleAppeals(opts: ConsoleAppealsOptions): ConsoleArea {
  return async (app, { site, viewerOf }) => {
    const { pool } = opts
    const appeals = new AppealService(pool)
    // The API's schemas, through the API's validator: the same rules and the same messages.
    const checkCreate = compileValidator(CreateAppealSchema, 'body')
    const checkPatch = compileValidator(PatchAppealSchema, 'body')
    const checkTranslation = compileValidator(TranslationInputSchema, 'body')
    const checkList = compileValidator(ListAppealsQuery, 'query')
    const base = `${site.basePath}/console/appeals`

    // An appeal form is bigger than the sign-in forms the console parses by default.
    acceptForms(app, FORM_BODY_LIMIT, { replace: true })

    const editorOnly = { preHandler: app.requireRole('editor') }
    const actorOf = (request: FastifyRequest): Actor => request.actor!
    const page = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type(HTML).send(body)
    const themes = async () => offeredThemes(await knownThemes(pool))

    const load = (actor: Actor, id: string) => loadOwnAppeal(appeals, actor, id)
    const editable = (a: AppealRead) => a.status === 'draft' || a.status === 'published'

    const editorFor = async (viewer: Viewer, a: AppealRead, o: Partial<EditorData> & { values?: AppealFormValues; base?: Fingerprints } = {}): Promise<EditorData | null> => {
      if (!editable(a)) return null
      const values = o.values ?? valuesFromAppeal(a)
      return {
        viewer, action: `${base}/${a.id}`, mode: 'edit', themes: await themes(),
        version: a.version, base: fingerprints(values), ...o, values,
      }
    }
    const showAppeal = async (request: FastifyRequest, reply: FastifyReply, a: AppealRead, o: {
      editor?: Partial<EditorData> & { values?: AppealFormValues }; status?: number; notice?: string
    } = {}) => {
      const viewer = await viewerOf(request)
      const actions = opts.actionsPanel ? await opts.actionsPanel(a, viewer) : undefined
      const notice = o.notice ?? doneNotice(request)
      return page(reply, appealPage(site, {
        viewer, appeal: a, editor: await editorFor(viewer, a, o.editor), ...(notice ? { notice } : {}), ...(actions ? { actions } : {}),
      }), o.status)
    }

    /** What the API's answer says about the fields, or the whole request. */
    const problemOf = (error: unknown): { errors?: FieldError[]; problem?: string; status: number } => {
      if (!(error instanceof AppError) || error.status >= 500 || error.status === 401 || error.status === 403 || error.status === 404) throw error
      return error.errors && error.errors.length > 0 ? { errors: error.errors, status: error.status } : { problem: `${error.title}: ${error.message}`, status: error.status }
    }

    // ---- The list -------------------------------------------------------------------------

    app.get('/console/appeals', editorOnly, async (request, reply) => {
      const raw = request.query as Record<string, string | string[] | undefined>
      const filters: ListFilters = {}
      for (const name of [...LIST_FILTERS, 'cursor'] as const) {
        const value = raw[name]
        const text = (Array.isArray(value) ? value[0] : value)?.trim()
        if (text) filters[name] = text
      }
      const viewer = await viewerOf(request)
      const show = async (items: AppealRead[] | null, nextCursor: string | null, errors?: FieldError[]) =>
        page(reply, listPage(site, { viewer, filters, items, nextCursor, themes: await themes(), ...(errors ? { errors } : {}) }), errors ? 400 : 200)
      const errors = checkList({ ...filters })
      if (errors.length > 0) return show(null, null, errors)
      try {
        const result = await appeals.list(actorOf(request), { ...filters, limit: 20 } as Parameters<AppealService['list']>[1])
        return show(result.items, result.nextCursor)
      } catch (error) {
        const { errors: fieldErrors } = problemOf(error)
        return show(null, null, fieldErrors ?? [])
      }
    })

    // ---- New --------------------------------------------------------------------------------

    const newEditor = async (request: FastifyRequest, values: AppealFormValues, o: Partial<EditorData> = {}): Promise<EditorData> =>
      ({ viewer: await viewerOf(request), action: `${base}/new`, mode: 'create', values, themes: await themes(), ...o })

    app.get('/console/appeals/new', editorOnly, async (request, reply) =>
      page(reply, newAppealPage(site, await newEditor(request, emptyForm()))))

    app.post('/console/appeals/new', editorOnly, async (request, reply) => {
      const form = request.body as PostedForm
      const action = formValue(form, '_action') || 'save'
      const values = valuesFromForm(form)
      if (action !== 'save') return page(reply, newAppealPage(site, await newEditor(request, values, { preview: action === 'preview' })))
      const input = createInput(values)
      const errors = checkCreate(input)
      if (errors.length > 0) return page(reply, newAppealPage(site, await newEditor(request, values, { errors })), 400)
      try {
        const created = await appeals.create(actorOf(request), input as Parameters<AppealService['create']>[1])
        return reply.redirect(`${base}/${created.id}?done=created`, 303)
      } catch (error) {
        const { status, ...problem } = problemOf(error)
        return page(reply, newAppealPage(site, await newEditor(request, values, problem)), status)
      }
    })

    // ---- One appeal ----------------------------------------------------------------------------

    app.get('/console/appeals/:id', editorOnly, async (request, reply) =>
      showAppeal(request, reply, await load(actorOf(request), (request.params as { id: string }).id)))

    app.post('/console/appeals/:id', editorOnly, async (request, reply) => {
      const actor = actorOf(request)
      const id = (request.params as { id: string }).id
      const form = request.body as PostedForm
      const action = formValue(form, '_action') || 'save'
      const values = valuesFromForm(form)
      const version = Number(formValue(form, '_version'))
      const loaded = decodeFingerprints(formValue(form, '_base'))
      const appeal = await load(actor, id)
      if (!editable(appeal)) return showAppeal(request, reply, appeal, { status: 409, notice: `A ${appeal.status} appeal can no longer be edited: nothing was saved.` })
      if (!loaded || !Number.isSafeInteger(version) || version < 1) {
        throw new AppError(400, 'validation-error', 'This form is incomplete', 'The form did not say which version it was loaded with. Reload the appeal and try again.')
      }
      const again = (o: Partial<EditorData>, status = 200) =>
        showAppeal(request, reply, appeal, { status, editor: { values, version, base: loaded, ...o } })
      if (action !== 'save') return again({ preview: action === 'preview' })

      const changed = changedSince(loaded, values)
      if (changed.length === 0) return reply.redirect(`${base}/${id}?done=unchanged`, 303)
      const input = patchInput(values, changed)
      const errors = checkPatch(input)
      if (errors.length > 0) return again({ errors }, 400)
      try {
        await appeals.patch(actor, id, input as Parameters<AppealService['patch']>[2], etagOf(version))
        return reply.redirect(`${base}/${id}?done=saved`, 303)
      } catch (error) {
        if (error instanceof AppError && error.status === 412) {
          // Someone saved first: what they changed, what I changed, and mine on their version.
          const current = await load(actor, id)
          const currentValues = valuesFromAppeal(current)
          const viewer = await viewerOf(request)
          const editor = (await editorFor(viewer, current, { values: merged(currentValues, values, changed), base: fingerprints(currentValues) }))!
          return page(reply, conflictPage(site, {
            viewer, appeal: current, yourVersion: version, mine: changed, theirs: changedSince(loaded, currentValues),
            current: currentValues, yours: values, editor,
          }), 409)
        }
        const { status, ...problem } = problemOf(error)
        return again(problem, status)
      }
    })

    // ---- Translations ------------------------------------------------------------------------------

    app.get('/console/appeals/:id/translations', editorOnly, async (request, reply) => {
      const { id } = request.params as { id: string }
      const language = String((request.query as { language?: unknown }).language ?? '')
      await load(actorOf(request), id)
      return reply.redirect(`${base}/${id}/translations/${encodeURIComponent(language)}`, 303)
    })

    /** The appeal and the canonical form of the language; a redirect when the URL should be another. */
    const translationTarget = async (request: FastifyRequest) => {
      const { id, language } = request.params as { id: string; language: string }
      const appeal = await load(actorOf(request), id)
      const canonical = canonicalLanguage(language)
      if (!canonical || language.length > 35) throw new AppError(404, 'not-found', 'Not found', `${language.slice(0, 35)} is not a language we know.`)
      return { appeal, language: canonical, redirect: canonical !== language || canonical === appeal.language }
    }
    const translationLocation = (id: string, language: string) => `${base}/${id}/translations/${encodeURIComponent(language)}`

    app.get('/console/appeals/:id/translations/:language', editorOnly, async (request, reply) => {
      const { appeal, language, redirect } = await translationTarget(request)
      if (language === appeal.language) return reply.redirect(`${base}/${appeal.id}#edit`, 303)
      if (redirect) return reply.redirect(translationLocation(appeal.id, language), 303)
      const existing = appeal.translations.find((t) => t.language === language)
      const values: TranslationValues = existing
        ? { title: existing.title, summary: existing.summary, body: existing.body, asks: [...existing.asks] }
        : { title: '', summary: '', body: '', asks: [] }
      const notice = doneNotice(request)
      return page(reply, translationPage(site, {
        viewer: await viewerOf(request), appeal, language, values, exists: existing !== undefined, ...(notice ? { notice } : {}),
      }))
    })

    app.post('/console/appeals/:id/translations/:language', editorOnly, async (request, reply) => {
      const { appeal, language } = await translationTarget(request)
      const form = request.body as PostedForm
      const action = formValue(form, '_action') || 'save'
      const values: TranslationValues = {
        title: formValue(form, 'title').trim(), summary: formValue(form, 'summary').trim(), body: formValue(form, 'body').replace(/\r\n/g, '\n'),
        asks: (form.asks ?? []).map((a) => a.replace(/\r\n/g, '\n').trim()).filter((a) => a !== ''),
      }
      const exists = appeal.translations.some((t) => t.language === language)
      const show = async (o: { errors?: FieldError[]; problem?: string; preview?: boolean }, status = 200) =>
        page(reply, translationPage(site, { viewer: await viewerOf(request), appeal, language, values, exists, ...o }), status)
      if (action !== 'save') return show({ preview: action === 'preview' })
      const errors = checkTranslation({ ...values })
      if (errors.length > 0) return show({ errors }, 400)
      try {
        await appeals.putTranslation(actorOf(request), appeal.id, language, values)
        return reply.redirect(`${translationLocation(appeal.id, language)}?done=translated`, 303)
      } catch (error) {
        const { status, ...problem } = problemOf(error)
        return show(problem, status)
      }
    })
  }
}
