import { expect, it } from 'vitest';
import { generatePromotions } from '../../src/service/generate.js';
import { listPromotions } from '../../src/service/promotions.js';
import { redeemPromotion } from '../../src/service/redemptions.js';
import { createSet, getSet } from '../../src/service/sets.js';
import { setUrl } from '../../src/service/set-urls.js';
import { voidBatch, voidPromotions } from '../../src/service/voiding.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';

describeEachDialect('webhook events of the lifecycle, written in the change\'s transaction', (dialect) => {
  const ctx = useTestCore(dialect);

  it('promotion.redeemed, promotion.voided and promotion.unvoided land in the outbox; a refused redemption writes none; sets without a webhook_url get none', async () => {
    const hooked = await createSet(ctx.core, { name: 'Hooked', promo_value: '5', max_uses: 1 }, 'test');
    await ctx.core.db.updateTable('promo_sets').set({ webhook_url: 'https://shop.example.com/hooks' }).where('id', '=', hooked.id).execute();
    const set = await getSet(ctx.core, hooked.id);
    const quiet = await createSet(ctx.core, { name: 'Quiet', promo_value: '5', max_uses: 1 }, 'test');
    const batch = await generatePromotions(ctx.core, set, { amount: 3 }, 'test');
    const [a, b] = await listPromotions(ctx.core, { batchId: batch.batchId });
    const quietBatch = await generatePromotions(ctx.core, quiet, { amount: 2 }, 'test');
    const events = async (type: string) =>
      (await ctx.core.db.selectFrom('webhook_events').select(['set_id', 'body']).where('type', '=', type).orderBy('id').execute()).map((e) => ({ set_id: Number(e.set_id), body: JSON.parse(e.body) }));

    const redeemed = await redeemPromotion(ctx.core, set, { code: a.code, client_id: 'c-1' }, 'test');
    await expect(redeemPromotion(ctx.core, set, { code: a.code }, 'test')).rejects.toMatchObject({ code: 'promotion_used_up' });
    const redemptionEvents = await events('promotion.redeemed');
    expect(redemptionEvents).toHaveLength(1);
    expect(redemptionEvents[0]).toMatchObject({ set_id: set.id, body: { type: 'promotion.redeemed', set_id: set.id, data: { promotion: { ...a, uses: 1 }, redemption_id: redeemed.redemption_id, client_id: 'c-1' } } });

    await voidPromotions(ctx.core, [b.code], 'test');
    await voidPromotions(ctx.core, [b.code], 'test'); // already voided: no second event
    await voidPromotions(ctx.core, [b.code], 'test', { restore: true });
    expect((await events('promotion.voided')).map((e) => e.body.data.promotion.code)).toEqual([b.code]);
    expect((await events('promotion.unvoided')).map((e) => e.body.data.promotion.code)).toEqual([b.code]);

    await voidBatch(ctx.core, batch.batchId, 'test');
    await voidBatch(ctx.core, quietBatch.batchId, 'test');
    // A batch is one event however many codes changed (b was restored, so all 3 did), never one per code.
    expect(await events('promotion.voided')).toHaveLength(1);
    const batchEvents = await events('batch.voided');
    expect(batchEvents).toHaveLength(1);
    expect(batchEvents[0]).toMatchObject({ set_id: set.id, body: { type: 'batch.voided', data: { batch_id: batch.batchId, count: 3, csv_url: `${setUrl(ctx.core, set)}/batches/${batch.batchId}.csv` } } });
  });
});
