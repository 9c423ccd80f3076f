// The one Postgres LISTEN helper (src/db/listener.ts) against a real
// Postgres: notifications arrive, a killed connection is replaced exactly
// once with deaf → listening reported, a silent connection is reported deaf
// and listening again when it answers, and close() means no connection after.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { PgListener, type DeafReason, type ListenerOptions, type ListenerState } from '../src/db/listener.js'
import { createPool } from '../src/db/pool.js'
import { createTestDatabase } from './helpers/context.js'
import { eventually } from './helpers/eventually.js'
import type { Tap } from './helpers/liaoning.js'

interface Harness {
  listener: PgListener
  states: Array<[ListenerState, DeafReason | undefined]>
  notes: pg.Notification[]
  /** Backend pids of this listener's connections. */
  pids(): Promise<number[]>
  notify(channel: string, payload: string): Promise<void>
  admin: pg.Pool
}

async function startListening(t: Tap, options: Partial<ListenerOptions> = {}): Promise<Harness> {
  const databaseUrl = await createTestDatabase(t, { migrated: false })
  const admin = createPool(databaseUrl, { max: 2 })
  t.teardown(() => admin.end())
  const applicationName = `listener-test-${randomBytes(4).toString('hex')}`
  const states: Harness['states'] = []
  const notes: pg.Notification[] = []
  const listener = new PgListener({
    databaseUrl, applicationName, channels: ['ua_test_a', 'ua_test_b'],
    onNotification: (n) => notes.push(n),
    onState: (state, reason) => states.push([state, reason]),
    ...options,
  })
  t.teardown(() => listener.close())
  await listener.start()
  return {
    listener, states, notes, admin,
    async pids() {
      const { rows } = await admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid', [applicationName])
      return rows.map((r) => r.pid)
    },
    async notify(channel, payload) { await admin.query('SELECT pg_notify($1, $2)', [channel, payload]) },
  }
}

/** The most connections seen at once over `ms`. */
async function mostConnections(h: Harness, ms: number): Promise<number> {
  let most = 0
  for (const until = Date.now() + ms; Date.now() < until;) {
    most = Math.max(most, (await h.pids()).length)
    await sleep(50)
  }
  return most
}

t.test('notifications on every listened channel arrive, and only those', async (t) => {
  const h = await startListening(t)
  t.same(h.states, [['listening', undefined]], 'listening is reported once LISTEN is established')
  t.equal(h.listener.listening, true)
  t.equal((await h.pids()).length, 1, 'one dedicated connection')

  await h.notify('ua_test_other', 'not ours')
  await h.notify('ua_test_a', 'first')
  await h.notify('ua_test_b', 'second')
  await eventually(() => h.notes.length >= 2, 5_000, 'the two notifications')
  await sleep(100)
  t.same(h.notes.map((n) => [n.channel, n.payload]), [['ua_test_a', 'first'], ['ua_test_b', 'second']])
})

t.test('a terminated connection is replaced exactly once, reported deaf then listening, and hears again', async (t) => {
  const h = await startListening(t)
  const [first] = await h.pids()
  await h.admin.query('SELECT pg_terminate_backend($1, 5000)', [first])
  await eventually(() => h.states.length >= 2, 5_000, 'the loss to be reported')
  t.same(h.states[1], ['deaf', 'lost'], 'the loss is reported as deaf')
  t.equal(h.listener.listening, false, 'not listening while reconnecting')

  await eventually(() => h.states.length >= 3, 5_000, 'the reconnect (backoff starts at 500 ms)')
  t.equal(h.listener.listening, true)
  t.equal(await mostConnections(h, 1_500), 1, 'one connection after the reconnect, never two')
  t.same(h.states, [['listening', undefined], ['deaf', 'lost'], ['listening', undefined]], 'no further state changes')
  const [second] = await h.pids()
  t.not(second, first, 'a new backend')

  await h.notify('ua_test_a', 'after')
  await eventually(() => h.notes.some((n) => n.payload === 'after'), 5_000, 'a notification on the new connection')
})

