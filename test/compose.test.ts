// Keeps the operator-facing files in step with the code: docker-compose.yml
// (topology of architecture.md, every config variable in the shared
// environment), the Dockerfile (non-root, health-checked, migrations
// shipped, and its build replayed without Docker) and the README's
// configuration table.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import t from 'tap'
import { parse } from 'yaml'
import { CONFIG_VARIABLES, EnvSchema, loadConfig } from '../src/config.js'
import { servers } from './helpers/context.js'
import { DIST, ensureBuilt } from './harness/build.js'

type Json = Record<string, any>
const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8')

const compose: Json = parse(read('docker-compose.yml'), { merge: true })
const services: Json = compose.services ?? {}
const dockerfile = read('Dockerfile')
const readme = read('README.md')
const sorted = (names: Iterable<string>) => [...names].sort()
const schemaDefault = (name: string): string | undefined =>
  (EnvSchema.properties as Record<string, { default?: string }>)[name]?.default

/** `environment:` as a map, whether written as a map or as `KEY=value` lines. */
function environmentOf(service: Json): Record<string, string> {
  const env = service.environment ?? {}
  if (!Array.isArray(env)) return env
  return Object.fromEntries(env.map((line: string) => {
    const i = line.indexOf('=')
    return i < 0 ? [line, ''] : [line.slice(0, i), line.slice(i + 1)]
  }))
}

/** The command as words, whether written as a list or a string. */
const words = (command: unknown): string[] =>
  Array.isArray(command) ? command.map(String) : typeof command === 'string' ? command.trim().split(/\s+/) : []

