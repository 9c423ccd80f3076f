// Real-browser tests: Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH)
// driven by playwright-core, which never downloads a browser; axe-core
// injected into pages for accessibility; screenshots into /tmp/ua-screens
// (or UA_SCREENS_DIR). One browser per test file: `launchBrowser(t)`, then
// a fresh context per page (own cookies) at a viewport and colour scheme.
// A missing Chromium fails the test with how to install it; it is never
// skipped. Used by the supporter pages now, the public site and the
// console next: only loopback servers (app.listen on 127.0.0.1).
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { chromium, type Browser, type CDPSession, type Page } from 'playwright-core'

export type { Page } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Headless, no sandbox (CI runs as root), and nothing that reaches the network on its own. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]

export const SCREENS_DIR = process.env.UA_SCREENS_DIR ?? '/tmp/ua-screens'

export type ColorScheme = 'light' | 'dark'

export interface Variant { width: number; height: number; colorScheme: ColorScheme }

/** Phone (390 px) and desktop (1280 px), each light and dark: what every page is checked in. */
export const VARIANTS: readonly Variant[] = [
  { width: 390, height: 844, colorScheme: 'light' },
  { width: 390, height: 844, colorScheme: 'dark' },
  { width: 1280, height: 800, colorScheme: 'light' },
  { width: 1280, height: 800, colorScheme: 'dark' },
]

export const variantName = (v: Variant) => `${v.width}-${v.colorScheme}`

interface Tap { teardown(fn: () => unknown): void }

export interface PageOptions {
  width?: number
  height?: number
  colorScheme?: ColorScheme
  /** Accept-Language and navigator.language of the context. */
  locale?: string
  /** false: the page runs no script at all (forms must work without it). */
  javaScriptEnabled?: boolean
}

export interface TestBrowser {
  browser: Browser
  /** A page in a fresh context; closed with the browser. */
  newPage(options?: PageOptions): Promise<Page>
  close(): Promise<void>
}

/**
 * Launches Chromium once for a test file; closed at teardown. Playwright
 * gives each launch a fresh temporary user-data-dir and deletes it on close.
 */
export async function launchBrowser(t: Tap): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: the browser tests need it. On Debian or Ubuntu: ` +
      '`DEBIAN_FRONTEND=noninteractive apt-get install -y chromium` (.ci/run does this); elsewhere set CHROMIUM_PATH to a Chromium or Chrome binary.')
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 })
  let closing: Promise<void> | undefined
  const close = () => (closing ??= browser.close().catch(() => {}))
  t.teardown(close)
  return {
    browser,
    async newPage(options = {}) {
      const context = await browser.newContext({
        viewport: { width: options.width ?? 390, height: options.height ?? 844 },
        colorScheme: options.colorScheme ?? 'light',
        locale: options.locale ?? 'en-GB',
        javaScriptEnabled: options.javaScriptEnabled ?? true,
        serviceWorkers: 'block',
      })
      context.setDefaultTimeout(15_000)
      const page = await context.newPage()
      if (options.javaScriptEnabled === false) scriptless.add(page)
      return page
    },
    close,
  }
}

// Pages opened with JavaScript off. axe-core cannot run in them (its
// timers never fire there), so checkVariants checks a twin: the same
// document, served at the same URL to a page with scripts on.
const scriptless = new WeakSet<Page>()

async function scriptedTwin(page: Page): Promise<Page> {
  // Its scripts stay out: the twin shows what the scriptless page shows.
  const html = (await page.content()).replace(/<script\b[\s\S]*?<\/script>/gi, '')
  const context = await page.context().browser()!.newContext({ serviceWorkers: 'block' })
  const twin = await context.newPage()
  const url = page.url()
  await twin.route((u) => u.href === url, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }))
  await twin.goto(url)
  return twin
}


/**
 * Everything a page did that it should not: requests to another origin and
 * console errors (a CSP violation is one; so is a sub-resource answering
 * 4xx, such as a missing favicon). Read `problems` at the end.
 */
export function watchPage(page: Page, origin: string): { problems: string[] } {
  const problems: string[] = []
  // An error page's own 4xx status is what the test asked for, not a problem.
  const documents = new Set<string>()
  page.on('request', (request) => {
    const url = request.url()
    if (request.isNavigationRequest()) documents.add(url)
    if (!url.startsWith(`${origin}/`) && !url.startsWith('data:') && url !== 'about:blank') problems.push(`request to another origin: ${url}`)
  })
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    const { url } = message.location()
    if (message.text().startsWith('Failed to load resource') && documents.has(url)) return
    problems.push(`console error: ${message.text()} (${url})`)
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  return { problems }
}

const require = createRequire(import.meta.url)
let axeSource: string | undefined

export interface AxeViolation { id: string; impact: string; help: string; targets: string[] }

/**
 * Runs axe-core (every rule of WCAG 2.0–2.2 A/AA and best practice) on the
 * current document and returns the serious and critical violations.
 * Injected through the DevTools protocol, which the page's CSP does not
 * govern: the page keeps its strict policy.
 */
export async function axeCheck(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(axeSource)
  const violations = await page.evaluate(async () => {
    // Runs in the page (this file is compiled without the DOM library: hence the casts).
    const page = globalThis as unknown as { document: unknown; axe: { run(context: unknown, options: object): Promise<{ violations: any[] }> } }
    const result = await page.axe.run(page.document, { resultTypes: ['violations'] })
    return result.violations.map((v) => ({
      id: String(v.id), impact: String(v.impact), help: String(v.help),
      targets: v.nodes.slice(0, 5).map((n: { target: unknown[] }) => n.target.join(' ')),
    }))
  })
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
}

export const describeViolations = (violations: AxeViolation[]) =>
  violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`).join('; ')

