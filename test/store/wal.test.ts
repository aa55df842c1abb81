import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { waitFor } from '../support/wait-for.js';

const walSize = (path: string) => {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
};

/** Issue 28, item 3: a burst of writes grows the WAL; after the checkpoint it shrinks back to the limit. */
it('SQLite: the WAL shrinks back to its size limit after a burst is checkpointed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'promoset-wal-'));
  const path = join(dir, 'promoset.db');
  const limit = 256 * 1024;
  const db = openDatabase(path, { walSizeLimitBytes: limit });
  try {
    await migrateToLatest(db);
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
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
