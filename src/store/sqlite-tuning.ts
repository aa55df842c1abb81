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
 * A PASSIVE checkpoint never shrinks the file, so a WAL grown past
 * `walLimit` is checkpointed in TRUNCATE mode once everything in it is copied:
 * a burst does not keep its disk. TRUNCATE holds the write lock while it
 * shortens the file (ftruncate of 80 MB: 30–170 ms here), and the main
 * connection's writers wait for that lock on the event loop (a Slack ack
 * once waited 190 ms). So it runs only once nothing was written for a whole
 * interval, and with busy_timeout 0 it gives up at once, to try again next
 * second, when anyone is reading or writing.
 */
export function startCheckpointer(sqlite: SQLite.Database, path: string, walLimit: number): Worker {
  sqlite.pragma('wal_autocheckpoint = 0');
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const { statSync } = require('node:fs');
     const db = new (require(workerData.module))(workerData.path);
     db.pragma('busy_timeout = 0');
     db.pragma('journal_size_limit = ' + workerData.walLimit);
     const walSize = () => { try { return statSync(workerData.path + '-wal').size; } catch { return 0; } };
     let framesBefore = -1;
     setInterval(() => {
       try {
         const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
         const quiet = passive.log === framesBefore;
         framesBefore = passive.log;
         if (quiet && passive.busy === 0 && passive.log === passive.checkpointed && walSize() > workerData.walLimit) db.pragma('wal_checkpoint(TRUNCATE)');
       } catch {}
     }, 1000);`,
    { eval: true, workerData: { path, walLimit, module: require.resolve('better-sqlite3') } },
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
