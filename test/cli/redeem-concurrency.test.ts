import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { runCli, startServerProcess, type ServerProcess } from '../support/processes.js';

/**
 * The max-uses limit and once-per-client rule hold across processes: the
 * database decides (one conditional UPDATE, one unique index), not memory.
 * SQLite: 2 server processes on one file; PostgreSQL: 3 instances.
 */
describeEachDialect('concurrent redemptions across server processes', (dialect) => {
  const ctx = useTestDatabase(dialect);
  const instances = dialect === 'sqlite' ? 2 : 3;
  let servers: ServerProcess[] = [];

  async function createSet(name: string, fields: string[]): Promise<string> {
    const created = await runCli(['sets', 'create', name, 'promo_value=10', ...fields], { DATABASE_URL: ctx.database.url });
    expect(created.code, created.stderr).toBe(0);
    return /\nURL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(created.stdout)![1];
  }

  async function issue(path: string): Promise<string> {
    const res = await fetch(`${servers[0].url}${path}`, { method: 'POST' });
    expect(res.status).toBe(200);
    return ((await res.json()) as { code: string }).code;
  }

  async function redeemAll(path: string, bodies: Record<string, unknown>[]): Promise<{ status: number; json: any }[]> {
    return Promise.all(
      bodies.map(async (body, i) => {
        const res = await fetch(`${servers[i % instances].url}${path}/redemptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: res.status, json: await res.json() };
      }),
    );
  }

  async function storedUses(code: string): Promise<{ uses: number; redemptions: number }> {
    const db = openDatabase(ctx.database.url);
    try {
      const row = await db.selectFrom('promotions').select(['id', 'uses']).where('code', '=', code).executeTakeFirstOrThrow();
      const standing = await db.selectFrom('redemptions').select((eb) => eb.fn.countAll<number | string>().as('n')).where('promotion_id', '=', row.id).where('rolled_back_at', 'is', null).executeTakeFirstOrThrow();
      return { uses: Number(row.uses), redemptions: Number(standing.n) };
    } finally {
      await db.destroy();
    }
  }

  beforeAll(async () => {
    servers = await Promise.all(Array.from({ length: instances }, () => startServerProcess({ DATABASE_URL: ctx.database.url })));
  }, 60_000);
  afterAll(async () => {
    const exits = await Promise.all(servers.map((s) => s.stop('SIGTERM')));
    for (const exit of exits) expect(exit.code, exit.stderr).toBe(0);
  });

  it(`maxuses = 37: 500 concurrent redemptions of one code get exactly 37 successes, the rest 409 promotion_used_up`, async () => {
    const path = await createSet(`Hot-${dialect}`, ['max_uses=37']);
    const code = await issue(path);
    const replies = await redeemAll(path, Array.from({ length: 500 }, () => ({ code })));
    expect(replies.filter((r) => r.status >= 500)).toEqual([]);
    const ok = replies.filter((r) => r.status === 200);
    expect(ok).toHaveLength(37);
    expect(new Set(ok.map((r) => r.json.redemption_id)).size).toBe(37);
    // Each success saw its own count: 1..37, each once.
    expect(ok.map((r) => r.json.promotion.uses).sort((a, b) => a - b)).toEqual(Array.from({ length: 37 }, (_, i) => i + 1));
    const refused = replies.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(463);
    for (const r of refused) expect(r).toMatchObject({ status: 409, json: { result: 'error', code: 'promotion_used_up' } });
    expect(await storedUses(code)).toEqual({ uses: 37, redemptions: 37 });
  }, 120_000);

  it('once per client: 300 concurrent redemptions by 30 clients (10 each) get exactly one success per client', async () => {
    const path = await createSet(`Once-${dialect}`, ['max_uses=0', 'once_per_client=1']);
    const code = await issue(path);
    const replies = await redeemAll(path, Array.from({ length: 300 }, (_, i) => ({ code, client_id: `client-${i % 30}` })));
    expect(replies.filter((r) => r.status >= 500)).toEqual([]);
    const ok = replies.filter((r) => r.status === 200);
    expect(ok).toHaveLength(30);
    for (const r of replies.filter((r) => r.status !== 200)) expect(r).toMatchObject({ status: 409, json: { code: 'promotion_already_redeemed_by_client' } });
    expect(await storedUses(code)).toEqual({ uses: 30, redemptions: 30 });
  }, 120_000);

  it('20 concurrent rollbacks of one redemption: exactly one gives the use back', async () => {
    const path = await createSet(`Rollback-${dialect}`, ['max_uses=5']);
    const code = await issue(path);
    const [first] = await redeemAll(path, [{ code }, { code }]);
    expect(first.status).toBe(200);
    const replies = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await fetch(`${servers[i % instances].url}${path}/redemptions/${first.json.redemption_id}/rollback`, { method: 'POST' });
        return { status: res.status, json: (await res.json()) as any };
      }),
    );
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of replies.filter((r) => r.status !== 200)) expect(r).toMatchObject({ status: 409, json: { code: 'redemption_already_rolled_back' } });
    expect(await storedUses(code)).toEqual({ uses: 1, redemptions: 1 });
  }, 60_000);
});
