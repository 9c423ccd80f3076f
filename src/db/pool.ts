// Owns Postgres connections: the pool, the `Queryable` that repositories
// take (pool or transaction client), and the one transaction helper.
import pg from 'pg'

export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>
export type Pool = pg.Pool

// timestamptz as ISO strings is done in SQL where needed; bigint counts as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))

export function createPool(databaseUrl: string, options: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'urgent-appeals',
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 30_000,
  })
  // An idle client losing its server (Postgres restart) must not crash the process.
  pool.on('error', () => {})
  return pool
}

/** Runs `fn` in one transaction: commit on success, rollback on any throw. */
export async function withTransaction<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}
