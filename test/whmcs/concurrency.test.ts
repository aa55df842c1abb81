import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/store/db.js';
import { createTestDatabase, describeEachDialect, type Dialect, type TestDatabase } from '../support/databases.js';
import { runCli } from '../support/processes.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';

/**
 * Several processes issuing into one WHMCS at once: each multi-row INSERT's
 * ids are taken from its insertId, so this proves they are the rows' real ids
 * (InnoDB gives one statement consecutive AUTO_INCREMENT values) and that no
 * code is issued twice across processes.
 */
describeWithWhmcs('WHMCS sink: several processes at once (real MariaDB)', () => {
  const holder = useWhmcsDatabase();

  describeEachDialect('concurrent CLI batches', (dialect: Dialect) => {
    let database: TestDatabase;
    let db: Db;

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      const created = await runCli(['sets', 'create', `conc-${dialect}`, 'api_ip_address=any'], { DATABASE_URL: database.url });
      expect(created.code).toBe(0);
      db = openDatabase(database.url);
    });
    afterAll(async () => {
      await db?.destroy();
      await database?.drop();
    });

    it('4 processes × 6,000 codes: every promotion\'s id is the tblpromotions row of its code, and codes are distinct', async () => {
      const env = { DATABASE_URL: database.url, WHMCS_DATABASE_URL: holder.whmcs.url };
      const prefix = `CONC${dialect.toUpperCase()}`;
      const results = await Promise.all([1, 2, 3, 4].map(() => runCli(['codes', `conc-${dialect}`, '--amount', '6000', '--prefix', prefix, '--length', '6'], env)));
      for (const result of results) expect(result.code, result.stderr).toBe(0);
      const rows = await db.selectFrom('promotions').select(['code', 'whmcs_id']).where('code', 'like', `${prefix}-%`).execute();
      expect(rows).toHaveLength(24000);
      const inWhmcs = await holder.whmcs.rows<{ id: number; code: string }>('select id, code from tblpromotions where code like ?', [`${prefix}-%`]);
      expect(inWhmcs).toHaveLength(24000);
      expect(new Set(inWhmcs.map((r) => r.code.toLowerCase())).size).toBe(24000);
      const idOf = new Map(inWhmcs.map((r) => [r.code, r.id]));
      const wrong = rows.filter((row) => Number(row.whmcs_id) !== idOf.get(row.code));
      expect(wrong).toEqual([]);
      // What each process printed is exactly its own share.
      const printed = results.flatMap((result) => result.stdout.trim().split('\n'));
      expect(new Set(printed)).toEqual(new Set(rows.map((r) => r.code)));
    });
  });
});
