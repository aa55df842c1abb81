import { expect, it } from 'vitest';
import { WhmcsIdRecorder } from '../../src/service/billing.js';
import { generatePromotions } from '../../src/service/generate.js';
import { createSet } from '../../src/service/sets.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';

/**
 * Step 3's ids recorded while WHMCS still inserts (src/service/billing.ts):
 * nothing is written before promoset's batch is committed (`start`), each
 * chunk's pairs are written as they come after that, and step 3 is left only
 * what was not written.
 */
describeEachDialect('WHMCS ids recorded chunk by chunk', (dialect) => {
  const ctx = useTestCore(dialect);

  it('writes nothing before start, then each chunk as it comes; step 3 gets only the rest', async () => {
    const set = await createSet(ctx.core, { name: 'recorded ids' }, 'cli:test');
    const { issued } = await generatePromotions(ctx.core, set, { amount: 60 }, 'cli:test');
    const whmcsIdOf = async () => new Map((await ctx.core.db.selectFrom('promotions').select(['id', 'whmcs_id']).execute()).map((row) => [Number(row.id), row.whmcs_id === null ? null : Number(row.whmcs_id)]));
    const pairs = issued.map(({ id }, i): [number, number] => [id, 5000 + i]);

    const recorder = new WhmcsIdRecorder(ctx.core.db);
    recorder.add(pairs.slice(0, 20));
    // Not started (promoset's batch not committed yet): held, not written, and still step 3's.
    expect(await recorder.unrecorded(pairs)).toEqual(pairs);
    expect([...(await whmcsIdOf()).values()].every((id) => id === null)).toBe(true);

    recorder.start();
    recorder.add(pairs.slice(20, 40));
    const left = await recorder.unrecorded(pairs);
    expect(left).toEqual(pairs.slice(40));
    const stored = await whmcsIdOf();
    for (const [promotionId, whmcsId] of pairs.slice(0, 40)) expect(stored.get(promotionId)).toBe(whmcsId);
    for (const [promotionId] of left) expect(stored.get(promotionId)).toBeNull();
  });
});
