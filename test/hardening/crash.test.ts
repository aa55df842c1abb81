import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCore } from '../../src/service/core.js';
import { createSet } from '../../src/service/sets.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
const ROUNDS = 4;

/**
 * kill -9 in the middle of a 100k batch, then reopen: the batch is whole or
 * absent (never partial), and SQLite's integrity check passes. The kill lands
 * after a random number of progress steps, so each round cuts somewhere else.
 */
describe('crash safety: kill -9 during a 100k bulk generation', () => {
  let dir: string;
  let dbPath: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'promoset-crash-'));
    dbPath = join(dir, 'crash.db');
    const core = await openCore({ databaseUrl: dbPath, publicUrl: 'http://promo.test' });
    await createSet(core, { name: 'crashy' }, 'test');
    await core.db.destroy();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`leaves each batch all-or-nothing over ${ROUNDS} rounds`, async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const killAfterSteps = 1 + Math.floor(Math.random() * 40);
      const child = spawn(process.execPath, [CLI, 'codes', 'crashy', '--amount', '100000', '--csv', join(dir, `r${round}.csv`)], {
        env: { ...process.env, DATABASE_URL: dbPath, LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exit = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ? -9 : code)));
      let steps = 0;
      child.stderr.on('data', (chunk: Buffer) => {
        steps += (chunk.toString().match(/Generating/g) ?? []).length;
        if (steps >= killAfterSteps) child.kill('SIGKILL');
      });
      outcomes.push((await exit) === -9 ? 'killed' : 'finished');

      const sqlite = new SQLite(dbPath);
      try {
        expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
        const batches = sqlite.prepare('select b.id, b.count, (select count(*) from promotions p where p.batch_id = b.id) as stored from batches b').all() as { id: number; count: number; stored: number }[];
        for (const batch of batches) expect(batch.stored).toBe(batch.count);
        const orphans = sqlite.prepare('select count(*) as n from promotions where batch_id not in (select id from batches)').get() as { n: number };
        expect(orphans.n).toBe(0);
      } finally {
        sqlite.close();
      }
    }
    // The test only means something if it really killed mid-batch.
    expect(outcomes).toContain('killed');
  });
});
