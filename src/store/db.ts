import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { isPostgres, isPostgresUrl } from './dialect.js';
import { PromoError } from '../domain/errors.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

const require = createRequire(import.meta.url);

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

export interface OpenDatabaseOptions {
  /**
   * PostgreSQL only: the schema to work in (sets search_path on every
   * connection). Tests use one schema per run; the same works from a URL with
   * `?options=-c%20search_path%3Dname`.
   */
  schema?: string;
  /** PostgreSQL only: pool size (default 10). */
  poolSize?: number;
}

/**
 * SQLite's own busy wait sleeps *synchronously*, freezing the event loop (and
 * every other request of the instance) while another process holds the write
 * lock. Only one-statement writes (creating a set, a setting) rely on it;
 * transactions, which is where batches queue, wait for the lock asynchronously
 * (beginImmediate), for as long as a queue of 100,000-code batches from
 * several instances may take.
 */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;
const SQLITE_LOCK_WAIT_MS = 120_000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Open the database named by `url`: a postgres:// URL, or a SQLite file path
 * (`sqlite:` prefix optional; `:memory:` for throwaway tests).
 */
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
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
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
  const checkpointer = path === ':memory:' ? undefined : startCheckpointer(sqlite, path);
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite, checkpointer) }) });
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

/**
 * SQLite copies the WAL back into the database file ("checkpoint") on the
 * commit that crosses 1,000 pages, synchronously: after a 100k-code batch that
 * held this process's event loop for ~20 ms. A worker thread with its own
 * connection does it instead, every second, in PASSIVE mode (it never blocks
 * writers), and the main connection stops checkpointing by itself.
 */
