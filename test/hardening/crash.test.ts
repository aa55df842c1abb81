import { request } from 'node:http';
import SQLite from 'better-sqlite3';
import { expect, it } from 'vitest';
import { openCore } from '../../src/service/core.js';
import { createSet } from '../../src/service/sets.js';
import { setToken } from '../../src/service/set-urls.js';
import { openDatabase } from '../../src/store/db.js';
import { describeEachDialect, useTestDatabase, type TestDatabase } from '../support/databases.js';
import { spawnCli, startServerProcess } from '../support/processes.js';

const CLI_ROUNDS = 4;
const HTTP_ROUNDS = 2;
const URL_SECRET = 'crash-test-url-secret-0123456789';

/** Every batch holds exactly its count, no promotion lacks its batch, and (SQLite) the file is intact. */
async function assertAllOrNothing(database: TestDatabase): Promise<{ batches: number; promotions: number }> {
  if (database.dialect === 'sqlite') {
    const sqlite = new SQLite(database.url);
    try {
      expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      sqlite.close();
    }
  }
  const db = openDatabase(database.url);
  try {
    const batches = await db
      .selectFrom('batches as b')
      .select((eb) => ['b.id', 'b.count', eb.selectFrom('promotions as p').whereRef('p.batch_id', '=', 'b.id').select((e) => e.fn.countAll<number | string>().as('n')).as('stored')])
      .execute();
    for (const batch of batches) expect(Number(batch.stored), `batch ${batch.id}`).toBe(Number(batch.count));
    const promotions = await db.selectFrom('promotions').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    expect(Number(promotions.n)).toBe(batches.reduce((sum, b) => sum + Number(b.count), 0));
    return { batches: batches.length, promotions: Number(promotions.n) };
  } finally {
    await db.destroy();
  }
}

/**
 * kill -9 in the middle of a 100k batch, then look again: the batch is whole
 * or absent, never partial. The kill lands after a random number of progress
 * steps (CLI) or a random delay (HTTP), so each round cuts somewhere else.
 */
describeEachDialect('crash safety: kill -9 during a 100k bulk generation', (dialect) => {
  const ctx = useTestDatabase(dialect);

  it(`CLI: ${CLI_ROUNDS} rounds, each batch all-or-nothing`, async () => {
    const core = await openCore({ databaseUrl: ctx.database.url, publicUrl: 'http://promo.test' });
    await createSet(core, { name: 'crashy' }, 'test');
    await core.db.destroy();
    const outcomes: string[] = [];
    for (let round = 0; round < CLI_ROUNDS; round++) {
      // Off a terminal the CLI prints a progress line every 10% (11 lines in all): kill after 1 to 10 of them.
      const killAfterSteps = 1 + Math.floor(Math.random() * 10);
      const child = spawnCli(['codes', 'crashy', '--amount', '100000'], { DATABASE_URL: ctx.database.url, LOG_LEVEL: 'silent' });
      child.stdout?.resume();
      const exit = new Promise<string>((resolve) => child.once('exit', (_code, signal) => resolve(signal === 'SIGKILL' ? 'killed' : 'finished')));
      let steps = 0;
      child.stderr?.on('data', (chunk: Buffer | string) => {
        steps += (String(chunk).match(/Generating/g) ?? []).length;
        if (steps >= killAfterSteps) child.kill('SIGKILL');
      });
      outcomes.push(await exit);
      await assertAllOrNothing(ctx.database);
    }
    console.info(`[crash ${dialect}] CLI rounds: ${outcomes.join(', ')}`);
    // The test only means something if it really killed mid-batch.
    expect(outcomes).toContain('killed');
  });

  it(`HTTP: ${HTTP_ROUNDS} rounds of kill -9 during POST {set URL}/codes, then a restart serves again`, async () => {
    const core = await openCore({ databaseUrl: ctx.database.url, publicUrl: 'http://promo.test', urlSecret: URL_SECRET });
    const set = await createSet(core, { name: 'crashy-http' }, 'test');
    const path = `/sets/${setToken(core, set)}/codes`;
    await core.db.destroy();
    const env = { DATABASE_URL: ctx.database.url, URL_SECRET };
    const outcomes: string[] = [];
    for (let round = 0; round < HTTP_ROUNDS; round++) {
      const server = await startServerProcess(env);
      const reply = new Promise<string>((resolve) => {
        const req = request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(`status ${res.statusCode}`));
          res.on('error', () => resolve('cut mid-response'));
        });
        req.on('error', () => resolve('connection lost'));
        req.end(JSON.stringify({ amount: 100000 }));
      });
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 300));
      server.child.kill('SIGKILL');
      outcomes.push(await reply);
      await server.exited;
      await assertAllOrNothing(ctx.database);
    }
    // After the crashes, a new instance on the same database serves normally.
    const restarted = await startServerProcess(env);
    try {
      const health = await fetch(`${restarted.url}/healthz`);
      expect(health.status).toBe(200);
      const after = await fetch(`${restarted.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: 5 }) });
      expect(after.status).toBe(200);
      expect(((await after.json()) as { count: number }).count).toBe(5);
    } finally {
      await restarted.stop();
    }
    const totals = await assertAllOrNothing(ctx.database);
    console.info(`[crash ${dialect}] HTTP rounds: ${outcomes.join(', ')}; afterwards ${totals.batches} batches, ${totals.promotions} promotions, all whole`);
  });
});
