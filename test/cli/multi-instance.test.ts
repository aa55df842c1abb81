import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { cleanEnv, collect, ROOT, runCli, startServerProcess, type ServerProcess } from '../support/processes.js';

/**
 * Issue 5's guarantee: several instances on one database never hand out the
 * same code, and what they say they stored is what is stored. Each dialect
 * gets 3 OS processes generating 200,000+ codes at once, half single and bulk.
 */
const WORKER = join(ROOT, 'test', 'support', 'generate-worker.mjs');
const INSTANCES = 3;

async function storedCodes(url: string): Promise<{ code: string; batch_id: number }[]> {
  const db = openDatabase(url);
  try {
    const rows = await db.selectFrom('promotions').select(['code', 'batch_id']).execute();
    return rows.map((r) => ({ code: r.code, batch_id: Number(r.batch_id) }));
  } finally {
    await db.destroy();
  }
}

async function createSetWithCli(url: string, name: string): Promise<{ id: number; path: string }> {
  const created = await runCli(['sets', 'create', name, 'promo_value=15', 'code_length=10'], { DATABASE_URL: url });
  expect(created.code, created.stderr).toBe(0);
  const match = /^Created set (\d+) .*\nURL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(created.stdout);
  if (!match) throw new Error(`unexpected output: ${created.stdout}`);
  return { id: Number(match[1]), path: match[2] };
}