function startCheckpointer(sqlite: SQLite.Database, path: string): Worker {
  sqlite.pragma('wal_autocheckpoint = 0');
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const db = new (require(workerData.module))(workerData.path);
     db.pragma('busy_timeout = 1000');
     setInterval(() => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} }, 1000);`,
    { eval: true, workerData: { path, module: require.resolve('better-sqlite3') } },
  );
  worker.unref();
  // A checkpoint that cannot run is retried next second; it must never take the process down.
  worker.on('error', () => {});
  return worker;
}

/**
 * Kysely's SQLite driver prepares every query anew; preparing cost more than
 * running the statements of a one-code POST. Statements are reused by SQL text
 * (bounded), except one still busy iterating, which gets a fresh one.
 */
function withStatementCache(sqlite: SQLite.Database, checkpointer?: Worker, max = 500) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      void checkpointer?.terminate();
      sqlite.close();
    },
    prepare(text: string) {
      const cached = cache.get(text);
      if (cached && !cached.busy) return cached;
      const statement = sqlite.prepare(text);
      if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      cache.set(text, statement);
      return statement;
    },
  };
}

/**
 * Bring the schema up to date. Safe when several instances start at once:
 * on PostgreSQL Kysely's Migrator holds an advisory lock; on SQLite (where
 * Kysely takes no lock) the whole run happens inside BEGIN IMMEDIATE, so the
 * second instance waits, then finds nothing left to do.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  if (isPostgres(db)) {
    // Kysely finds its own tables by name in *any* schema unless told which one;
    // name the current schema so per-schema databases (tests, tenants) stay apart.
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    return runMigrator(new Migrator({ db, provider: migrationProvider, migrationTableSchema: rows[0]?.schema ?? undefined }));
  }
  return db.connection().execute(async (conn) => {
    await beginImmediate(conn);
    try {
      const ran = await runMigrator(new Migrator({ db: conn, provider: migrationProvider }));
      await sql`commit`.execute(conn);
      return ran;
    } catch (error) {
      await sql`rollback`.execute(conn).catch(() => {});
      throw error;
    }
  });
}

async function runMigrator(migrator: Migrator): Promise<string[]> {
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
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

/**
 * PostgreSQL's verdicts on a transaction that lost a race with another one:
 * a deadlock (two inserts each waiting on the other's uncommitted unique
 * key, frequent in a short code space) or a serialization failure. Nothing
 * of it was kept, so running the whole transaction again is correct.
 */
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);
/** Attempts in all; PostgreSQL aborts only one side of a deadlock, so the other always proceeds. */
export const WRITE_TRANSACTION_ATTEMPTS = 8;
const RETRY_BASE_MS = 25;
const RETRY_MAX_MS = 2_000;

/** Errors that mean the database could not be reached at all, not that it refused the statement. */
const UNREACHABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// SQLSTATE class 08 (connection exception) and 57P01–57P03 (shutdown, crash, cannot connect now).
const UNREACHABLE_SQLSTATE = /^(08...|57P0[123])$/;

/**
 * The database itself is gone (network, restart, crash), as opposed to a bug
 * or a refused statement: callers may answer 503 and a retry may succeed.
 */
export function isDatabaseUnreachable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNREACHABLE_ERRNOS.has(code) || UNREACHABLE_SQLSTATE.test(code))) return true;
  // pg reports a socket closed mid-query in words only; and when the connection broke inside a
  // transaction, Kysely's ROLLBACK on it fails with "not queryable", replacing the first error (chaos run).
  return typeof message === 'string' && /^Connection terminated|^timeout exceeded when trying to connect|has encountered a connection error and is not queryable/.test(message);
}

/** What a client gets when promoset's database cannot be reached: nothing was saved, and trying again later is safe. */
export function databaseUnavailable(): PromoError {
  return new PromoError('database_unavailable', 'promoset cannot reach its database right now; nothing was saved. Please retry in a minute.', {}, { retryAfterSeconds: 5 });
}

export function isRetryableConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_SQLSTATES.has(code);
}

/** What a client gets when the retries ran out: nothing was saved, and trying again is safe. */
function databaseBusy(): PromoError {
  return new PromoError('database_busy', 'The database is busy with other requests right now; nothing was saved. Please retry in a moment.', {}, { retryAfterSeconds: 1 });
}

/**
 * Run `work` in one write transaction. On SQLite it starts with BEGIN IMMEDIATE,
 * so a second process waits for the lock up front instead of failing with
 * SQLITE_BUSY when a read turns into a write halfway through.
 *
 * On PostgreSQL a deadlock or serialization failure runs the WHOLE of `work`
 * again, after a jittered exponential backoff, up to WRITE_TRANSACTION_ATTEMPTS
 * times; then it is a 503 `database_busy`. So `work` must keep no state
 * between runs: everything it decides lives inside the callback.
 */
export async function inWriteTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  if (!isPostgres(db)) return inSqliteWriteTransaction(db, work);
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      if (!isRetryableConflict(error)) throw error;
      if (attempt >= WRITE_TRANSACTION_ATTEMPTS) throw databaseBusy();
      await sleep(retryDelayMs(attempt));
    }
  }
}

/** "Full jitter": a random wait up to an exponentially growing bound, so the losers of one race do not meet again. */
export function retryDelayMs(attempt: number): number {
  return Math.random() * Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt);
}

async function inSqliteWriteTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await beginImmediate(conn);
    try {
      const result = await work(conn);
      await sql`commit`.execute(conn);
      return result;
    } catch (error) {
      await sql`rollback`.execute(conn);
      throw error;
    }
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * BEGIN IMMEDIATE on SQLite, waiting for another process's write lock without
 * blocking the event loop: each attempt waits only briefly inside SQLite, then
 * backs off with a timer, until SQLITE_LOCK_WAIT_MS have passed.
 */
async function beginImmediate(conn: Db): Promise<void> {
  const deadline = Date.now() + SQLITE_LOCK_WAIT_MS;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    await sql`pragma busy_timeout = 0`.execute(conn);
    try {
      await sql`begin immediate`.execute(conn);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
      // Other instances held the write lock for minutes: a retryable 503, not a 500.
      if (Date.now() > deadline) throw databaseBusy();
    } finally {
      await sql.raw(`pragma busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`).execute(conn);
    }
    await sleep(delay + Math.random() * delay);
  }
}
