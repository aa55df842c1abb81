import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { migrations } from '../../src/store/migrations.js';
import { inWriteTransaction } from '../../src/store/transactions.js';
import { isPostgres, openDatabase, type Db } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { copyCodes, insertCodes } from '../../src/store/promotion-inserts.js';
import { countPromotions, countsBySet, listPromotionRows } from '../../src/store/promotions.js';
import { findBatch, insertBatch } from '../../src/store/batches.js';
import { findSetById, findSetByName, insertSet, listSetRows } from '../../src/store/sets.js';
import { getOrCreateSetting } from '../../src/store/settings.js';
import { SET_DEFAULTS } from '../../src/domain/set.js';
import type { PromotionTerms } from '../../src/domain/promotion.js';
import { createTestDatabase, describeEachDialect, POSTGRES_URL, useTestDatabase } from '../support/databases.js';

const TERMS: PromotionTerms = {
  type: 'Free Setup', recurring: 1, value: '0.00', cycles: 'Monthly', appliesto: '1', requires: 'D.com', requiresexisting: 1,
  startdate: '2026-01-01', expirationdate: '0000-00-00', maxuses: 0, lifetimepromo: 1, applyonce: 0, newsignups: 1,
  existingclient: 0, onceperclient: 1, recurfor: 3, upgrades: 0, upgradeconfig: 'a:0:{}', notes: 'ünïcødé, "quoted"',
};

