import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/store/db.js';
import { createTestDatabase, describeEachDialect, type Dialect, type TestDatabase } from '../support/databases.js';
import { collect, runCli, spawnCli } from '../support/processes.js';
import { startTestService } from '../support/service.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';
import { postForm } from '../http/helpers.js';
import { waitFor } from '../support/wait-for.js';

const AMOUNT = 100_000;

/**
 * `promoset whmcs backfill` of 100,000 codes issued before WHMCS was
 * connected: killed with kill -9 part-way, run again, and the two databases
 * hold every code exactly once, with one id each everywhere.
 */
describeWithWhmcs('promoset whmcs backfill (real MariaDB)', () => {
  describeEachDialect('backfill', (dialect: Dialect) => {
    // A WHMCS database per dialect: each run counts every row of its own.
    const holder = useWhmcsDatabase();
    let database: TestDatabase;
    let db: Db;
    const env = () => ({ DATABASE_URL: database.url, WHMCS_DATABASE_URL: holder.whmcs.url });
    let handMade: string;

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      db = openDatabase(database.url);
      const alone = { DATABASE_URL: database.url };
      expect((await runCli(['sets', 'create', `bf-${dialect}`, 'api_ip_address=any', 'promo_value=10'], alone)).code).toBe(0);
      const made = await runCli(['codes', `bf-${dialect}`, '--amount', String(AMOUNT), '--prefix', `BF${dialect[0].toUpperCase()}`, 'notes=early'], alone);
      expect(made.code, made.stderr).toBe(0);
      // An admin made one of them by hand in WHMCS, in another letter case.
      const [row] = await db.selectFrom('promotions').select('code').orderBy('id', 'desc').limit(1).execute();
      handMade = row.code.toLowerCase();
      await holder.whmcs.sql.query("insert into tblpromotions (code, type, value, cycles, appliesto, requires, requiresexisting, startdate, maxuses, uses, lifetimepromo, applyonce, newsignups, existingclient, onceperclient, recurfor, upgrades, upgradeconfig, notes) values (?, 'Percentage', 5, '', '', '', 0, '0000-00-00', 0, 0, 0, 0, 0, 0, 0, 0, 0, '', 'by hand')", [handMade]);
    });
    afterAll(async () => {
      await db?.destroy();
      await database?.drop();
    });

    const whmcsCount = async () => Number((await holder.whmcs.rows<{ n: number }>('select count(*) as n from tblpromotions'))[0].n);

    it('WHMCS down: a clear error, nothing written', async () => {
      const down = await runCli(['whmcs', 'backfill'], { DATABASE_URL: database.url, WHMCS_DATABASE_URL: `mysql://root@127.0.0.1:1/${holder.whmcs.name}` });
      expect(down.code).toBe(1);
      expect(down.stderr).toContain('could not be reached');
      expect(down.stderr).toContain('WHMCS_DATABASE_URL');
      expect(await whmcsCount()).toBe(1);
    });

    it('killed with kill -9 part-way (a second backfill meanwhile is refused), then run again: every code in both databases exactly once', async () => {
      const before = await whmcsCount();
      // Anywhere between a tenth and four fifths of the way: each run kills it at another point.
      const killAt = before + Math.floor(AMOUNT * (0.1 + Math.random() * 0.7));
      const child = spawnCli(['whmcs', 'backfill'], env());
      const exited = collect(child);
      let killed = false;
      let second: Awaited<ReturnType<typeof runCli>> | undefined;
      await waitFor(async () => {
        if (child.exitCode !== null) return true;
        const n = await whmcsCount();
        // Once the first is writing, a second one asks for the lock (and is refused) before the kill.
        if (n > before && second === undefined) second = await runCli(['whmcs', 'backfill'], env());
        if (n < killAt) return false;
        child.kill('SIGKILL');
        killed = true;
        return true;
      }, (done) => done, `the backfill to write ${killAt} codes`, { timeoutMs: 120_000, intervalMs: 5 });
      const first = await exited;
      expect(killed, `the backfill finished before the kill at ${killAt}:\n${first.stderr}`).toBe(true);
      expect(second?.code).toBe(1);
      expect(second?.stderr).toContain('Another "promoset whmcs backfill" is running');
      expect(await whmcsCount()).toBeLessThan(AMOUNT + 1);

      const rerun = await runCli(['whmcs', 'backfill'], env());
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.stderr).not.toContain('\r');
      expect(rerun.stderr).toContain('(100%)');
      expect(rerun.stdout).toContain('1 codes were already in WHMCS');
      expect(rerun.stdout).toContain(handMade.toUpperCase());

      // Both sides: every code exactly once, and each promotion's id is its row's.
      const rows = await holder.whmcs.rows<{ id: number; code: string }>('select id, code from tblpromotions');
      expect(rows).toHaveLength(AMOUNT);
      const byCode = new Map(rows.map((r) => [r.code.toLowerCase(), Number(r.id)]));
      expect(byCode.size).toBe(AMOUNT);
      const promotions = await db.selectFrom('promotions').select(['code', 'whmcs_id']).execute();
      expect(promotions).toHaveLength(AMOUNT);
      for (const p of promotions) expect(Number(p.whmcs_id)).toBe(byCode.get(p.code.toLowerCase()));
      const journal = await db.selectFrom('whmcs_connection').select('backfill_from').executeTakeFirstOrThrow();
      expect(journal.backfill_from).toBeNull();

      // Twice: the second does nothing.
      const again = await runCli(['whmcs', 'backfill'], env());
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('Nothing to backfill');
      expect(await whmcsCount()).toBe(AMOUNT);

      // GetPromotions: one id per promotion, each the tblpromotions one.
      const service = await startTestService({ ...env(), WHMCS_API_IDENTIFIER: 'whmcs-id', WHMCS_API_SECRET: 'whmcs-secret-value' });
      try {
        const listed = await postForm(`${service.url}/includes/api.php`, 'action=GetPromotions&username=whmcs-id&password=whmcs-secret-value&responsetype=json');
        const ids = listed.json.promotions.promotion.map((p: { id: number }) => p.id);
        expect(ids).toHaveLength(AMOUNT);
        expect(new Set(ids).size).toBe(AMOUNT);
        expect(Math.max(...ids)).toBeLessThan(2_147_483_648);
      } finally {
        await service.stop();
      }
    });
  });
});