/** Compose's `${VAR:-default}`, `${VAR:?message}` and `${VAR}`, resolved against `vars`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    if (vars[name] !== undefined && vars[name] !== '') return vars[name]!
    if (op === '?') throw new Error(`${name} is required: ${arg}`)
    return op === '-' ? arg ?? '' : ''
  })
}

const APP_ROLES = { api: 'serve', worker: 'worker', migrate: 'migrate' } as const

t.test('docker-compose.yml runs every service that architecture.md names', async (t) => {
  // "Postgres, Redis with AOF and noeviction, a mail catcher such as Mailpit,
  // migrate one-shot, api, worker scalable"
  for (const name of ['postgres', 'redis', 'mailpit', 'migrate', 'api', 'worker']) {
    t.ok(services[name], `service ${name} exists`)
  }
  t.match(services.postgres?.image, /^postgres:1[5-9]/, 'Postgres 15 or newer')
  t.match(services.redis?.image, /^redis:[7-9]/, 'Redis 7 or newer')
  t.match(services.mailpit?.image, /^axllent\/mailpit/, 'Mailpit catches mail')
  t.ok(services.postgres?.healthcheck?.test, 'postgres has a healthcheck')
  t.ok(services.redis?.healthcheck?.test, 'redis has a healthcheck')
  t.ok((services.postgres?.volumes ?? []).some((v: unknown) => String(typeof v === 'string' ? v : (v as Json).target).includes('/var/lib/postgresql/data')),
    'postgres keeps its data in a volume')
})

t.test('api, worker and migrate run the one image with the right command', async (t) => {
  for (const [name, command] of Object.entries(APP_ROLES)) {
    const service = services[name] ?? {}
    t.same(words(service.command), [command], `${name} runs \`urgent-appeals ${command}\``)
    const context = typeof service.build === 'string' ? service.build : service.build?.context
    t.equal(context, '.', `${name} is built from the repository's Dockerfile`)
    t.equal(service.image, services.api?.image, `${name} shares the api's image`)
  }
  t.same(words(services.migrate?.depends_on?.postgres?.condition), ['service_healthy'], 'migrate waits for a healthy Postgres')
  t.not(services.migrate?.restart, 'always', 'migrate is a one-shot')
  for (const name of ['api', 'worker']) {
    const deps = services[name]?.depends_on ?? {}
    t.equal(deps.migrate?.condition, 'service_completed_successfully', `${name} starts after migrations succeeded`)
    t.equal(deps.redis?.condition, 'service_healthy', `${name} waits for a healthy Redis`)
  }
})

t.test('the shared environment is exactly the config variables of src/config.ts', async (t) => {
  const shared: Json = compose['x-env'] ?? {}
  t.same(sorted(Object.keys(shared)), sorted(CONFIG_VARIABLES), 'x-env sets every variable, and only those')
  for (const name of Object.keys(APP_ROLES)) {
    const env = environmentOf(services[name] ?? {})
    const unknown = Object.keys(env).filter((v) => !(CONFIG_VARIABLES as string[]).includes(v))
    t.same(unknown, [], `${name} sets no variable that the service does not read`)
    t.same(sorted(Object.keys(env)), sorted(CONFIG_VARIABLES), `${name} gets the whole shared environment`)
  }
  t.match(shared.SECRETS_KEY, /^\$\{SECRETS_KEY:\?[^}]+\}$/, 'SECRETS_KEY must come from the operator: no key is committed')
  for (const name of CONFIG_VARIABLES) {
    const def = schemaDefault(name)
    if (def === undefined || name === 'HOST') continue // HOST is 0.0.0.0 inside a container on purpose
    const value = String(shared[name])
    t.ok(value === def || value === `\${${name}:-${def}}`, `${name} shows the default of src/config.ts (${def})`)
  }
  t.equal(shared.HOST, '0.0.0.0', 'the API listens on every interface inside its container')

  // What compose hands to the processes is a valid configuration for every role.
  const resolved = Object.fromEntries(Object.entries(shared).map(([k, v]) =>
    [k, interpolate(String(v), { SECRETS_KEY: Buffer.alloc(32, 7).toString('base64') })]))
  t.doesNotThrow(() => loadConfig(resolved, { require: ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL', 'SECRETS_KEY'] }),
    'the resolved environment passes config validation')
  t.throws(() => interpolate(String(shared.SECRETS_KEY), {}), /SECRETS_KEY is required/, 'compose refuses to start without SECRETS_KEY')
})

t.test('redis keeps every BullMQ key: append-only and no eviction', async (t) => {
  const command = words(services.redis?.command).join(' ')
  t.match(command, /--appendonly yes\b/, 'AOF persistence')
  t.match(command, /--maxmemory-policy noeviction\b/, 'never evicts')
})

t.test('api publishes port 3000 and is health-checked; worker scales', async (t) => {
  const containerPorts = (services.api?.ports ?? []).map((p: unknown) =>
    typeof p === 'object' && p !== null ? String((p as Json).target) : String(p).split(':').pop()!.split('/')[0])
  t.ok(containerPorts.includes('3000'), 'api publishes container port 3000')
  const own = services.api?.healthcheck
  const disabled = own?.disable === true || words(own?.test)[0] === 'NONE'
  t.ok(!disabled && (own?.test || /^HEALTHCHECK\s+(?!NONE)/m.test(dockerfile)), 'api has a healthcheck, its own or the image\'s')

  const worker = services.worker ?? {}
  t.notOk(worker.container_name, 'worker has no container_name, so it can be scaled')
  t.notOk(worker.ports, 'worker publishes no host port, so replicas do not collide')
  t.type(worker.deploy?.replicas, 'number', 'worker declares its replicas')
})

/** A `ports:` entry's host address and container port, from the short (`[ip:]host:container[/proto]`) or long syntax. */
function published(entry: unknown): { hostIp: string; target: string } {
  if (typeof entry === 'object' && entry !== null) {
    const long = entry as Json
    return { hostIp: String(long.host_ip ?? ''), target: String(long.target) }
  }
  const text = String(entry).split('/')[0]!
  const bracketed = /^\[([^\]]+)\]:/.exec(text) // [::1]:8025:8025
  const parts = (bracketed ? text.slice(bracketed[0].length) : text).split(':')
  const hostIp = bracketed ? bracketed[1]! : parts.length === 3 ? parts[0]! : ''
  return { hostIp, target: parts.at(-1)! }
}