/** Switches the page to a viewport and colour scheme (prefers-color-scheme emulated) without reloading it. */
export async function applyVariant(page: Page, variant: Variant): Promise<void> {
  await page.setViewportSize({ width: variant.width, height: variant.height })
  await page.emulateMedia({ colorScheme: variant.colorScheme })
}

/** A full-page PNG in SCREENS_DIR (or `dir`), or its top `height` pixels; returns its path. */
export async function screenshot(page: Page, name: string, dir: string = SCREENS_DIR, height?: number): Promise<string> {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `${name.replace(/[^a-zA-Z0-9._-]+/g, '-')}.png`)
  const width = page.viewportSize()?.width ?? 390
  await page.screenshot({ path, fullPage: true, ...(height ? { clip: { x: 0, y: 0, width, height } } : {}) })
  return path
}

/** Where the README's screenshots live; they are written only with UA_README_SCREENSHOTS=1. */
export const README_SCREENS_DIR = join(import.meta.dirname, '..', 'screenshots')

/**
 * A README screenshot: the top `height` pixels of the page at `width` px,
 * light, into test/screenshots/ — only when UA_README_SCREENSHOTS=1 (the
 * README says how to refresh them). The page's viewport is put back.
 */
export async function readmeScreenshot(page: Page, name: string, o: { width: number; height: number }): Promise<void> {
  if (process.env.UA_README_SCREENSHOTS !== '1') return
  const before = page.viewportSize()
  await applyVariant(page, { width: o.width, height: 800, colorScheme: 'light' })
  await screenshot(page, name, README_SCREENS_DIR, o.height)
  if (before) await page.setViewportSize(before)
}

export interface VariantReport {
  /** `390-dark: color-contrast (serious): …` per variant with serious or critical violations. */
  violations: string[]
  /** Whether the page scrolls sideways (content wider than the viewport). */
  overflow: string[]
  screenshots: string[]
}

/**
 * The current document in every variant (390 and 1280 px, light and dark):
 * axe's serious and critical violations, sideways overflow, and
 * screenshots when `screenshotName` is given. The page is not reloaded, so
 * the result of a form POST is checked as it is.
 */
