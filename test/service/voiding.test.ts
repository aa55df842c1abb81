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

  it('writes ONE batch.voided event (batch_id, count, csv_url) for a set with a webhook, and ONE batch.unvoided on restore', async () => {
    const set = await createSet(ctx.core, { name: 'Hooked Batch', promo_value: '5', code_length: 10 }, 'test');
    await ctx.core.db.updateTable('promo_sets').set({ webhook_url: 'https://shop.example.com/hooks' }).where('id', '=', set.id).execute();
    const batch = await generatePromotions(ctx.core, set, { amount: 100_000 }, 'test');
    const before = await ctx.core.db.selectFrom('webhook_events').select('id').execute();
    await voidBatch(ctx.core, batch.batchId, 'test');
    await voidBatch(ctx.core, batch.batchId, 'test'); // nothing changes: no second event
    await voidBatch(ctx.core, batch.batchId, 'test', { restore: true });
    const events = await ctx.core.db.selectFrom('webhook_events').select(['type', 'set_id', 'body']).where('id', 'not in', before.length ? before.map((e) => e.id) : [-1]).orderBy('id').execute();
    expect(events.map((e) => e.type)).toEqual(['batch.voided', 'batch.unvoided']);
    for (const [i, type] of (['batch.voided', 'batch.unvoided'] as const).entries()) {
      const body = JSON.parse(events[i].body);
      expect(body).toMatchObject({ type, set_id: set.id, data: { batch_id: batch.batchId, count: 100_000 } });
      expect(Object.keys(body.data).sort()).toEqual(['batch_id', 'count', 'csv_url']);
      expect(body.data.csv_url).toMatch(new RegExp(`/batches/${batch.batchId}\\.csv$`));
    }
  }, 120_000);
});