t.test('only the api is published beyond this host; Mailpit\'s UI (every message, tokens included) is loopback only', async (t) => {
  const loopback = (ip: string) => ip === '127.0.0.1' || ip === '::1' || ip === 'localhost'
  const mailpitPorts = (services.mailpit?.ports ?? []).map(published)
  t.ok(mailpitPorts.some((p: { target: string }) => p.target === '8025'), 'Mailpit\'s web UI is published (for this host)')
  for (const [name, service] of Object.entries(services)) {
    if (name === 'api') continue
    for (const port of ((service as Json).ports ?? []).map(published)) {
      t.ok(loopback(port.hostIp), `${name}: container port ${port.target} is bound to loopback, not every interface (host_ip "${port.hostIp}")`)
    }
  }
  t.match(readme, /Mailpit[^\n]*127\.0\.0\.1|127\.0\.0\.1[^\n]*Mailpit/, 'the README says Mailpit\'s UI is on 127.0.0.1 only')
})

/** The instructions of the Dockerfile's last stage, continuation lines joined, global ARGs resolved in FROM. */
function finalStage(text: string): string[] {
  const instructions = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  const firstFrom = instructions.findIndex((l) => /^FROM\s/i.test(l))
  const args = new Map<string, string>()
  for (const l of instructions.slice(0, firstFrom)) {
    const m = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)/i.exec(l)
    if (m) args.set(m[1]!, m[2]!)
  }
  const lastFrom = instructions.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true)
  const stage = instructions.slice(lastFrom)
  stage[0] = stage[0]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (whole, name: string) => args.get(name) ?? whole)
  return stage
}

t.test('the Dockerfile builds a non-root, health-checked image that ships its migrations', async (t) => {
  const stage = finalStage(dockerfile)
  t.match(stage[0], /^FROM\s+\S*node:(2[0-9])/i, 'runtime on an official Node image')
  const users = stage.filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1])
  t.ok(users.length > 0, 'the runtime stage sets USER')
  t.notMatch(users.at(-1) ?? 'root', /^(root|0)(:|$)/, 'and it is not root')
  t.ok(stage.some((l) => /^HEALTHCHECK\s+(?!NONE)/i.test(l) && /\/healthz/.test(l)), 'HEALTHCHECK polls /healthz')
  t.ok(stage.some((l) => /^COPY\s+(--\S+\s+)*migrations\s/i.test(l)), 'copies migrations/')
  t.ok(stage.some((l) => /^COPY\s+--from=\S+\s+\S*dist\s/i.test(l)), 'copies the built dist/')
  t.ok(stage.some((l) => l === 'ENTRYPOINT ["node", "bin/urgent-appeals.js"]'), 'the CLI is the entrypoint')
  t.ok(stage.some((l) => l === 'CMD ["serve"]'), 'serve is the default command')
  t.ok(stage.some((l) => /^ENV\s.*\bHOST=0\.0\.0\.0\b/i.test(l)), 'listens on every interface')
  t.match(dockerfile, /npm ci --omit=dev/, 'installs production dependencies only')

  // Nothing the Dockerfile copies from the build context may be ignored.
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim().replace(/\/$/, '')).filter((l) => l && !l.startsWith('#'))
  const sources = dockerfile.split('\n').filter((l) => /^COPY\s/i.test(l) && !/--from=/i.test(l))
    .flatMap((l) => l.trim().split(/\s+/).slice(1, -1).filter((w) => !w.startsWith('--')))
  t.ok(sources.includes('migrations'), 'migrations come from the context')
  for (const source of sources) t.notOk(ignored.includes(source), `${source} is not in .dockerignore`)
})

/** Rows of the first markdown table under the heading that matches `heading`. */
function tableUnder(markdown: string, heading: RegExp): string[][] {
  const lines = markdown.split('\n')
  const start = lines.findIndex((l) => /^#{1,6}\s/.test(l) && heading.test(l))
  if (start < 0) return []
  const rows: string[][] = []
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,6}\s/.test(line)) break
    if (!line.trim().startsWith('|')) { if (rows.length > 0) break; else continue }
    const cells = line.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((c) => c.trim())
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue
    rows.push(cells)
  }
  return rows.slice(1) // without the header row
}

