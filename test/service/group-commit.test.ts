import { expect, it, vi } from 'vitest';
import { PromoError } from '../../src/domain/errors.js';
import type { PromotionTerms } from '../../src/domain/promotion.js';
import { generatePromotion, generatePromotions } from '../../src/service/generate.js';
import { createSet, getSet, updateSet } from '../../src/service/sets.js';
import { insertBatch, insertBatches } from '../../src/store/batches.js';
import { insertPromotionsReturning } from '../../src/store/promotion-inserts.js';
import { issueInPostgres } from '../../src/store/single-codes-postgres.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';

// Count the group commit's statements: fewer batch INSERTs than requests proves requests were coalesced.
vi.mock('../../src/store/batches.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/store/batches.js')>();
  return { ...actual, insertBatches: vi.fn(actual.insertBatches) };
});
vi.mock('../../src/store/single-codes-postgres.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/store/single-codes-postgres.js')>();
  return { ...actual, issueInPostgres: vi.fn(actual.issueInPostgres) };
});
vi.mock('../../src/store/promotion-inserts.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/store/promotion-inserts.js')>();
  return { ...actual, insertPromotionsReturning: vi.fn(actual.insertPromotionsReturning) };
});

const TERMS = { type: 'Percentage', recurring: 0, value: '10.00', cycles: '', appliesto: '', requires: '', requiresexisting: 0, startdate: '0000-00-00', expirationdate: '0000-00-00', maxuses: 1, lifetimepromo: 0, applyonce: 0, newsignups: 0, existingclient: 0, onceperclient: 0, recurfor: 0, upgrades: 0, upgradeconfig: '', notes: '' } satisfies PromotionTerms;

