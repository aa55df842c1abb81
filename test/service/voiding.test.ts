import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { expect, it } from 'vitest';
import { generatePromotions } from '../../src/service/generate.js';
import { validatePromotion } from '../../src/service/redemptions.js';
import { createSet } from '../../src/service/sets.js';
import { voidBatch } from '../../src/service/voiding.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';

/** Counts the statements that reach the database, by kind and table. */
class StatementCounter implements KyselyPlugin {
  readonly seen: string[] = [];
  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    const table = (node as any).table?.table?.identifier?.name ?? (node as any).into?.table?.identifier?.name ?? '';
    this.seen.push(`${node.kind}:${table}`);
    return node;
  }
  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

describeEachDialect('voiding a 100,000-code batch', (dialect) => {
  const ctx = useTestCore(dialect);

  it('is ONE UPDATE statement on promotions, and every code is refused afterwards', async () => {
    const set = await createSet(ctx.core, { name: 'Big Batch', promo_value: '5', code_length: 10 }, 'test');
    const batch = await generatePromotions(ctx.core, set, { amount: 100_000 }, 'test');
    const counter = new StatementCounter();
    const counted = { ...ctx.core, db: ctx.core.db.withPlugin(counter) };
    const result = await voidBatch(counted, batch.batchId, 'test');
    expect(result).toEqual({ batch_id: batch.batchId, set_id: set.id, count: 100_000, voided: true });
    expect(counter.seen.filter((s) => s === 'UpdateQueryNode:promotions')).toHaveLength(1);
    expect(counter.seen.filter((s) => s.startsWith('InsertQueryNode'))).toEqual(['InsertQueryNode:audit_events']);
    const last = await ctx.core.db.selectFrom('promotions').select('code').where('batch_id', '=', batch.batchId).orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect((await validatePromotion(ctx.core, set, last.code)).reason).toBe('voided');
    const stillValid = await ctx.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll<number | string>().as('n')).where('batch_id', '=', batch.batchId).where('voided_at', 'is', null).executeTakeFirstOrThrow();
    expect(Number(stillValid.n)).toBe(0);
  }, 120_000);
});
