import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { isPostgres, isPostgresUrl } from './dialect.js';
import type { Database } from './schema.js';
import { startCheckpointer, withStatementCache } from './sqlite-tuning.js';
import { registerSqlite } from './sqlite-direct.js';

export type Db = Kysely<Database>;

export const DEFAULT_SQLITE_PATH = './data/promoset.db';

export { isPostgres, isPostgresUrl };

/**
 * PostgreSQL: every pooled client by its server process id. Kysely keeps a
 * connection's pg client private, and COPY (bulk codes) needs the client
 * itself; the id is what a connection can tell about itself in SQL. Process
 * ids are unique per server, and a process talks to one server.
 */
const clientsByBackendPid = new Map<number, pg.PoolClient>();
const backendPid = (client: pg.PoolClient) => (client as unknown as { processID: number }).processID;

/**
 * PostgreSQL only: the pg client under `conn`, a connection-bound Kysely (a
 * transaction), for what Kysely cannot say: COPY. Undefined if not known
 * (the caller then uses a plain statement).
 */
export async function postgresClientOf(conn: Db): Promise<pg.PoolClient | undefined> {
  const { rows } = await conn.executeQuery<{ pid: number }>(CompiledQuery.raw('select pg_backend_pid() as pid'));
  return clientsByBackendPid.get(Number(rows[0]?.pid));
}

/**
 * PostgreSQL only: each open database's pool, by its Kysely handle. A statement
 * that is a transaction of its own (a redemption group's, redemptions-postgres.ts)
 * goes to it directly, as a named statement: parsed and planned once per
 * connection, and none of Kysely's layers per query.
 */
const pools = new WeakMap<Db, pg.Pool>();

export function postgresPoolOf(db: Db): pg.Pool | undefined {
  return pools.get(db);
}

export interface OpenDatabaseOptions {
  /**
   * PostgreSQL only: the schema to work in (sets search_path on every
   * connection). Tests use one schema per run; the same works from a URL with
   * `?options=-c%20search_path%3Dname`.
   */
  schema?: string;
  /** PostgreSQL only: pool size (default 10). */
  poolSize?: number;
  /** SQLite only: the WAL size kept after a checkpoint (default WAL_SIZE_LIMIT_BYTES). */
  walSizeLimitBytes?: number;
}

/**
 * SQLite's own busy wait sleeps *synchronously*, freezing the event loop (and
 * every other request of the instance) while another process holds the write
 * lock. Only one-statement writes (creating a set, a setting) rely on it;
 * transactions, which is where batches queue, wait for the lock asynchronously
 * (beginImmediate), for as long as a queue of 100,000-code batches from
 * several instances may take.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The connection to promoset's own database. Elsewhere in store/: transactions.ts
 * (write transactions and their retries), migrate.ts, sqlite-tuning.ts, errors.ts.
 */

/**
 * Open the database named by `url`: a postgres:// URL, or a SQLite file path
 * (`sqlite:` prefix optional; `:memory:` for throwaway tests).
 */
/** The size the WAL file goes back to after a burst (SQLite's journal_size_limit, and the checkpointer's TRUNCATE threshold). */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export function openDatabase(url: string = DEFAULT_SQLITE_PATH, options: OpenDatabaseOptions = {}): Db {
  if (isPostgresUrl(url)) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) throw new Error(`Not a plain schema name: ${options.schema}`);
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    // An idle client losing its connection must not crash the process.
    pool.on('error', () => {});
    pool.on('connect', (client) => {
      clientsByBackendPid.set(backendPid(client), client);
      // Nor one losing it while checked out between queries (a transaction's, during a network cut):
      // pg emits 'error' on the client then, which with no listener kills the process (found by the chaos run).
      // The query in progress, if any, fails on its own; the pool drops the broken client on release.
      client.on('error', () => {});
    });
    pool.on('remove', (client) => {
      if (clientsByBackendPid.get(backendPid(client)) === client) clientsByBackendPid.delete(backendPid(client));
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    pools.set(db, pool);
    return db;
  }
  const path = url.replace(/^sqlite:(\/\/)?/i, '') || DEFAULT_SQLITE_PATH;
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  // Several processes may share the file: wait for the write lock instead of
  // failing. Set first, so switching to WAL also waits when instances start together.
  sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  useWal(sqlite);
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // A burst of writes (a flood of refused requests, a 100k batch) grows the WAL; once checkpointed, it goes back to this size.
  const walLimit = options.walSizeLimitBytes ?? WAL_SIZE_LIMIT_BYTES;
  sqlite.pragma(`journal_size_limit = ${walLimit}`);
  const checkpointer = path === ':memory:' ? undefined : startCheckpointer(sqlite, path, walLimit);
  const statements = withStatementCache(sqlite, checkpointer);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
  registerSqlite(db, (text) => statements.prepare(text), checkpointer);
  return db;
}

/**
 * `journal_mode = WAL` can fail with "database is locked" at once, without
 * SQLite's busy wait, while another process is opening or writing the same
 * file (seen with instances starting together). A file already in WAL needs
 * no switch; otherwise it is retried until SQLITE_BUSY_TIMEOUT_MS. This runs
 * once, before anything is served, so a synchronous wait blocks no one.
 */
function useWal(sqlite: SQLite.Database): void {
  const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      if (sqlite.pragma('journal_mode', { simple: true }) !== 'wal') sqlite.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if (!String((error as { code?: string }).code).startsWith('SQLITE_BUSY') || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 + Math.random() * 30);
    }
  }
}

/** For /readyz: does the database answer a trivial query? */
export async function databaseState(db: Db): Promise<'ok' | 'unreachable'> {
  try {
    await sql`select 1`.execute(db);
    return 'ok';
  } catch {
    return 'unreachable';
  }
}