describeEachDialect('group commit of single codes', (dialect) => {
  const ctx = useTestCore(dialect);
  let setNumber = 0;
  const newSet = (fields: Record<string, unknown> = {}) => createSet(ctx.core, { name: `group ${++setNumber}`, ...fields }, 'cli:test');

  it('100 concurrent requests are written in fewer transactions, each with its own batch, actor, terms and code', async () => {
    const set = await newSet();
    vi.mocked(insertBatches).mockClear();
    vi.mocked(issueInPostgres).mockClear();
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => generatePromotion(ctx.core, set, { notes: `request ${i}` }, `cli:user${i}`)));
    // PostgreSQL writes a group in one statement (promoset_issue), SQLite in a transaction.
    const groups = vi.mocked(insertBatches).mock.calls.length + vi.mocked(issueInPostgres).mock.calls.length;
    expect(groups).toBeGreaterThan(0);
    expect(groups).toBeLessThan(100);
    if (dialect === 'postgres') expect(vi.mocked(insertBatches)).not.toHaveBeenCalled();
    expect(new Set(results.map((r) => r.code.toLowerCase())).size).toBe(100);
    expect(new Set(results.map((r) => r.id)).size).toBe(100);
    const rows = await ctx.core.db
      .selectFrom('promotions')
      .innerJoin('batches', 'batches.id', 'promotions.batch_id')
      .select(['promotions.id', 'promotions.code', 'batches.created_by', 'batches.notes', 'batches.kind', 'batches.count'])
      .where('promotions.set_id', '=', set.id)
      .execute();
    expect(rows).toHaveLength(100);
    const byId = new Map(rows.map((r) => [Number(r.id), r]));
    results.forEach((result, i) => {
      expect(result.notes).toBe(`request ${i}`);
      const row = byId.get(result.id)!;
      expect(row).toMatchObject({ code: result.code, created_by: `cli:user${i}`, notes: `request ${i}`, kind: 'single' });
      expect(Number(row.count)).toBe(1);
    });
    const batches = await ctx.core.db.selectFrom('batches').select('id').where('set_id', '=', set.id).execute();
    expect(batches).toHaveLength(100);
  });

  it('in a crowded code space, codes that collide inside a group or with stored ones are regenerated', async () => {
    // 3-digit codes: 1,000 possible; 300 taken already, so about a third of first tries collide.
    const set = await newSet({ code_alphabet: 'numeric', code_length: 3 });
    const taken = Array.from({ length: 300 }, (_, i) => String(i * 3).padStart(3, '0'));
    const seedBatch = await generatePromotions(ctx.core, set, { amount: 1 }, 'cli:test');
    await ctx.core.db.deleteFrom('promotions').where('batch_id', '=', seedBatch.batchId).execute();
    await ctx.core.db.insertInto('promotions').values(taken.map((code) => ({ set_id: set.id, batch_id: seedBatch.batchId, code }))).execute();
    vi.mocked(insertBatches).mockClear();
    vi.mocked(insertPromotionsReturning).mockClear();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => generatePromotion(ctx.core, set, {}, `cli:user${i}`)));
    const codes = results.map((r) => r.code);
    expect(new Set(codes).size).toBe(50);
    for (const code of codes) expect(taken).not.toContain(code);
    // More code INSERTs than batch INSERTs: regeneration rounds happened.
    expect(vi.mocked(insertPromotionsReturning).mock.calls.length).toBeGreaterThan(vi.mocked(insertBatches).mock.calls.length);
    const stored = await ctx.core.db.selectFrom('promotions').select('code').where('set_id', '=', set.id).execute();
    expect(stored).toHaveLength(350);
    // A member whose code collided left no batch row behind (on PostgreSQL: the statement wrote nothing for it).
    const singles = await ctx.core.db.selectFrom('batches').select('id').where('set_id', '=', set.id).where('kind', '=', 'single').execute();
    expect(singles).toHaveLength(50);
  });

  it('a request on a cached set that changed meanwhile writes nothing (set_changed); the rest of its group, and callers without a cache, go on', async () => {
    const set = await newSet({ promo_value: 10 });
    const stale = { ...set };
    await updateSet(ctx.core, set.id, { promo_value: 20 }, 'cli:test');
    const fresh = await getSet(ctx.core, set.id);
    const before = await ctx.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const outcomes = await Promise.allSettled([
      generatePromotion(ctx.core, stale, {}, 'http:192.0.2.1', { setMayBeStale: true }),
      generatePromotion(ctx.core, fresh, {}, 'http:192.0.2.2', { setMayBeStale: true }),
      generatePromotion(ctx.core, stale, { notes: 'slack' }, 'slack:U1'),
    ]);
    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: { code: 'set_changed', status: 409 } });
    expect(outcomes[1]).toMatchObject({ status: 'fulfilled', value: { value: '20.00' } });
    // Without setMayBeStale the set given is taken as it is, as before the cache existed.
    expect(outcomes[2]).toMatchObject({ status: 'fulfilled', value: { value: '10.00', notes: 'slack' } });
    const after = await ctx.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n) - Number(before.n)).toBe(2);
  });

  it('one group mixing plain requests, a bound code and a set with a webhook: each written whole, with its binding and its outbox event', async () => {
    const plain = await newSet();
    const hooked = await newSet();
    await ctx.core.db.updateTable('promo_sets').set({ webhook_url: 'https://shop.example.com/hooks' }).where('id', '=', hooked.id).execute();
    const hookedSet = await getSet(ctx.core, hooked.id);
    const results = await Promise.all([
      generatePromotion(ctx.core, plain, {}, 'cli:a', { setMayBeStale: true }),
      generatePromotion(ctx.core, plain, { client_id: 42 }, 'cli:b', { setMayBeStale: true }),
      generatePromotion(ctx.core, hookedSet, {}, 'cli:c', { setMayBeStale: true }),
      generatePromotion(ctx.core, plain, {}, 'cli:d'),
    ]);
    expect(new Set(results.map((r) => r.id)).size).toBe(4);
    const rows = await ctx.core.db.selectFrom('promotions').innerJoin('batches', 'batches.id', 'promotions.batch_id')
      .select(['promotions.id', 'promotions.code', 'promotions.set_id', 'batches.created_by']).where('promotions.set_id', 'in', [plain.id, hooked.id]).orderBy('batches.created_by').execute();
    expect(rows.map((r) => [r.created_by, Number(r.set_id), Number(r.id), r.code])).toEqual(results.map((r, i) => [`cli:${'abcd'[i]}`, i === 2 ? hooked.id : plain.id, r.id, r.code]));
    const bindings = await ctx.core.db.selectFrom('promotion_bindings').select(['promotion_id', 'client_id']).where('set_id', 'in', [plain.id, hooked.id]).execute();
    expect(bindings.map((b) => [Number(b.promotion_id), Number(b.client_id)])).toEqual([[results[1].id, 42]]);
    const events = await ctx.core.db.selectFrom('webhook_events').select(['set_id', 'body']).where('set_id', 'in', [plain.id, hooked.id]).execute();
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0].body)).toMatchObject({ type: 'promotions.issued', set_id: hooked.id, data: { count: 1, promotions: [{ id: results[2].id, code: results[2].code }] } });
  });

  it('a cached set with every kind of field filled is found unchanged by the group (no set_changed, written in one go)', async () => {
    const set = await newSet({
      applies_to: ['1', '7'], requires: ['3'], cycles: ['Monthly', 'Annually'], config_option_upgrades: ['4', '5'], start_date: '2026-01-01', expiration_date: '2099-12-31',
      notes: 'Ünïcode, "quotes" and a comma', promo_value: '12.50', upgrades: 1, upgrade_value: '5.00', once_per_client: 1, code_prefix: 'FULLSET',
    });
    vi.mocked(issueInPostgres).mockClear();
    const result = await generatePromotion(ctx.core, set, {}, 'http:192.0.2.9', { setMayBeStale: true });
    expect(result).toMatchObject({ value: '12.50', appliesto: '1,7', cycles: 'Monthly,Annually' });
    if (dialect === 'postgres') {
      const outcomes = await Promise.all(vi.mocked(issueInPostgres).mock.results.map((r) => r.value as ReturnType<typeof issueInPostgres>));
      expect(outcomes.flat().map((o) => o.outcome)).toEqual(['issued']);
    }
  });

  it('a request the feasibility rule refuses gets its own error; the others in its group succeed', async () => {
    // Make the cheap bound useless (many promotions stored elsewhere), then record 996 of 1,000 3-digit codes as issued.
    const other = await newSet();
    await generatePromotions(ctx.core, other, { amount: 1000 }, 'cli:test');
    const set = await newSet({ code_alphabet: 'numeric', code_length: 3, code_prefix: 'FULL' });
    await insertBatch(ctx.core.db, { set_id: set.id, kind: 'bulk', count: 996, prefix_key: 'full', code_length: 3, code_alphabet: 'numeric', created_by: 'cli:test', created_at: new Date().toISOString(), terms: TERMS });
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => generatePromotion(ctx.core, set, {}, `cli:user${i}`)));
    // Room for 3 more (each must leave at least as many free as it takes), in arrival order.
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
    for (const outcome of outcomes.slice(3)) {
      const error = (outcome as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(PromoError);
      expect((error as PromoError).code).toBe('code_space_exhausted');
    }
    const batches = await ctx.core.db.selectFrom('batches').select(['created_by', 'kind']).where('set_id', '=', set.id).where('kind', '=', 'single').orderBy('id').execute();
    expect(batches.map((b) => b.created_by)).toEqual(['cli:user0', 'cli:user1', 'cli:user2']);
  });
});
