import { CompiledQuery, sql, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import { expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { generatePromotion, generatePromotions } from '../../src/service/generate.js';
import { listPromotions, recentBatches } from '../../src/service/promotions.js';
import { redeemPromotion } from '../../src/service/redemptions.js';
import { rollbackRedemption } from '../../src/service/rollbacks.js';
import { createSet, listSets } from '../../src/service/sets.js';
import type { Usage } from '../../src/domain/usage.js';
import { usageOfBatches, usageOfSet, usageOfSets } from '../../src/service/usage.js';
import { voidBatch, voidPromotions } from '../../src/service/voiding.js';
import { isPostgres, type Db } from '../../src/store/db.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';

/**
 * Usage reads issued from batches.count and the rest from touched promotions
 * only (the partial index of migration 009). These tests hold it to the full
 * aggregate over every promotion, the way it used to be computed.
 */

/** The full aggregate over every promotion, grouped by `key`: what usage must equal. */
async function fullAggregate(db: Db, key: 'set_id' | 'batch_id'): Promise<Map<number, Usage>> {
  const { rows } = await sql<{ key: number | string; issued: number | string; redeemed: number | string; voided: number | string; used_up: number | string }>`
    select p.${sql.ref(key)} as key, count(*) as issued, sum(p.uses) as redeemed,
      sum(case when p.voided_at is null then 0 else 1 end) as voided,
      sum(case when b.maxuses > 0 and p.uses >= b.maxuses then 1 else 0 end) as used_up
    from promotions p join batches b on b.id = p.batch_id group by p.${sql.ref(key)}`.execute(db);
  return new Map(rows.map((r) => [Number(r.key), { issued: Number(r.issued), redeemed: Number(r.redeemed), voided: Number(r.voided), usedUp: Number(r.used_up) }]));
}

/** Every statement's compiled text and parameters, as the database receives them. */
class StatementLog implements KyselyPlugin {
  readonly nodes: { node: RootOperationNode; queryId: PluginTransformQueryArgs['queryId'] }[] = [];
  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    this.nodes.push({ node, queryId });
    return node;
  }
  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

describeEachDialect('usage: issued from batches, the rest from touched promotions', (dialect) => {
  const ctx = useTestCore(dialect);
  let capped: PromoSet;
  let unlimited: PromoSet;
  let batchIds: number[];

  it('equals the full aggregate over promotions after redeems, rollbacks, voids of codes and of a batch, and unvoids', async () => {
    const core = ctx.core;
    capped = await createSet(core, { name: 'Capped', promo_value: '5', max_uses: 2 }, 'test');
    unlimited = await createSet(core, { name: 'Unlimited', promo_value: '5', max_uses: 0 }, 'test');
    const empty = await createSet(core, { name: 'Never Issued', promo_value: '5' }, 'test');
    const big = await generatePromotions(core, capped, { amount: 40 }, 'test');
    const small = await generatePromotions(core, capped, { amount: 25 }, 'test');
    const singles = [await generatePromotion(core, capped, {}, 'test'), await generatePromotion(core, capped, {}, 'test')];
    const other = await generatePromotions(core, unlimited, { amount: 10 }, 'test');
    const otherSingle = await generatePromotion(core, unlimited, {}, 'test');
    const codes = (await listPromotions(core, { batchId: big.batchId })).map((p) => p.code);
    const smallCodes = (await listPromotions(core, { batchId: small.batchId })).map((p) => p.code);
    const otherCodes = (await listPromotions(core, { batchId: other.batchId })).map((p) => p.code);
    const redeem = async (set: PromoSet, code: string) => (await redeemPromotion(core, set, { code }, 'test')).redemption_id;

    // codes[0]: used up, then one use rolled back (1 use, no longer used up).
    await redeem(capped, codes[0]);
    const second = await redeem(capped, codes[0]);
    await rollbackRedemption(core, capped, String(second));
    // codes[1]: used up and stays so; codes[2]: used up, then voided.
    await redeem(capped, codes[1]);
    await redeem(capped, codes[1]);
    await redeem(capped, codes[2]);
    await redeem(capped, codes[2]);
    // codes[3]: voided unused; codes[4]: voided, then restored (untouched again).
    await voidPromotions(core, [codes[2], codes[3], codes[4]], 'test');
    await voidPromotions(core, [codes[4]], 'test', { restore: true });
    // codes[5]: redeemed and fully rolled back (untouched again).
    await rollbackRedemption(core, capped, String(await redeem(capped, codes[5])));
    // The small batch: one code used up, then the whole batch voided, then one code restored.
    await redeem(capped, smallCodes[0]);
    await redeem(capped, smallCodes[0]);
    await redeem(capped, smallCodes[1]);
    await voidBatch(core, small.batchId, 'test');
    await voidPromotions(core, [smallCodes[1]], 'test', { restore: true });
    // A single code used up; an unlimited code used many times is never used up.
    await redeem(capped, singles[0].code);
    await redeem(capped, singles[0].code);
    for (let i = 0; i < 5; i++) await redeem(unlimited, otherCodes[0]);
    await redeem(unlimited, otherSingle.code);

    const bySet = await fullAggregate(core.db, 'set_id');
    const byBatch = await fullAggregate(core.db, 'batch_id');
    // The scenario itself, counted by hand: 40 + 25 + 2 codes; uses 1 + 2 + 2 + 2 + 1 + 2; voided codes[2], codes[3] and 24 of the small batch.
    expect(bySet.get(capped.id)).toEqual({ issued: 67, redeemed: 10, voided: 26, usedUp: 4 });
    expect(bySet.get(unlimited.id)).toEqual({ issued: 11, redeemed: 6, voided: 0, usedUp: 0 });

    expect(await usageOfSet(core, capped.id)).toEqual(bySet.get(capped.id));
    expect(await usageOfSet(core, unlimited.id)).toEqual(bySet.get(unlimited.id));
    expect(await usageOfSet(core, empty.id)).toEqual({ issued: 0, redeemed: 0, voided: 0, usedUp: 0 });
    expect(await usageOfSets(core)).toEqual(bySet);

    batchIds = [...byBatch.keys()];
    expect(batchIds).toHaveLength(6);
    expect(await usageOfBatches(core, batchIds)).toEqual(byBatch);
    expect((await usageOfBatches(core, [small.batchId])).get(small.batchId)).toEqual({ issued: 25, redeemed: 3, voided: 24, usedUp: 1 });

    // The list views' redeemed (sum of positive uses) read the same way.
    const summaries = new Map((await listSets(core)).map((s) => [s.set.id, s]));
    expect(summaries.get(capped.id)).toMatchObject({ promotions: 67, batches: 4, redeemed: 10 });
    expect(summaries.get(unlimited.id)).toMatchObject({ promotions: 11, batches: 2, redeemed: 6 });
    const recent = await recentBatches(core, { setId: capped.id, limit: 10 });
    expect(new Map(recent.map((b) => [b.id, b.redeemed]))).toEqual(new Map(recent.map((b) => [b.id, byBatch.get(b.id)!.redeemed])));
  });

  it('reads promotions only through promotions_touched_idx (the planner matches its predicate)', async () => {
    const core = ctx.core;
    const log = new StatementLog();
    const logged = { ...core, db: core.db.withPlugin(log) };
    await usageOfSet(logged, capped.id);
    await usageOfSets(logged);
    await usageOfBatches(logged, batchIds);
    await listSets(logged);
    await recentBatches(logged, { setId: capped.id });
    const statements = log.nodes.map(({ node, queryId }) => core.db.getExecutor().compileQuery(node, queryId)).filter((q) => /(from|join) "promotions"/.test(q.sql));
    expect(statements.length).toBe(5);
    await core.db.connection().execute(async (conn) => {
      // Tables this small are cheaper to scan: take that option away, so the plan shows whether the index CAN be used.
      if (isPostgres(conn)) await sql`set enable_seqscan = off`.execute(conn);
      try {
        for (const statement of statements) {
          const { rows } = await conn.executeQuery<Record<string, string>>(CompiledQuery.raw(`explain ${isPostgres(conn) ? '' : 'query plan '}${statement.sql}`, [...statement.parameters]));
          const plan = rows.map((row) => row['QUERY PLAN'] ?? row.detail).join('\n');
          expect(plan, statement.sql).toContain('promotions_touched_idx');
          expect(plan, statement.sql).not.toMatch(/SCAN promotions(?! USING INDEX promotions_touched_idx)|Seq Scan on promotions|promotions_(set|batch)_idx/);
        }
      } finally {
        if (isPostgres(conn)) await sql`reset enable_seqscan`.execute(conn);
      }
    });
  });
});