describeEachDialect('3 instances on one database', (dialect) => {
  const ctx = useTestDatabase(dialect);

  it('3 processes generate 203,100 codes at once (bulk and single): zero duplicates, stored == returned', async () => {
    const set = await createSetWithCli(ctx.database.url, 'Workers');
    const bulkAmounts = [22_500, 22_500, 22_500];
    const singles = 200;
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: INSTANCES }, (_, i) =>
        collect(
          spawn(process.execPath, [WORKER], {
            cwd: ROOT,
            env: cleanEnv({ DATABASE_URL: ctx.database.url, SET_ID: String(set.id), BULK_AMOUNTS: bulkAmounts.join(','), SINGLES: String(singles), WORKER: `w${i}` }),
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
        ),
      ),
    );
    const elapsed = Date.now() - started;
    const handedOut: string[] = [];
    let countReturned = 0;
    for (const result of results) {
      expect(result.code, result.stderr).toBe(0);
      const out = JSON.parse(result.stdout) as { bulk: { batchId: number; count: number; codes: string[] }[]; singles: string[]; errors: string[] };
      expect(out.errors).toEqual([]);
      expect(out.bulk.map((b) => b.count)).toEqual(bulkAmounts);
      expect(out.singles).toHaveLength(singles);
      for (const batch of out.bulk) {
        expect(batch.codes).toHaveLength(batch.count);
        handedOut.push(...batch.codes);
        countReturned += batch.count;
      }
      handedOut.push(...out.singles);
      countReturned += out.singles.length;
    }
    const total = INSTANCES * (bulkAmounts.reduce((a, b) => a + b, 0) + singles);
    expect(total).toBeGreaterThanOrEqual(200_000);
    expect(countReturned).toBe(total);
    expect(handedOut).toHaveLength(total);
    expect(new Set(handedOut.map((c) => c.toLowerCase())).size).toBe(total);
    const stored = await storedCodes(ctx.database.url);
    expect(stored).toHaveLength(total);
    expect(new Set(stored.map((s) => s.code))).toEqual(new Set(handedOut));
    console.info(`[multi-instance ${dialect}] ${INSTANCES} worker processes, ${total.toLocaleString('en-US')} codes in ${elapsed} ms`);
  }, 300_000);

  it('3 server processes over HTTP: concurrent single and bulk requests, 200,600 codes, zero duplicates, stored == returned, no 5xx', async () => {
    const set = await createSetWithCli(ctx.database.url, 'Servers');
    const before = (await storedCodes(ctx.database.url)).length;
    const servers: ServerProcess[] = await Promise.all(Array.from({ length: INSTANCES }, () => startServerProcess({ DATABASE_URL: ctx.database.url })));
    try {
      // A 404 here is a routing regression: it fails, never skips.
      const probe = await fetch(`${servers[0].url}${set.path}`);
      expect(probe.status).toBe(200);

      const statuses: number[] = [];
      const handedOut: string[] = [];
      let countReturned = 0;
      const started = Date.now();
      const bulk = Array.from({ length: 8 }, async (_, i) => {
        const res = await fetch(`${servers[i % INSTANCES].url}${set.path}/codes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ amount: 25_000 }),
        });
        statuses.push(res.status);
        const body = (await res.json()) as { result: string; batch_id: number; count: number; promotions: { code: string }[] };
        expect(body.result, JSON.stringify(body).slice(0, 300)).toBe('success');
        expect(body.count).toBe(25_000);
        expect(body.promotions).toHaveLength(body.count);
        countReturned += body.count;
        for (const p of body.promotions) handedOut.push(p.code);
      });
      let next = 0;
      const singleLane = async () => {
        while (next < 600) {
          const i = next++;
          const res = await fetch(`${servers[i % INSTANCES].url}${set.path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: `notes=single+${i}`,
          });
          statuses.push(res.status);
          const body = (await res.json()) as { code: string; notes: string };
          expect(body.notes, JSON.stringify(body).slice(0, 300)).toBe(`single ${i}`);
          countReturned += 1;
          handedOut.push(body.code);
        }
      };
      await Promise.all([...bulk, ...Array.from({ length: 12 }, singleLane)]);
      const elapsed = Date.now() - started;

      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      expect(countReturned).toBe(200_600);
      expect(new Set(handedOut.map((c) => c.toLowerCase())).size).toBe(200_600);
      const stored = await storedCodes(ctx.database.url);
      expect(stored.length - before).toBe(200_600);
      const storedSet = new Set(stored.map((s) => s.code));
      expect(handedOut.filter((c) => !storedSet.has(c))).toEqual([]);
      console.info(`[multi-instance ${dialect}] ${INSTANCES} servers over HTTP, 200,600 codes in ${elapsed} ms`);
    } finally {
      const exits = await Promise.all(servers.map((s) => s.stop('SIGTERM')));
      for (const exit of exits) expect(exit.code, exit.stderr).toBe(0);
    }
  }, 300_000);

  it('across 3 servers: an Idempotency-Key creates one promotion however many instances receive it; a rotated key is dead on all at once', async () => {
    const set = await createSetWithCli(ctx.database.url, 'Retries');
    const servers: ServerProcess[] = await Promise.all(Array.from({ length: INSTANCES }, () => startServerProcess({ DATABASE_URL: ctx.database.url })));
    try {
      expect((await fetch(`${servers[0].url}${set.path}`)).status).toBe(200);
      const before = (await storedCodes(ctx.database.url)).length;
      const post = (server: ServerProcess) =>
        fetch(`${server.url}${set.path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': `order-${dialect}-42` },
          body: 'notes=order+42',
        });
      // The same request, with the same key, sent 5 times to each instance at once (a client retrying through a load balancer).
      const replies = await Promise.all(
        Array.from({ length: 5 * INSTANCES }, async (_, i) => {
          const res = await post(servers[i % INSTANCES]);
          return { status: res.status, body: (await res.json()) as { code?: string; result?: string } };
        }),
      );
      expect(replies.filter((r) => r.status >= 500)).toEqual([]);
      const created = replies.filter((r) => r.status < 300);
      expect(created.length).toBeGreaterThanOrEqual(1);
      expect(new Set(created.map((r) => r.body.code)).size).toBe(1);
      for (const other of replies.filter((r) => r.status >= 300)) expect(other).toMatchObject({ status: 409, body: { result: 'error', code: 'conflict' } });
      expect((await storedCodes(ctx.database.url)).length - before).toBe(1);
      // Once settled, every instance replays the same promotion.
      for (const server of servers) {
        const res = await post(server);
        expect(res.status).toBeLessThan(300);
        expect(((await res.json()) as { code: string }).code).toBe(created[0].body.code);
      }
      expect((await storedCodes(ctx.database.url)).length - before).toBe(1);

      // Rotation through another process (the CLI) is seen by every instance at once: no cache to go stale.
      const rotated = await runCli(['sets', 'rotate', 'Retries'], { DATABASE_URL: ctx.database.url });
      expect(rotated.code, rotated.stderr).toBe(0);
      const newPath = /New URL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(rotated.stdout)?.[1];
      expect(newPath).toBeDefined();
      for (const server of servers) {
        expect((await fetch(`${server.url}${set.path}`, { method: 'POST' })).status).toBe(404);
        expect((await fetch(`${server.url}${newPath}`)).status).toBe(200);
      }
    } finally {
      const exits = await Promise.all(servers.map((s) => s.stop('SIGTERM')));
      for (const exit of exits) expect(exit.code, exit.stderr).toBe(0);
    }
  }, 120_000);
});
