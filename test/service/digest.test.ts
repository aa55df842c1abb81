import { expect, it } from 'vitest';
import { generatePromotion, generatePromotions } from '../../src/service/generate.js';
import { buildDigest, duePeriod } from '../../src/service/digests.js';
import { redeemPromotion } from '../../src/service/redemptions.js';
import { archiveSet, createSet } from '../../src/service/sets.js';
import { digestMessage } from '../../src/slack/charts.js';
import { checkPayload } from '../support/block-kit-limits.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';

describeEachDialect('digest content and alerts', (dialect) => {
  let clock = new Date('2026-11-10T10:00:00Z');
  const ctx = useTestCore(dialect, { now: () => clock });

  it('lists every live set and alerts on expiry within 7 days, codes at 90% of max uses, and batches idle after 14 days', async () => {
    const core = ctx.core;
    // 2026-11-10: a bulk batch nobody redeems, and one that gets a redemption.
    const idle = await createSet(core, { name: 'Idle Batch Set', promo_value: '10' }, 'test');
    const idleBatch = await generatePromotions(core, idle, { amount: 30 }, 'test');
    const busy = await createSet(core, { name: 'Busy Set', promo_value: '10', max_uses: 10 }, 'test');
    await generatePromotions(core, busy, { amount: 5 }, 'test');
    clock = new Date('2026-11-30T10:00:00Z');
    const expiring = await createSet(core, { name: 'Ending Soon', promo_value: '10', expiration_date: '2026-12-05' }, 'test');
    const hot = await generatePromotion(core, busy, {}, 'test');
    for (let i = 0; i < 9; i++) await redeemPromotion(core, busy, { code: hot.code }, 'test');
    const warm = await generatePromotion(core, busy, {}, 'test');
    for (let i = 0; i < 8; i++) await redeemPromotion(core, busy, { code: warm.code }, 'test');
    const gone = await createSet(core, { name: 'Archived Set', promo_value: '10' }, 'test');
    await archiveSet(core, gone.id, 'test');

    const digest = await buildDigest(core, 'weekly', '2026-11-30');
    expect(digest.sets.map((s) => s.set.name).sort()).toEqual(['Busy Set', 'Ending Soon', 'Idle Batch Set']);
    expect(digest.sets.find((s) => s.set.id === busy.id)!.period).toEqual({ issued: 2, redeemed: 17, voided: 0, rolled_back: 0 });
    expect(digest.expiring.map((e) => [e.set.id, e.expires, e.daysLeft])).toEqual([[expiring.id, '2026-12-05', 5]]);
    expect(digest.nearlyUsedUp.map((c) => [c.code, c.uses, c.maxUses])).toEqual([[hot.code, 9, 10]]);
    // The busy set's first batch is 20 days old without redemptions too; the idle one is.
    expect(digest.idleBatches.map((b) => b.batchId)).toContain(idleBatch.batchId);
    expect(digest.idleBatches.every((b) => b.createdAt.startsWith('2026-11-10'))).toBe(true);
    expect(digest.combined).toHaveLength(30);
    expect(digest.combined.reduce((n, d) => n + d.issued, 0)).toBe(37);

    const message = digestMessage(digest, { fileId: 'F00000001', altText: 'chart', title: 'All live sets', drawn: true });
    expect(checkPayload('chat.postMessage', { channel: 'C1', ...message }) ?? []).toEqual([]);
    const text = JSON.stringify(message.blocks);
    expect(text).toContain('*Ending Soon* expires in 5 days (2026-12-05)');
    expect(text).toContain(`is at 9 of 10 uses`);
    expect(text).toContain(`Batch ${idleBatch.batchId} of *Idle Batch Set* (30 codes, 2026-11-10) has no redemption after 14 days`);
  });
});

it('due periods: the last scheduled hour at or before now, daily and weekly (Mondays), in the time zone', () => {
  expect(duePeriod('daily', new Date('2026-12-03T08:59:59Z'), 'UTC', 9)).toBe('2026-12-02');
  expect(duePeriod('daily', new Date('2026-12-03T09:00:00Z'), 'UTC', 9)).toBe('2026-12-03');
  // 08:30 UTC is 09:30 in Berlin.
  expect(duePeriod('daily', new Date('2026-12-03T08:30:00Z'), 'Europe/Berlin', 9)).toBe('2026-12-03');
  // 2026-11-30 is a Monday.
  expect(duePeriod('weekly', new Date('2026-12-03T12:00:00Z'), 'UTC', 9)).toBe('2026-11-30');
  expect(duePeriod('weekly', new Date('2026-11-30T08:00:00Z'), 'UTC', 9)).toBe('2026-11-23');
  expect(duePeriod('weekly', new Date('2026-11-30T09:00:00Z'), 'UTC', 9)).toBe('2026-11-30');
});
