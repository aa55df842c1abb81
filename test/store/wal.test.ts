import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { expect, it, vi } from 'vitest';
import { openDatabase, type Db, type OpenDatabaseOptions } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { checkpointerOf, sqliteOf } from '../../src/store/sqlite-direct.js';
import { BIG_TRANSACTION_ROWS } from '../../src/store/sqlite-tuning.js';
import { inWriteTransaction } from '../../src/store/transactions.js';
import { waitFor } from '../support/wait-for.js';

const walSize = (path: string) => {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
};

/** A fresh file database with promoset's schema, for `test`; removed afterwards. */
async function withFileDatabase(test: (db: Db, path: string) => Promise<void>, options: OpenDatabaseOptions = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'promoset-wal-'));
  const path = join(dir, 'promoset.db');
  const db = openDatabase(path, options);
  try {
    await migrateToLatest(db);
    await test(db, path);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Issue 28, item 3: a burst of writes grows the WAL; after the checkpoint it shrinks back to the limit. */
it('SQLite: the WAL shrinks back to its size limit after a burst is checkpointed', async () => {
  const limit = 256 * 1024;
  await withFileDatabase(async (db, path) => {
    const value = 'x'.repeat(4000);
    // About 6 MB of pages, written in several transactions (as a flood of requests would).
    for (let round = 0; round < 30; round++) {
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < 50; i++) await sql`insert into settings (key, value) values (${`burst-${round}-${i}`}, ${value})`.execute(trx);
      });
    }
    const grown = walSize(path);
    expect(grown).toBeGreaterThan(4 * limit);
    const size = await waitFor(() => walSize(path), (bytes) => bytes <= limit, `the WAL to shrink to ${limit} bytes`, { timeoutMs: 10_000, intervalMs: 50 });
    expect(size).toBeLessThanOrEqual(limit);
    // Nothing was lost on the way.
    const { rows } = await sql<{ n: number }>`select count(*) as n from settings where key like 'burst-%'`.execute(db);
    expect(Number(rows[0].n)).toBe(1500);
  }, { walSizeLimitBytes: limit });
});

const autoCheckpointPages = (db: Db) => (sqliteOf(db)!('pragma wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint;

/**
 * Steady small writes (redemptions, set-URL POSTs) must not grow the WAL: a
 * checkpoint beside the writer never caught up with it, so the WAL never
 * started over (1.4 GB after 23 s of redemptions).
 */
it('SQLite: steady small write transactions keep the WAL near 1,000 pages', async () => {
  await withFileDatabase(async (db, path) => {
    const value = 'x'.repeat(6000);
    // ~3,000 pages (12 MB) of commits, well within the worker's one-second interval.
    for (let i = 0; i < 1500; i++) {
      await inWriteTransaction(db, (trx) => sql`insert into settings (key, value) values (${`steady-${i}`}, ${value})`.execute(trx));
    }
    // The file's high-water mark: 1,000 pages and the last transaction's, not everything written.
    expect(walSize(path)).toBeLessThan(6 * 1024 * 1024);
    const { rows } = await sql<{ n: number }>`select count(*) as n from settings where key like 'steady-%'`.execute(db);
    expect(Number(rows[0].n)).toBe(1500);
  });
});

it("SQLite: a big transaction's COMMIT leaves its checkpoint to the worker, and the main connection's resume once it has", async () => {
  await withFileDatabase(async (db) => {
    const checkpointer = checkpointerOf(db)!;
    const holdChecks = checkpointer.hold;
    let pagesWhileHeld = -1;
    const hold = vi.spyOn(checkpointer, 'hold').mockImplementation(() => {
      holdChecks();
      pagesWhileHeld = autoCheckpointPages(db);
    });
    const handOver = vi.spyOn(checkpointer, 'checkpointInWorker');
    expect(autoCheckpointPages(db)).toBe(1000);

    await inWriteTransaction(db, async (trx) => {
      for (let i = 0; i < 10; i++) await sql`insert into settings (key, value) values (${`small-${i}`}, 'v')`.execute(trx);
    });
    expect(hold).not.toHaveBeenCalled();

    await inWriteTransaction(db, async (trx) => {
      for (let i = 0; i < BIG_TRANSACTION_ROWS; i += 500) {
        const rows = Array.from({ length: 500 }, (_, j) => ({ key: `big-${i + j}`, value: 'v'.repeat(200) }));
        await trx.insertInto('settings').values(rows).execute();
      }
    });
    expect(hold).toHaveBeenCalledTimes(1);
    // Its COMMIT ran with the main connection's automatic checkpoint off.
    expect(pagesWhileHeld).toBe(0);
    expect(handOver).toHaveBeenCalledTimes(1);
    expect(hold.mock.invocationCallOrder[0]).toBeLessThan(handOver.mock.invocationCallOrder[0]);
    // The worker answers once it has checkpointed the batch; the main connection checkpoints again.
    await waitFor(() => autoCheckpointPages(db), (pages) => pages === 1000, 'the main connection to checkpoint again', { timeoutMs: 5_000 });
    const { rows } = await sql<{ n: number }>`select count(*) as n from settings where key like 'big-%'`.execute(db);
    expect(Number(rows[0].n)).toBe(BIG_TRANSACTION_ROWS);
  });
});