describeEachDialect('storage', (dialect) => {
  const ctx = useTestDatabase(dialect);
  let db: Db;

  it('migrates a fresh database, and again is a no-op', async () => {
    db = openDatabase(ctx.database.url);
    expect(isPostgres(db)).toBe(dialect === 'postgres');
    expect(await migrateToLatest(db)).toEqual(Object.keys(migrations));
    expect(await migrateToLatest(db)).toEqual([]);
  });

  it.skipIf(dialect !== 'postgres')('on PostgreSQL the tables live in the test schema; openDatabase(url, { schema }) reaches the same ones', async () => {
    const bySchema = openDatabase(POSTGRES_URL!, { schema: ctx.database.schema });
    try {
      const { rows: [where] } = await sql<{ schema: string }>`select current_schema() as schema`.execute(bySchema);
      expect(where.schema).toBe(ctx.database.schema);
      expect(await migrateToLatest(bySchema)).toEqual([]);
    } finally {
      await bySchema.destroy();
    }
    expect(() => openDatabase(POSTGRES_URL!, { schema: 'x; drop table promotions' })).toThrow('Not a plain schema name');
    const { rows } = await sql<{ table_schema: string }>`select distinct table_schema from information_schema.tables where table_name = 'promo_sets' and table_schema = current_schema()`.execute(db);
    expect(rows.map((r) => r.table_schema)).toEqual([ctx.database.schema]);
  });

  it('sets round-trip with 0/1 flags, ISO date text, lists and null dates identically', async () => {
    const set = await insertSet(db, { ...SET_DEFAULTS, name: 'Round Trip', recurring: 1, new_signups: 1, start_date: '2026-02-03', expiration_date: null, cycles: ['Monthly', '1Years'], applies_to: ['12', 'A4', 'D.co.uk'], valid_days: 7 }, { api_key: 'A'.repeat(25), created_by: 'cli:test', now: '2026-01-01T00:00:00.000Z' });
    expect(typeof set.id).toBe('number');
    const read = await findSetById(db, set.id);
    expect(read).toEqual(set);
    expect(read).toMatchObject({ recurring: 1, apply_once: 0, new_signups: 1, start_date: '2026-02-03', expiration_date: null, cycles: ['Monthly', '1Years'], applies_to: ['12', 'A4', 'D.co.uk'], requires: [], valid_days: 7, archived_at: null, created_at: '2026-01-01T00:00:00.000Z' });
    expect(await findSetByName(db, 'ROUND trip')).toEqual(set);
    expect((await listSetRows(db)).map((s) => s.id)).toContain(set.id);
  });

  it('names are unique case-insensitively, enforced by the database', async () => {
    const insert = () => insertSet(db, { ...SET_DEFAULTS, name: 'round TRIP' }, { api_key: 'B'.repeat(25), created_by: 'cli:test', now: '2026-01-01T00:00:00.000Z' });
    const error = await insert().then(() => undefined, (e: { code?: string }) => e);
    expect(['SQLITE_CONSTRAINT_UNIQUE', '23505']).toContain(error?.code);
  });

  it('batches and promotions: RETURNING ids, bigint counts as numbers, terms intact, codes unique in any case', async () => {
    const [set] = await listSetRows(db);
    const batchId = await insertBatch(db, { set_id: set.id, kind: 'bulk', count: 3, prefix_key: 'x', code_length: 4, code_alphabet: 'default', created_by: 'cli:test', created_at: '2026-01-01T00:00:00.000Z', terms: TERMS });
    expect(typeof batchId).toBe('number');
    const first = await insertCodes(db, set.id, batchId, ['X-BCDF', 'X-GHJK', 'x-bcdf']);
    expect(first.map((r) => r.code).sort()).toEqual(['X-BCDF', 'X-GHJK']);
    const second = await insertCodes(db, set.id, batchId, ['x-ghjk', 'X-MNPQ']);
    expect(second.map((r) => r.code)).toEqual(['X-MNPQ']);
    const page = await listPromotionRows(db, { batchId }, 0, 10);
    // What the INSERT returned is what was stored, ids included (numbers on both dialects).
    expect([...first, ...second].sort((a, b) => a.id - b.id)).toEqual(page.map(({ row_id, code }) => ({ id: row_id, code })));
    expect(page.map((p) => p.code)).toEqual(['X-BCDF', 'X-GHJK', 'X-MNPQ']);
    for (const { row_id: id, uses, set_id, batch_id } of page) {
      expect([typeof id, typeof uses, typeof set_id, typeof batch_id]).toEqual(['number', 'number', 'number', 'number']);
      expect([uses, set_id, batch_id]).toEqual([0, set.id, batchId]);
    }
    expect((await findBatch(db, batchId))?.terms).toEqual(TERMS);
    expect((await listPromotionRows(db, { code: 'x-mnpq' }, 0, 1))[0]?.code).toBe('X-MNPQ');
    const total = await countPromotions(db);
    expect(total).toBe(3);
    expect(typeof total).toBe('number');
    await expect(countsBySet(db)).resolves.toEqual(new Map([[set.id, { promotions: 3, batches: 1, redeemed: 0 }]]));
  });

  it.skipIf(dialect !== 'postgres')('PostgreSQL COPY of a batch: all rows in, ids read back in order; a taken code (any case) leaves nothing of the COPY and the transaction goes on', async () => {
    const [set] = await listSetRows(db);
    const batch = () => insertBatch(db, { set_id: set.id, kind: 'bulk', count: 3, prefix_key: 'c', code_length: 4, code_alphabet: 'default', created_by: 'cli:test', created_at: '2026-01-01T00:00:00.000Z', terms: TERMS });
    const first = await batch();
    const copied = await inWriteTransaction(db, (trx) => copyCodes(trx, set.id, first, ['C-BCDF', 'C-GHJK', 'C-MNPQ']));
    expect(copied?.map((r) => r.code)).toEqual(['C-BCDF', 'C-GHJK', 'C-MNPQ']);
    expect(copied).toEqual((await listPromotionRows(db, { batchId: first }, 0, 10)).map(({ row_id, code }) => ({ id: row_id, code })));

    const second = await batch();
    const outcome = await inWriteTransaction(db, async (trx) => {
      const refused = await copyCodes(trx, set.id, second, ['C-RSTW', 'c-ghjk', 'C-XZ23']);
      // Still usable after the failed COPY: the fallback inserts in the same transaction.
      const inserted = await insertCodes(trx, set.id, second, ['C-RSTW', 'c-ghjk', 'C-XZ23']);
      return { refused, inserted };
    });
    expect(outcome.refused).toBeUndefined();
    expect(outcome.inserted.map((r) => r.code).sort()).toEqual(['C-RSTW', 'C-XZ23']);
    expect((await listPromotionRows(db, { batchId: second }, 0, 10)).map((r) => r.code)).toEqual(['C-RSTW', 'C-XZ23']);
  });

  it('settings: racing creators all read the winner\'s value', async () => {
    const values = await Promise.all(Array.from({ length: 5 }, (_, i) => getOrCreateSetting(db, 'race', () => `value ${i}`)));
    expect(new Set(values).size).toBe(1);
    await db.destroy();
  });

  it('several connections migrating one fresh database at once: one applies, none fails', async () => {
    const fresh = await createTestDatabase(dialect);
    const dbs = [1, 2, 3, 4].map(() => openDatabase(fresh.url));
    try {
      const results = await Promise.all(dbs.map((d) => migrateToLatest(d)));
      expect(results.flat()).toEqual(Object.keys(migrations));
    } finally {
      await Promise.all(dbs.map((d) => d.destroy()));
      await fresh.drop();
    }
  });

  it('a writer queued behind another connection\'s write transaction waits without blocking the event loop', async () => {
    const a = openDatabase(ctx.database.url);
    const b = openDatabase(ctx.database.url);
    try {
      const order: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const first = inWriteTransaction(a, async (trx) => {
        await trx.insertInto('settings').values({ key: 'queue', value: 'a' }).execute();
        entered();
        await held;
      });
      await inside;
      const second = inWriteTransaction(b, async (trx) => {
        await trx.insertInto('settings').values({ key: 'queue', value: 'b' }).onConflict((oc) => oc.column('key').doNothing()).execute();
        order.push('b wrote');
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      order.push('timer ran');
      release();
      await Promise.all([first, second]);
      expect(order).toEqual(['timer ran', 'b wrote']);
      expect(await getOrCreateSetting(b, 'queue', () => 'c')).toBe('a');
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
  });
});
