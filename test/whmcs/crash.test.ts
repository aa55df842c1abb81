import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/store/db.js';
import { createTestDatabase, describeEachDialect, type Dialect, type TestDatabase } from '../support/databases.js';
import { collect, runCli, spawnCli, startServerProcess } from '../support/processes.js';
import { describeWithWhmcs, useWhmcsDatabase, type WhmcsTestDatabase } from '../support/whmcs.js';
import { waitFor } from '../support/wait-for.js';


/**
 * kill -9 between the two commits (promoset's pending batch, WHMCS's rows),
 * then a restart: repair must leave exactly the same codes on both sides.
 */
describeWithWhmcs('WHMCS sink: kill -9 mid-batch, then restart (real MariaDB)', () => {
  const holder = useWhmcsDatabase();

  describeEachDialect('crash repair', (dialect: Dialect) => {
    let database: TestDatabase;
    let db: Db;
    const env = () => ({ DATABASE_URL: database.url, WHMCS_DATABASE_URL: holder.whmcs.url });

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      const created = await runCli(['sets', 'create', `crash-${dialect}`, 'api_ip_address=any', 'promo_value=10'], env());
      expect(created.code).toBe(0);
      db = openDatabase(database.url);
    });
    afterAll(async () => {
      await db?.destroy();
      await database?.drop();
    });

    async function promosetCodes(prefix: string): Promise<Set<string>> {
      const rows = await db.selectFrom('promotions').select('code').where('code', 'like', `${prefix}-%`).execute();
      return new Set(rows.map((r) => r.code));
    }
    async function whmcsCodes(whmcs: WhmcsTestDatabase, prefix: string): Promise<Set<string>> {
      const rows = await whmcs.rows<{ code: string }>('select code from tblpromotions where code like ?', [`${prefix}-%`]);
      return new Set(rows.map((r) => r.code));
    }
    async function oldestPendingAgeMs(): Promise<number | undefined> {
      const row = await db.selectFrom('batches').select((eb) => eb.fn.min('created_at').as('oldest')).where('whmcs_state', '=', 'pending').executeTakeFirst();
      return row?.oldest ? Date.now() - Date.parse(String(row.oldest)) : undefined;
    }
    async function pendingBatches(): Promise<number> {
      const row = await db.selectFrom('batches').select((eb) => eb.fn.countAll().as('n')).where('whmcs_state', '=', 'pending').executeTakeFirstOrThrow();
      return Number(row.n);
    }

    /** Start `codes` for 30,000, kill -9 it once `ready()` holds, restart the server, and compare both sides. */
    async function crashAndRepair(prefix: string, ready: () => Promise<boolean>): Promise<{ promoset: Set<string>; whmcs: Set<string> }> {
      const child = spawnCli(['codes', `crash-${dialect}`, '--amount', '30000', '--prefix', prefix], env());
      const exited = collect(child);
      const reached = await waitFor(ready, (yes) => yes, 'the crash point', { intervalMs: 5, timeoutMs: 60_000, stopIf: () => (child.exitCode !== null ? 'the CLI finished before the crash point' : undefined) }).catch((error: Error) => error);
      if (reached === true) child.kill('SIGKILL');
      const result = await exited;
      expect(reached, `the CLI finished before the crash point:\n${result.stderr}`).toBe(true);
      expect(result.signal).toBe('SIGKILL');
      // Repair settles pending batches twice the timeout (1 s here) old: wait until the batch is, by its own timestamp.
      await waitFor(oldestPendingAgeMs, (age) => age === undefined || age > 2_000, 'the pending batch to be 2 s old', { intervalMs: 50, timeoutMs: 10_000 });
      const server = await startServerProcess({ ...env(), WHMCS_PENDING_TIMEOUT_SECONDS: '1' });
      try {
        expect(await pendingBatches()).toBe(0);
        return { promoset: await promosetCodes(prefix), whmcs: await whmcsCodes(holder.whmcs, prefix) };
      } finally {
        await server.stop();
      }
    }

    it('killed after promoset\'s commit, before WHMCS\'s: the pending batch is removed, neither side keeps a code', async () => {
      const prefix = `KILLA${dialect}`;
      const { promoset, whmcs } = await crashAndRepair(prefix, async () => (await pendingBatches()) > 0);
      expect(promoset).toEqual(whmcs);
      expect(promoset.size === 0 || promoset.size === 30000).toBe(true);
    });

    it('killed after WHMCS\'s commit, before promoset records it: the batch is finished, both sides hold the same 30,000 codes', async () => {
      const prefix = `KILLB${dialect}`;
      const { promoset, whmcs } = await crashAndRepair(prefix, async () => (await whmcsCodes(holder.whmcs, prefix)).size > 0);
      expect(whmcs.size).toBe(30000);
      expect(promoset).toEqual(whmcs);
      // And the restarted promoset shows them with WHMCS's ids.
      const ids = await db.selectFrom('promotions').select(['code', 'whmcs_id']).where('code', 'like', `${prefix}-%`).execute();
      const whmcsIds = new Map((await holder.whmcs.rows<{ code: string; id: number }>('select id, code from tblpromotions where code like ?', [`${prefix}-%`])).map((r) => [r.code, r.id]));
      for (const row of ids) expect(row.whmcs_id).toBe(whmcsIds.get(row.code));
    });
  });
});