export async function checkVariants(page: Page, options: { screenshotName?: string; variants?: readonly Variant[] } = {}): Promise<VariantReport> {
  if (scriptless.has(page)) {
    const twin = await scriptedTwin(page)
    try { return await checkVariants(twin, options) } finally { await twin.context().close() }
  }
  const report: VariantReport = { violations: [], overflow: [], screenshots: [] }
  for (const variant of options.variants ?? VARIANTS) {
    await applyVariant(page, variant)
    const violations = await axeCheck(page)
    if (violations.length > 0) report.violations.push(`${variantName(variant)}: ${describeViolations(violations)}`)
    const width = await page.evaluate('document.documentElement.scrollWidth') as number
    if (width > variant.width) report.overflow.push(`${variantName(variant)}: ${width} px wide`)
    if (options.screenshotName) report.screenshots.push(await screenshot(page, `${options.screenshotName}-${variantName(variant)}`))
  }
  await applyVariant(page, VARIANTS[0]!)
  return report
}

/** WCAG contrast ratio of two sRGB colours given as `rgb(r, g, b)` / `rgba(…)` (alpha ignored: pass opaque colours). */
export function contrastRatio(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, bl] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number).map((c) => {
      const s = c / 255
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
    }) as [number, number, number]
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl
  }
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number]
  return (hi + 0.05) / (lo + 0.05)
}

/** Text colour, background colour and their contrast ratio of the first element matching `selector`. */
export async function elementContrast(page: Page, selector: string): Promise<{ color: string; background: string; ratio: number }> {
  const { color, background } = await page.locator(selector).first().evaluate((el) => {
    const style = (globalThis as unknown as { getComputedStyle(e: unknown): { color: string; backgroundColor: string } }).getComputedStyle(el)
    return { color: style.color, background: style.backgroundColor }
  })
  return { color, background, ratio: Math.round(contrastRatio(color, background) * 100) / 100 }
}

interface Asserts {
  same(found: any, wanted: any, message: string): unknown
  equal(found: any, wanted: any, message: string): unknown
}

/** What every page-walking test does: open watched pages, check each page it reaches, and see what went wrong. */
export interface PageWalk {
  /** A page in a fresh context, watched for requests to other origins and console errors. */
  open(options?: PageOptions): Promise<Page>
  /**
   * Waits for the page's h1, then asserts no serious or critical axe
   * violation and no sideways scrolling at 390 and 1280 px, light and
   * dark (screenshots when named); on a scriptless site, no script at all.
   */
  expectPage(page: Page, heading: string, screenshotName?: string): Promise<void>
  /** Everything the watched pages did that they should not have (assert it is empty at the end). */
  problems(): string[]
}

/** `scriptless`: the site's pages carry no script (the supporters' pages). */
export function walkPages(t: Asserts, browser: TestBrowser, origin: string, options: { scriptless?: boolean } = {}): PageWalk {
  const watches: { problems: string[] }[] = []
  return {
    async open(options = {}) {
      const page = await browser.newPage(options)
      watches.push(watchPage(page, origin))
      return page
    },
    async expectPage(page, heading, screenshotName) {
      await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor()
      const report = await checkVariants(page, screenshotName ? { screenshotName } : {})
      t.same(report.violations, [], `${heading}: no serious or critical axe violation at 390 and 1280 px, light and dark`)
      t.same(report.overflow, [], `${heading}: nothing wider than the screen`)
      if (options.scriptless) t.equal(await page.locator('script').count(), 0, `${heading}: no script`)
    },
    problems: () => watches.flatMap((w) => w.problems),
  }
}

// ---- Passkeys -------------------------------------------------------------------------

/**
 * A CDP virtual authenticator for the page (platform-like: resident keys,
 * user verification that succeeds), so WebAuthn ceremonies run for real.
 * Note: WebAuthn refuses IP addresses as relying party ids, so a console
 * under test is reached as `http://localhost:<port>`.
 */
export async function addVirtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  })
  return { cdp, authenticatorId }
}

/** A watched page with its own authenticator that enrols a passkey through a console enrolment link: signed in, at /console. */
export async function enrolInConsole(walk: PageWalk, enrolmentUrl: string, options: PageOptions = { width: 390 }): Promise<Page> {
  const page = await walk.open(options)
  await addVirtualAuthenticator(page)
  await page.goto(enrolmentUrl)
  await page.getByRole('button', { name: 'Create a passkey' }).click()
  await page.waitForURL(`${new URL(enrolmentUrl).origin}/console`)
  return page
}
