import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/** What keeps SQLite fast under load: checkpoints that neither hold the event loop nor let the WAL grow, prepared statements reused. */

const require = createRequire(import.meta.url);

/** SQLite's own default: a COMMIT that leaves this many frames in the WAL checkpoints them, and the WAL starts over. */
const AUTO_CHECKPOINT_PAGES = 1000;
/** Rows a write transaction may change and still be checkpointed by its own COMMIT; past this, the worker does it. */
export const BIG_TRANSACTION_ROWS = 2_000;
/** A worker that never answers (it died) holds the main connection's checkpoints no longer than this. */
const WORKER_ANSWER_MS = 10_000;

export interface Checkpointer {
  worker: Worker;
  /** Before a big transaction's COMMIT: that COMMIT, and the ones after it, leave checkpointing to the worker. */
  hold(): void;
  /** After that COMMIT: the worker checkpoints what it wrote, then the main connection's COMMITs checkpoint again. */
  checkpointInWorker(): void;
}

/**
 * Checkpoints (copying the WAL back into the database file) without holding
 * the event loop, and without letting the WAL grow under steady traffic.
 *
 * The main connection keeps SQLite's automatic checkpoint: a COMMIT that
 * leaves 1,000 frames in the WAL copies them back, and the WAL starts over.
 * That copy runs on the event loop, as in any SQLite program: ~3 ms when the
 * frames rewrite the same pages (redemptions of one code), 17–29 ms when
 * they are 1,000 distinct pages (new rows), fsync included, measured here. (With only a worker checkpointing, the WAL never
 * started over under steady writes, as a checkpoint running beside the
 * writer never catches up with it: 1.4 GB after 23 s of redemptions, every
 * page lookup searching it, and the disk filling.)
 *
 * A big transaction (a 100k-code batch: ~8,000 frames) would copy all of
 * them in its COMMIT, ~20 ms of the event loop. So before such a COMMIT
 * (BIG_TRANSACTION_ROWS, see transactions.ts) the main connection's
 * automatic checkpoint is switched off, and a worker thread with its own
 * connection checkpoints the batch in PASSIVE mode (it never blocks
 * writers); once it answers, the main connection's COMMITs checkpoint again,
 * and what is left to copy is small.
 *
 * The worker also checkpoints every second, and a WAL grown past `walLimit`
 * is checkpointed in TRUNCATE mode once everything in it is copied: a burst
 * does not keep its disk. TRUNCATE holds the write lock while it shortens the
 * file (ftruncate of 80 MB: 30–170 ms here), and the main connection's
 * writers wait for that lock on the event loop (a Slack ack once waited
 * 190 ms). So it runs only once nothing was written for a whole interval,
 * and with busy_timeout 0 it gives up at once, to try again next second,
 * when anyone is reading or writing.
 */
export function startCheckpointer(sqlite: SQLite.Database, path: string, walLimit: number): Checkpointer {
  sqlite.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const { statSync } = require('node:fs');
     const db = new (require(workerData.module))(workerData.path);
     db.pragma('busy_timeout = 0');
     db.pragma('journal_size_limit = ' + workerData.walLimit);
     const walSize = () => { try { return statSync(workerData.path + '-wal').size; } catch { return 0; } };
     const passiveCheckpoint = () => db.pragma('wal_checkpoint(PASSIVE)')[0];
     parentPort.on('message', () => {
       try { passiveCheckpoint(); } catch {}
       parentPort.postMessage('checkpointed');
     });
     let framesBefore = -1;
     setInterval(() => {
       try {
         const passive = passiveCheckpoint();
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

  /** Big COMMITs whose frames the worker has not answered for yet. */
  let held = 0;
  let fallback: NodeJS.Timeout | undefined;
  const release = () => {
    held = 0;
    clearTimeout(fallback);
    try {
      sqlite.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    } catch {
      // The database was closed meanwhile: nothing left to checkpoint.
    }
  };
  worker.on('message', () => {
    if (held > 0 && --held === 0) release();
  });
  return {
    worker,
    hold() {
      if (held++ === 0) sqlite.pragma('wal_autocheckpoint = 0');
    },
    checkpointInWorker() {
      worker.postMessage('checkpoint');
      clearTimeout(fallback);
      fallback = setTimeout(release, WORKER_ANSWER_MS);
      fallback.unref();
    },
  };
}

/**
 * Kysely's SQLite driver prepares every query anew; preparing cost more than
 * running the statements of a one-code POST. Statements are reused by SQL text
 * (bounded), except one still busy iterating, which gets a fresh one.
 */
export function withStatementCache(sqlite: SQLite.Database, checkpointer?: Checkpointer, max = 500) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      void checkpointer?.worker.terminate();
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
