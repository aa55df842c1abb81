import { sql } from 'kysely';
import { isPostgres, SQLITE_BUSY_TIMEOUT_MS, type Db } from './db.js';
import { isRetryableConflict, StoreError } from './errors.js';
import { checkpointerOf, holdConnection, releaseConnection, runDirect, sqliteOf, totalChanges } from './sqlite-direct.js';
import { BIG_TRANSACTION_ROWS } from './sqlite-tuning.js';

/** How long a write transaction waits for another process's SQLite write lock before giving up. */
const SQLITE_LOCK_WAIT_MS = 120_000;
/** Attempts in all; PostgreSQL aborts only one side of a deadlock, so the other always proceeds. */
export const WRITE_TRANSACTION_ATTEMPTS = 8;
const RETRY_BASE_MS = 25;
const RETRY_MAX_MS = 2_000;

/**
 * Run `work` in one write transaction. On SQLite it starts with BEGIN IMMEDIATE,
 * so a second process waits for the lock up front instead of failing with
 * SQLITE_BUSY when a read turns into a write halfway through.
 *
 * On PostgreSQL a deadlock or serialization failure runs the WHOLE of `work`
 * again, after a jittered exponential backoff, up to WRITE_TRANSACTION_ATTEMPTS
 * times; then it throws StoreError('busy') (a 503 `database_busy` at the edges). So `work` must keep no state
 * between runs: everything it decides lives inside the callback.
 */
export async function inWriteTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  if (!isPostgres(db)) return inSqliteWriteTransaction(db, work);
  return retryingConflicts(() => db.transaction().execute(work));
}

/**
 * PostgreSQL: one write statement sent outside BEGIN/COMMIT, which makes it
 * a transaction of its own (all of it commits or none). A deadlock or
 * serialization failure rolled it back whole, so it runs again as
 * inWriteTransaction's work does.
 */
export function inWriteStatement<T>(statement: () => Promise<T>): Promise<T> {
  return retryingConflicts(statement);
}

async function retryingConflicts<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!isRetryableConflict(error)) throw error;
      if (attempt >= WRITE_TRANSACTION_ATTEMPTS) throw new StoreError('busy', 'write conflicts outlasted the retries');
      await sleep(retryDelayMs(attempt));
    }
  }
}

/** "Full jitter": a random wait up to an exponentially growing bound, so the losers of one race do not meet again. */
export function retryDelayMs(attempt: number): number {
  return Math.random() * Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt);
}

async function inSqliteWriteTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  const prepare = sqliteOf(db);
  const checkpointer = prepare ? checkpointerOf(db) : undefined;
  return db.connection().execute(async (conn) => {
    // BEGIN, COMMIT and work's hot statements run on better-sqlite3 itself, prepared once (sqlite-direct.ts):
    // conn holds SQLite's one connection meanwhile, so nothing else runs in between.
    const run = prepare ? (text: string) => runDirect(prepare, text) : (text: string) => sql.raw(text).execute(conn);
    await beginImmediateWith(run);
    if (prepare) holdConnection(conn, prepare);
    const changesAtBegin = prepare && checkpointer ? totalChanges(prepare) : 0;
    try {
      const result = await work(conn);
      // A big transaction's COMMIT leaves its checkpoint to the worker: copying its frames here would hold the event loop (sqlite-tuning.ts).
      const big = prepare !== undefined && checkpointer !== undefined && totalChanges(prepare) - changesAtBegin >= BIG_TRANSACTION_ROWS;
      if (big) checkpointer.hold();
      try {
        await run('commit');
      } finally {
        if (big) checkpointer.checkpointInWorker();
      }
      return result;
    } catch (error) {
      await run('rollback');
      throw error;
    } finally {
      releaseConnection(conn);
    }
  });
}

const RESTORE_BUSY_TIMEOUT = `pragma busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * BEGIN IMMEDIATE on SQLite, waiting for another process's write lock without
 * blocking the event loop: each attempt runs with busy_timeout 0 (SQLite does
 * not sleep at all), then backs off with a timer, until SQLITE_LOCK_WAIT_MS
 * have passed. busy_timeout is restored for the connection's next user.
 */
export async function beginImmediate(conn: Db): Promise<void> {
  await beginImmediateWith((text) => sql.raw(text).execute(conn));
}

async function beginImmediateWith(run: (text: string) => unknown): Promise<void> {
  const deadline = Date.now() + SQLITE_LOCK_WAIT_MS;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    await run('pragma busy_timeout = 0');
    try {
      await run('begin immediate');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
      // Other instances held the write lock for minutes: a retryable failure (503), not a bug (500).
      if (Date.now() > deadline) throw new StoreError('busy', 'another process held the SQLite write lock too long');
    } finally {
      await run(RESTORE_BUSY_TIMEOUT);
    }
    await sleep(delay + Math.random() * delay);
  }
}
