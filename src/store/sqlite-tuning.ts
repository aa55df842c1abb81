import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/** What keeps SQLite fast under load: checkpoints off the event loop, prepared statements reused. */

const require = createRequire(import.meta.url);

/**
 * SQLite copies the WAL back into the database file ("checkpoint") on the
 * commit that crosses 1,000 pages, synchronously: after a 100k-code batch that
 * held this process's event loop for ~20 ms. A worker thread with its own
 * connection does it instead, every second, in PASSIVE mode (it never blocks
 * writers), and the main connection stops checkpointing by itself.
 */
export function startCheckpointer(sqlite: SQLite.Database, path: string): Worker {
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
export function withStatementCache(sqlite: SQLite.Database, checkpointer?: Worker, max = 500) {
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
