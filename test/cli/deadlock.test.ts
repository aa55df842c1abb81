import { expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { runCli, startServerProcess, type ServerProcess } from '../support/processes.js';

/**
 * Issue 10, item 2: bulk and single requests on several instances of one
 * PostgreSQL database, in a code space small enough (length 5) that
 * concurrent transactions certainly collide on uncommitted codes, which is
 * what deadlocked. Every request must succeed (a deadlock is retried, never
 * answered 5xx), stored rows must equal the codes handed out, and each batch
 * must be whole. SQLite (one writer) runs the same load as a control.
 */
const INSTANCES = 3;
const BULK_PER_INSTANCE = 4;
const BULK_AMOUNT = 5_000;
const SINGLES = 300;

describeEachDialect('concurrent generation in a short code space, 3 server processes', (dialect) => {
  const ctx = useTestDatabase(dialect);

  it('bulk and single requests on 3 instances: 0 × 5xx, stored == handed out, no duplicates, every batch whole', async () => {
    const created = await runCli(['sets', 'create', 'Short codes', 'promo_value=10', 'code_length=5'], { DATABASE_URL: ctx.database.url });
    expect(created.code, created.stderr).toBe(0);
    const match = /^Created set (\d+) .*\nURL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(created.stdout);
    if (!match) throw new Error(`unexpected output: ${created.stdout}`);
    const setId = Number(match[1]);
    const setPath = match[2];

    const servers: ServerProcess[] = await Promise.all(Array.from({ length: INSTANCES }, () => startServerProcess({ DATABASE_URL: ctx.database.url })));
    const failures: string[] = [];
    const handedOut: string[] = [];
    const batches = new Map<number, number>();
    try {
      const bulk = Array.from({ length: INSTANCES * BULK_PER_INSTANCE }, async (_, i) => {
        const res = await fetch(`${servers[i % INSTANCES].url}${setPath}/codes`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: `amount=${BULK_AMOUNT}&code_length=5`,
        });
        const text = await res.text();
        if (res.status !== 200) return void failures.push(`bulk ${i}: ${res.status} ${text.slice(0, 200)}`);
        const body = JSON.parse(text) as { batch_id: number; count: number; promotions: { code: string }[] };
        expect(body.count).toBe(BULK_AMOUNT);
        expect(body.promotions).toHaveLength(BULK_AMOUNT);
        batches.set(body.batch_id, body.count);
        for (const p of body.promotions) handedOut.push(p.code);
      });
      const singles = Array.from({ length: INSTANCES * SINGLES }, async (_, i) => {
        const res = await fetch(`${servers[i % INSTANCES].url}${setPath}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `notes=single+${i}`,
        });
        const text = await res.text();
        if (res.status !== 200) return void failures.push(`single ${i}: ${res.status} ${text.slice(0, 200)}`);
        const body = JSON.parse(text) as { code: string; notes: string };
        expect(body.notes).toBe(`single ${i}`);
        expect(body.code).toMatch(/^[A-Z0-9]{5}$/);
        handedOut.push(body.code);
      });
      await Promise.all([...bulk, ...singles]);
    } finally {
      const exits = await Promise.all(servers.map((s) => s.stop('SIGTERM')));
      for (const exit of exits) expect(exit.code, exit.stderr.slice(-2000)).toBe(0);
    }

    expect(failures).toEqual([]);
    const total = INSTANCES * (BULK_PER_INSTANCE * BULK_AMOUNT + SINGLES);
    expect(handedOut).toHaveLength(total);
    expect(new Set(handedOut.map((c) => c.toLowerCase())).size).toBe(total);

    const db = openDatabase(ctx.database.url);
    try {
      const stored = await db.selectFrom('promotions').select(['code', 'batch_id']).where('set_id', '=', setId).execute();
      expect(stored).toHaveLength(total);
      expect(new Set(stored.map((s) => s.code.toLowerCase())).size).toBe(total);
      expect(new Set(stored.map((s) => s.code))).toEqual(new Set(handedOut));
      // Whole or absent: every batch row has exactly its count of codes, and no batch was left behind empty.
      const rows = await db.selectFrom('batches').select(['id', 'count']).where('set_id', '=', setId).execute();
      const perBatch = new Map<number, number>();
      for (const s of stored) perBatch.set(Number(s.batch_id), (perBatch.get(Number(s.batch_id)) ?? 0) + 1);
      expect(rows).toHaveLength(INSTANCES * (BULK_PER_INSTANCE + SINGLES));
      for (const row of rows) expect({ id: Number(row.id), codes: perBatch.get(Number(row.id)) ?? 0 }).toEqual({ id: Number(row.id), codes: Number(row.count) });
      for (const [id, count] of batches) expect(perBatch.get(id)).toBe(count);
    } finally {
      await db.destroy();
    }
  }, 180_000);
});