t.test('pg reporting one loss several times still reconnects once', async (t) => {
  const clients: pg.Client[] = []
  const connect = pg.Client.prototype.connect
  pg.Client.prototype.connect = function (this: pg.Client, ...args: unknown[]) {
    clients.push(this)
    return (connect as unknown as (...a: unknown[]) => Promise<void>).apply(this, args)
  } as unknown as typeof connect
  t.teardown(() => { pg.Client.prototype.connect = connect })
  const h = await startListening(t)
  const ours = clients.filter((c) => c.listenerCount('notification') > 0)
  t.equal(ours.length, 1)
  ours[0]!.emit('error', new Error('terminating connection due to administrator command'))
  ours[0]!.emit('error', new Error('read ECONNRESET'))
  ours[0]!.emit('end')

  await eventually(() => h.states.length >= 3, 5_000, 'the reconnect')
  t.equal(await mostConnections(h, 1_500), 1, 'one connection on the server')
  t.same(h.states, [['listening', undefined], ['deaf', 'lost'], ['listening', undefined]], 'one loss, one reconnect')
  t.equal(clients.filter((c) => c.listenerCount('notification') > 0).length, 2, 'one new client for one lost connection')
})

t.test('a connection that stops answering is reported deaf, and listening again once it answers', async (t) => {
  const h = await startListening(t, { heartbeatMs: 100, silenceLimitMs: 500 })
  const [pid] = await h.pids()
  // Freeze the backend: the socket stays open but nothing answers (a peer gone without an RST).
  process.kill(pid!, 'SIGSTOP')
  try {
    await eventually(() => h.states.length >= 2, 5_000, 'the silence to be reported')
    t.same(h.states[1], ['deaf', 'silent'])
    t.equal(h.listener.listening, false, 'not listening while silent')
  } finally {
    process.kill(pid!, 'SIGCONT')
  }
  await eventually(() => h.states.length >= 3, 5_000, 'the heartbeat to be answered again')
  t.same(h.states[2], ['listening', undefined])
  t.equal(h.listener.listening, true)
  t.same(await h.pids(), [pid], 'the same connection: silence alone does not reconnect')
})

t.test('close() right after a loss cancels the reconnect: no connection comes back, nothing more is reported', async (t) => {
  const h = await startListening(t)
  const [first] = await h.pids()
  await h.admin.query('SELECT pg_terminate_backend($1, 5000)', [first])
  await eventually(() => h.states.length >= 2, 5_000, 'the loss to be reported')
  await h.listener.close()
  t.equal(await mostConnections(h, 1_500), 0, 'no connection after close')
  t.same(h.states, [['listening', undefined], ['deaf', 'lost']])
  t.equal(h.listener.listening, false)
})

t.test('a listener that cannot connect keeps retrying and reports listening once Postgres accepts it', async (t) => {
  const databaseUrl = await createTestDatabase(t, { migrated: false })
  const admin = createPool(databaseUrl, { max: 1 })
  t.teardown(() => admin.end())
  const role = `listener_${randomBytes(4).toString('hex')}`
  await admin.query(`CREATE ROLE ${role} NOLOGIN`)
  const url = new URL(databaseUrl)
  url.username = role
  const states: ListenerState[] = []
  const listener = new PgListener({
    databaseUrl: url.toString(), applicationName: role, channels: ['ua_test_a'],
    onNotification: () => {}, onState: (s) => states.push(s),
  })
  t.teardown(() => listener.close())
  await listener.start()
  t.equal(listener.listening, false, 'the first attempt is refused (the role may not log in)')
  t.same(states, [], 'a failed attempt is not a state change')

  await admin.query(`ALTER ROLE ${role} LOGIN`)
  await eventually(() => listener.listening, 10_000, 'a retry to succeed')
  t.same(states, ['listening'])
  await listener.close()
  await admin.query(`DROP ROLE ${role}`)
})