t.test('the README configuration table lists exactly the config variables', async (t) => {
  const rows = tableUnder(readme, /configuration/i)
  const names = rows.map((r) => r[0]!.replace(/`/g, ''))
  t.same(sorted(names), sorted(CONFIG_VARIABLES), 'one row per variable of src/config.ts')
  t.equal(new Set(names).size, names.length, 'no variable listed twice')
  for (const row of rows) {
    const name = row[0]!.replace(/`/g, '')
    const def = schemaDefault(name)
    if (def !== undefined) t.ok(row[1]?.includes(def), `${name}: the default ${def} is shown`)
    t.ok((row[2] ?? '').length > 0, `${name}: the meaning is given`)
  }
})

t.test('the image\'s layout works without Docker: tsc build, then the CLI from dist/', async (t) => {
  const root = fileURLToPath(new URL('..', import.meta.url))
  // tsc emits only .ts sources: anything else under src/ would be missing from dist/ in the image.
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])
  t.same(walk(join(root, 'src')).filter((f) => !f.endsWith('.ts')).map((f) => relative(root, f)), [],
    'src/ holds only TypeScript (copy other assets explicitly in the Dockerfile)')

  // The runtime stage: COPY package.json, bin, migrations, dist; node_modules from npm ci.
  const app = mkdtempSync(join(tmpdir(), 'ua-image-'))
  t.teardown(() => rmSync(app, { recursive: true, force: true }))
  // The build stage's `npm run build`, shared with the CLI tests and the benchmark (compiled once per set of sources).
  const build = ensureBuilt()
  if (!build.ok) {
    t.fail(`npm run build fails, so the Dockerfile's build stage would:\n${build.output}`)
    return
  }
  // dist/ as the build stage leaves it: tsc's outputs only (not the shared build's own bookkeeping).
  cpSync(DIST, join(app, 'dist'), { recursive: true, filter: (from) => !/\.build-stamp\.json$|\.build-lock$|\.tsbuildinfo$/.test(from) })
  // `npm ci --omit=dev` in the image: what dist/ imports must be a production dependency.
  const { dependencies = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
  const imported = new Set<string>()
  for (const file of walk(join(app, 'dist')).filter((f) => f.endsWith('.js'))) {
    // A bare specifier starts like a package name: `'from', 'sender'` in a header list is not an import.
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([@a-z0-9][^'"\s]*)['"]/g)) {
      const spec = m[1]!
      if (spec.startsWith('node:')) continue
      imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!)
    }
  }
  t.same([...imported].filter((name) => !(name in dependencies)).sort(), [], 'dist/ imports only production dependencies')
  mkdirSync(join(app, 'bin'))
  copyFileSync(join(root, 'bin/urgent-appeals.js'), join(app, 'bin/urgent-appeals.js'))
  copyFileSync(join(root, 'package.json'), join(app, 'package.json'))
  cpSync(join(root, 'migrations'), join(app, 'migrations'), { recursive: true })
  symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'))

  const { databaseUrl } = await servers()
  const database = `ua_image_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${database}`)
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {})
    await admin.end()
  })
  const url = new URL(databaseUrl)
  url.pathname = `/${database}`
  // There is no src/ beside this bin/: it can only have run dist/cli.js.
  const cli = (...args: string[]) => execFileSync(process.execPath, ['bin/urgent-appeals.js', ...args], {
    cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, NODE_ENV: 'production', DATABASE_URL: url.toString() },
  })
  t.match(cli('migrate'), /^applied \d+ migration\(s\): 001_/m, 'migrate finds migrations/ from dist/')
  t.match(cli('migrate'), /database is up to date/, 'and a second run is a no-op')
  const lines = cli('create-api-key', '--org', 'Image Check', '--role', 'editor').trim().split('\n')
  t.match(lines.at(-1), /^ua_[a-z2-7]{10}_[A-Za-z0-9_-]{43}$/, 'create-api-key prints the key as its last line')
})
