import { Migrator, sql } from 'kysely';
import { expect, it } from 'vitest';
import { migrations } from '../../src/store/migrations.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { isPostgres, openDatabase, type Db } from '../../src/store/db.js';
import { insertBatch } from '../../src/store/batches.js';
import { insertCodes } from '../../src/store/promotion-inserts.js';
import { insertSet } from '../../src/store/sets.js';
import { deleteBatchesWithCodes, lockPendingBatch, markBatchesPending } from '../../src/store/whmcs-bookkeeping.js';
import { inWriteTransaction } from '../../src/store/transactions.js';
import { SET_DEFAULTS } from '../../src/domain/set.js';
import type { PromotionTerms } from '../../src/domain/promotion.js';
import { openCore } from '../../src/service/core.js';
import { generatePromotion, generatePromotions } from '../../src/service/generate.js';
import { createSet } from '../../src/service/sets.js';
import { createTestDatabase, describeEachDialect, useTestDatabase } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';

/**
 * promotions keeps no foreign key (migration 018, issue 23): integrity holds by
 * construction. These check the migration itself and that no path that writes
 * or deletes promotions leaves one whose set or batch is gone.
 */

const TERMS: PromotionTerms = {
  type: 'Percentage', recurring: 0, value: '10.00', cycles: '', appliesto: '', requires: '', requiresexisting: 0,
  startdate: '0000-00-00', expirationdate: '0000-00-00', maxuses: 1, lifetimepromo: 0, applyonce: 0, newsignups: 0,
  existingclient: 0, onceperclient: 0, recurfor: 0, upgrades: 0, upgradeconfig: '', notes: '',
};

/** Promotions whose set or batch does not exist: what the foreign keys used to refuse. */
async function orphanPromotions(db: Db): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`select count(*) as n from promotions p
    where not exists (select 1 from promo_sets s where s.id = p.set_id)
       or not exists (select 1 from batches b where b.id = p.batch_id)`.execute(db);
  return Number(rows[0].n);
}

async function promotionForeignKeys(db: Db, table: string): Promise<string[]> {
  if (isPostgres(db)) {
    const { rows } = await sql<{ parent: string }>`select confrelid::regclass::text as parent from pg_constraint
      where conrelid = ${table}::regclass and contype = 'f' order by 1`.execute(db);
    return rows.map((r) => r.parent.replace(/^.*\./, ''));
  }
  const { rows } = await sql<{ table: string }>`select "table" from pragma_foreign_key_list(${table}) order by 1`.execute(db);
  return rows.map((r) => r.table);
}

const newBatch = (setId: number) => ({
  set_id: setId, kind: 'bulk' as const, count: 3, prefix_key: 'fk', code_length: 4, code_alphabet: 'default' as const, created_by: 'test', created_at: '2026-01-01T00:00:00.000Z', terms: TERMS,
});

