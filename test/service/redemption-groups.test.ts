import { expect, it, vi } from 'vitest';
import { generatePromotion, generatePromotions } from '../../src/service/generate.js';
import { listPromotions } from '../../src/service/promotions.js';
import { redeemPromotion } from '../../src/service/redemptions.js';
import { createSet, getSet } from '../../src/service/sets.js';
import { redeemInPostgres } from '../../src/store/redemptions-postgres.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';

// Which form each PostgreSQL group took: `alone` (one autocommit statement) or in a transaction.
vi.mock('../../src/store/redemptions-postgres.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/store/redemptions-postgres.js')>();
  return { ...actual, redeemInPostgres: vi.fn(actual.redeemInPostgres) };
});
const groupsRun = (alone: boolean) => vi.mocked(redeemInPostgres).mock.calls.filter((call) => call[2] === alone).map((call) => call[1].length);

/**
 * Redemptions that share a group commit: on PostgreSQL a group whose sets
 * have no webhook is one autocommit statement, a group with a webhook set a
 * transaction (migration 020). Either way each member gets its own outcome,
 * a bound code's customer decides, and an event exists exactly when a use does.
 */
describeEachDialect('redemptions sharing a group', (dialect) => {
  const ctx = useTestCore(dialect);
  let setNumber = 0;
  const newSet = (fields: Record<string, unknown> = {}) => createSet(ctx.core, { name: `redeem group ${++setNumber}`, promo_value: '5', ...fields }, 'test');
  const usesOf = async (code: string) => Number((await ctx.core.db.selectFrom('promotions').select('uses').where('code', '=', code).executeTakeFirstOrThrow()).uses);
  const redemptionsOf = async (code: string) =>
    (await ctx.core.db.selectFrom('redemptions').innerJoin('promotions', 'promotions.id', 'redemptions.promotion_id').select('redemptions.id').where('promotions.code', '=', code).execute()).length;

  it('free and bound codes in the same groups: the right customer counts, the wrong one is refused and leaves nothing', async () => {
    const set = await newSet({ max_uses: 0 });
    const free = (await listPromotions(ctx.core, { batchId: (await generatePromotions(ctx.core, set, { amount: 1 }, 'test')).batchId }))[0].code;
    const bound = (await generatePromotion(ctx.core, set, { client_id: '42' }, 'test')).code;
    vi.mocked(redeemInPostgres).mockClear();
    const requests = Array.from({ length: 60 }, (_, i) =>
      i % 3 === 0 ? { code: free } : i % 3 === 1 ? { code: bound, client_id: '42' } : { code: bound.toLowerCase(), client_id: '7' });
    const outcomes = await Promise.allSettled(requests.map((input) => redeemPromotion(ctx.core, set, input, 'test', { setMayBeStale: true })));
    outcomes.forEach((outcome, i) => {
      if (i % 3 === 2) expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'promotion_bound_to_other_client' } });
      else expect(outcome.status).toBe('fulfilled');
    });
    expect([await usesOf(free), await redemptionsOf(free)]).toEqual([20, 20]);
    expect([await usesOf(bound), await redemptionsOf(bound)]).toEqual([20, 20]);
    if (dialect === 'postgres') {
      // Groups of several in one statement; each bound member then again on its own, in a transaction.
      expect(Math.max(...groupsRun(true))).toBeGreaterThan(1);
      expect(groupsRun(false)).toEqual(Array(40).fill(1));
    }
  });

  it('a webhook set and a quiet one in the same groups: one promotion.redeemed per use counted, none for refusals or the quiet set', async () => {
    const quiet = await newSet({ max_uses: 5 });
    const hookedRow = await newSet({ max_uses: 5 });
    await ctx.core.db.updateTable('promo_sets').set({ webhook_url: 'https://shop.example.com/hooks' }).where('id', '=', hookedRow.id).execute();
    const hooked = await getSet(ctx.core, hookedRow.id);
    const quietCode = (await listPromotions(ctx.core, { batchId: (await generatePromotions(ctx.core, quiet, { amount: 1 }, 'test')).batchId }))[0].code;
    const hookedCode = (await listPromotions(ctx.core, { batchId: (await generatePromotions(ctx.core, hooked, { amount: 1 }, 'test')).batchId }))[0].code;
    vi.mocked(redeemInPostgres).mockClear();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? redeemPromotion(ctx.core, hooked, { code: hookedCode }, 'test') : redeemPromotion(ctx.core, quiet, { code: quietCode }, 'test'))),
    );
    const succeeded = (set: number) => outcomes.filter((o, i) => i % 2 === set && o.status === 'fulfilled').map((o) => (o as PromiseFulfilledResult<{ redemption_id: number }>).value.redemption_id);
    expect(succeeded(0)).toHaveLength(5);
    expect(succeeded(1)).toHaveLength(5);
    outcomes.filter((o) => o.status === 'rejected').forEach((o) => expect(o).toMatchObject({ reason: { code: 'promotion_used_up' } }));
    expect([await usesOf(hookedCode), await usesOf(quietCode)]).toEqual([5, 5]);
    const events = await ctx.core.db.selectFrom('webhook_events').select(['set_id', 'body']).where('type', '=', 'promotion.redeemed').execute();
    expect(events.map((e) => Number(e.set_id))).toEqual(Array(5).fill(hooked.id));
    expect(events.map((e) => JSON.parse(e.body).data.redemption_id).sort()).toEqual(succeeded(0).sort());
    // A group with a webhook set in it is a transaction (its events are written in it).
    if (dialect === 'postgres') expect(Math.max(...groupsRun(false))).toBeGreaterThan(1);
  });

  it('once per client and refusals among successes: each member gets its own answer', async () => {
    const set = await newSet({ max_uses: 0 });
    const once = await newSet({ max_uses: 0, once_per_client: 1 });
    const code = (await listPromotions(ctx.core, { batchId: (await generatePromotions(ctx.core, set, { amount: 1 }, 'test')).batchId }))[0].code;
    const onceBatch = await generatePromotions(ctx.core, once, { amount: 1 }, 'test');
    const onceCode = (await listPromotions(ctx.core, { batchId: onceBatch.batchId }))[0].code;
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 10 }, () => redeemPromotion(ctx.core, set, { code }, 'test')),
      ...Array.from({ length: 10 }, () => redeemPromotion(ctx.core, once, { code: onceCode, client_id: '9' }, 'test')),
      redeemPromotion(ctx.core, once, { code: onceCode }, 'test'),
      redeemPromotion(ctx.core, set, { code: 'NO-SUCH-CODE' }, 'test'),
    ]);
    expect(outcomes.slice(0, 10).every((o) => o.status === 'fulfilled')).toBe(true);
    expect(outcomes.slice(10, 20).filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    outcomes.slice(10, 20).filter((o) => o.status === 'rejected').forEach((o) => expect(o).toMatchObject({ reason: { code: 'promotion_already_redeemed_by_client' } }));
    expect(outcomes[20]).toMatchObject({ status: 'rejected', reason: { fields: { client_id: expect.stringContaining('once per client') } } });
    expect(outcomes[21]).toMatchObject({ status: 'rejected', reason: { code: 'promotion_not_found', message: expect.stringContaining('NO-SUCH-CODE') } });
    expect([await usesOf(code), await redemptionsOf(code)]).toEqual([10, 10]);
    expect([await usesOf(onceCode), await redemptionsOf(onceCode)]).toEqual([1, 1]);
  });

  it('an autocommit statement whose answer is lost (it did commit): its members fail, and are not counted a second time', async () => {
    const set = await newSet({ max_uses: 0 });
    const code = (await listPromotions(ctx.core, { batchId: (await generatePromotions(ctx.core, set, { amount: 1 }, 'test')).batchId }))[0].code;
    const actual = vi.mocked(redeemInPostgres).getMockImplementation()!;
    if (dialect === 'postgres')
      vi.mocked(redeemInPostgres).mockImplementationOnce(async (...args) => {
        await actual(...args);
        throw new Error('Connection terminated unexpectedly');
      });
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => redeemPromotion(ctx.core, set, { code }, 'test')));
    const failed = outcomes.filter((o) => o.status === 'rejected');
    expect([await usesOf(code), await redemptionsOf(code)]).toEqual([5, 5]);
    expect(failed.length > 0).toBe(dialect === 'postgres');
    failed.forEach((o) => expect(o).toMatchObject({ reason: { code: 'outcome_unknown', status: 503, retryAfterSeconds: 5 } }));
  });
});