describeEachDialect('promotions without foreign keys (migration 018)', (dialect) => {
  const ctx = useTestDatabase(dialect);

  it('an existing database keeps every row, index and id counter; only promotions loses its foreign keys', async () => {
    const db = openDatabase(ctx.database.url);
    try {
      // The schema as it was before 018, with codes and a redemption in it.
      const before = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < '018'));
      const schema = isPostgres(db) ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0].s : undefined;
      const { error } = await new Migrator({ db, provider: { getMigrations: async () => before }, migrationTableSchema: schema }).migrateToLatest();
      expect(error).toBeUndefined();
      expect(await promotionForeignKeys(db, 'promotions')).toEqual(['batches', 'promo_sets']);
      const set = await insertSet(db, { ...SET_DEFAULTS, name: 'Before 018' }, { api_key: 'K'.repeat(25), created_by: 'test', now: '2026-01-01T00:00:00.000Z' });
      const batchId = await insertBatch(db, newBatch(set.id));
      const codes = await insertCodes(db, set.id, batchId, ['FK-BCDF', 'FK-GHJK', 'FK-MNPQ']);
      await db.insertInto('redemptions').values({ set_id: set.id, promotion_id: codes[0].id, created_by: 'test', created_at: '2026-01-01T00:00:00.000Z' }).execute();
      // The highest id goes: it must never be handed out again.
      await db.deleteFrom('promotions').where('id', '=', codes[2].id).execute();
      const rowsBefore = await db.selectFrom('promotions').selectAll().orderBy('id').execute();

      expect(await migrateToLatest(db)).toContain('018_promotions_without_foreign_keys');

      expect(await db.selectFrom('promotions').selectAll().orderBy('id').execute()).toEqual(rowsBefore);
      expect(await promotionForeignKeys(db, 'promotions')).toEqual([]);
      // The keys pointing at promotions and the others stay.
      expect(await promotionForeignKeys(db, 'redemptions')).toEqual(['promo_sets', 'promotions']);
      expect(await promotionForeignKeys(db, 'batches')).toEqual(['promo_sets']);
      // The unique index on lower(code) still judges, and ids go on above the deleted one.
      const again = await insertCodes(db, set.id, batchId, ['fk-bcdf', 'FK-RSTW']);
      expect(again.map((r) => r.code)).toEqual(['FK-RSTW']);
      expect(again[0].id).toBeGreaterThan(codes[2].id);
      const indexes = isPostgres(db)
        ? (await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'promotions' and schemaname = current_schema() order by 1`.execute(db)).rows
        : (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'promotions' and sql is not null order by 1`.execute(db)).rows;
      expect(indexes.map((r) => r.name)).toEqual(expect.arrayContaining([
        'promotions_batch_idx', 'promotions_code_key', 'promotions_set_idx', 'promotions_set_voided_idx', 'promotions_touched_idx', 'promotions_whmcs_id',
      ]));
      await expect(db.insertInto('redemptions').values({ set_id: set.id, promotion_id: 999_999, created_by: 'test', created_at: '2026-01-01T00:00:00.000Z' }).execute()).rejects.toThrow(/foreign key/i);
      expect(await orphanPromotions(db)).toBe(0);
    } finally {
      await db.destroy();
    }
  });

  it('issuing (bulk, single codes, a batch deleted with its codes) leaves no promotion without its set and batch', async () => {
    const database = await createTestDatabase(dialect);
    const core = await openCore({ databaseUrl: database.url, publicUrl: 'http://promo.test', urlSecret: 'test-url-secret-0123456789' });
    try {
      const set = await createSet(core, { name: 'integrity' }, 'test');
      const bulk = await generatePromotions(core, set, { amount: 3000 }, 'test');
      await Promise.all(Array.from({ length: 20 }, () => generatePromotion(core, set, {}, 'test')));
      const doomed = await generatePromotions(core, set, { amount: 500 }, 'test');
      await inWriteTransaction(core.db, (trx) => deleteBatchesWithCodes(trx, [doomed.batchId]));
      const { rows } = await sql<{ n: number | string }>`select count(*) as n from promotions`.execute(core.db);
      expect(Number(rows[0].n)).toBe(bulk.count + 20);
      expect(await orphanPromotions(core.db)).toBe(0);
      // A batch deleted is no longer pending: codes are never added to it.
      expect(await inWriteTransaction(core.db, (trx) => lockPendingBatch(trx, doomed.batchId))).toBe(false);
    } finally {
      await core.db.destroy();
      await database.drop();
    }
  });

  it.skipIf(dialect !== 'postgres')('a batch being deleted while codes are added to it: the codes go with it, none is left behind', async () => {
    const database = await createTestDatabase(dialect);
    const core = await openCore({ databaseUrl: database.url, publicUrl: 'http://promo.test', urlSecret: 'test-url-secret-0123456789' });
    const observer = openDatabase(database.url);
    try {
      const set = await createSet(core, { name: 'race' }, 'test');
      const batchId = await insertBatch(core.db, newBatch(set.id));
      await markBatchesPending(core.db, [batchId]);
      await insertCodes(core.db, set.id, batchId, ['FK-BCDF']);

      // One transaction replaces codes in the pending batch (it holds the batch's lock) while another deletes the batch.
      let releaseAdder!: () => void;
      const adderMayCommit = new Promise<void>((resolve) => (releaseAdder = resolve));
      let adderLocked!: () => void;
      const locked = new Promise<void>((resolve) => (adderLocked = resolve));
      const adder = core.db.transaction().execute(async (trx) => {
        expect(await lockPendingBatch(trx, batchId)).toBe(true);
        await insertCodes(trx, set.id, batchId, ['FK-GHJK']);
        adderLocked();
        await adderMayCommit;
      });
      await locked;
      const deleter = core.db.transaction().execute((trx) => deleteBatchesWithCodes(trx, [batchId]));
      await waitFor(async () => Number((await sql<{ n: string }>`select count(*) as n from pg_locks where not granted`.execute(observer)).rows[0].n), (n) => n > 0, 'the delete to wait for the batch lock');
      releaseAdder();
      await Promise.all([adder, deleter]);
      expect(await core.db.selectFrom('batches').select('id').where('id', '=', batchId).execute()).toEqual([]);
      expect(await orphanPromotions(core.db)).toBe(0);
    } finally {
      await observer.destroy();
      await core.db.destroy();
      await database.drop();
    }
  });
});
