import { expect, it, vi } from 'vitest';
import { PromoError } from '../../src/domain/errors.js';
import type { PromotionTerms } from '../../src/domain/promotion.js';
import { countPromotions } from '../../src/store/promotions.js';
import { insertBatch } from '../../src/store/batches.js';
import { insertCodes } from '../../src/store/promotion-inserts.js';
import type { Core } from '../../src/service/core.js';
import { generatePromotion, generatePromotions } from '../../src/service/generate.js';
import { listPromotions } from '../../src/service/promotions.js';
import { archiveSet, createSet } from '../../src/service/sets.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';

// Wrap the repository's insert so the test can see regeneration rounds happen.
vi.mock('../../src/store/promotion-inserts.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/store/promotion-inserts.js')>();
  return { ...actual, insertCodes: vi.fn(actual.insertCodes) };
});

async function counts(core: Core) {
  const batches = await core.db.selectFrom('batches').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
  return { promotions: await countPromotions(core.db), batches: Number(batches.n) };
}

async function refusal(work: Promise<unknown>): Promise<PromoError> {
  const error = await work.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof PromoError)) throw new Error(`expected a PromoError, got ${String(error)}`);
  return error;
}

describeEachDialect('generating promotions', (dialect) => {
  const ctx = useTestCore(dialect);
  let setNumber = 0;
  const newSet = (fields: Record<string, unknown> = {}) => createSet(ctx.core, { name: `set ${++setNumber}`, ...fields }, 'cli:test');

  it('feasibility: asking for 6,000 4-digit numeric codes is refused with code_space_exhausted, and nothing is written', async () => {
    const set = await newSet({ code_alphabet: 'numeric', code_length: 4 });
    const before = await counts(ctx.core);
    const error = await refusal(generatePromotions(ctx.core, set, { amount: 6000 }, 'cli:test'));
    expect(error.code).toBe('code_space_exhausted');
    expect(error.message).toContain('room for 5,000 more, and 6,000 were requested');
    expect(await counts(ctx.core)).toEqual(before);
    // The space left is counted across sets: after 3,000 from another set, 3,501 more are refused.
    const other = await newSet({ code_alphabet: 'numeric', code_length: 4 });
    expect((await generatePromotions(ctx.core, other, { amount: 3000 }, 'cli:test')).count).toBe(3000);
    expect((await refusal(generatePromotions(ctx.core, set, { amount: 3501 }, 'cli:test'))).code).toBe('code_space_exhausted');
    expect((await counts(ctx.core)).promotions).toBe(before.promotions + 3000);
  });

  it('collisions: in a tiny space, colliding codes are regenerated, and codes of another set are never issued again in any letter case', async () => {
    // 3-character default codes: 26^3 = 17,576. Another set already holds 8,000 of them, stored in lower case.
    const space = 26 ** 3;
    const owner = await newSet({ code_length: 3 });
    const taken: string[] = [];
    const alphabet = '23456789BCDFGHJKMNPQRSTWXZ';
    for (let i = 0; taken.length < 8000; i += 2) {
      taken.push((alphabet[Math.floor(i / 676) % 26] + alphabet[Math.floor(i / 26) % 26] + alphabet[i % 26]).toLowerCase());
    }
    const terms = { type: 'Percentage', recurring: 0, value: '10.00', cycles: '', appliesto: '', requires: '', requiresexisting: 0, startdate: '0000-00-00', expirationdate: '0000-00-00', maxuses: 1, lifetimepromo: 0, applyonce: 0, newsignups: 0, existingclient: 0, onceperclient: 0, recurfor: 0, upgrades: 0, upgradeconfig: '', notes: '' } satisfies PromotionTerms;
    const batchId = await insertBatch(ctx.core.db, { set_id: owner.id, kind: 'bulk', count: taken.length, prefix_key: '', code_length: 3, code_alphabet: 'default', created_by: 'cli:test', created_at: new Date().toISOString(), terms });
    expect(await insertCodes(ctx.core.db, owner.id, batchId, taken)).toHaveLength(8000);
    // The unique index itself refuses the upper-case form.
    expect(await insertCodes(ctx.core.db, owner.id, batchId, [taken[0].toUpperCase()])).toEqual([]);

    const set = await newSet({ code_length: 3 });
    const insertSpy = vi.mocked(insertCodes);
    insertSpy.mockClear();
    const amount = 4000; // room is (17,576 - 8,000) / 2 = 4,788
    const result = await generatePromotions(ctx.core, set, { amount }, 'cli:test');
    expect(result.count).toBe(amount);

    // Each chunk of 2,000 is tried, then about 45% of it again, and so on: many more codes tried than kept.
    const tried = insertSpy.mock.calls.reduce((sum, call) => sum + call[3].length, 0);
    expect(insertSpy.mock.calls.length).toBeGreaterThan(2);
    expect(tried).toBeGreaterThan(amount * 1.3);

    const stored = await listPromotions(ctx.core, { batchId: result.batchId });
    // What the caller is answered with is what was stored, ids included, though many INSERTs skipped collided rows.
    expect(result.issued).toEqual(stored.map((p) => ({ id: p.id, code: p.code })));
    const issued = stored.map((p) => p.code);
    expect(issued).toHaveLength(amount);
    expect(new Set(issued.map((c) => c.toLowerCase())).size).toBe(amount);
    const takenSet = new Set(taken);
    expect(issued.filter((code) => takenSet.has(code.toLowerCase()))).toEqual([]);
    for (const code of issued) expect(code).toMatch(/^[23456789BCDFGHJKMNPQRSTWXZ]{3}$/);
    expect(await countPromotions(ctx.core.db)).toBeLessThanOrEqual(space);
  });

  it('atomicity: a failure in the middle of a batch leaves no codes and no batch', async () => {
    const set = await newSet();
    const before = await counts(ctx.core);
    const progress: number[] = [];
    const failure = await generatePromotions(ctx.core, set, { amount: 7000 }, 'cli:test', {
      onProgress: (done) => {
        progress.push(done);
        if (done >= 4000) throw new Error('disk on fire');
      },
    }).then(() => undefined, (e: unknown) => e);
    expect((failure as Error).message).toBe('disk on fire');
    // It failed after 4,000 codes were inserted inside the transaction: none of them survive.
    expect(progress).toEqual([2000, 4000]);
    expect(await counts(ctx.core)).toEqual(before);
    // And the database is fine afterwards.
    expect((await generatePromotions(ctx.core, set, { amount: 10 }, 'cli:test')).count).toBe(10);
  });

  it('a batch goes in in one order of the unique key (deadlock avoidance), though its codes are made and sorted a slice at a time', async () => {
    // Alphanumeric lists letters before digits; the key orders digits first. 12,000 codes are several slices.
    const set = await newSet();
    const result = await generatePromotions(ctx.core, set, { amount: 12_000, code_prefix: 'Mixed.Case', code_type: 'alphanumeric', code_length: 6 }, 'cli:test');
    const codes = (await listPromotions(ctx.core, { batchId: result.batchId })).map((p) => p.code.toLowerCase());
    expect(codes).toHaveLength(12_000);
    // listPromotions is in id order, which is insertion order: each code's key is above the one before.
    const outOfOrder = codes.filter((code, i) => i > 0 && !(codes[i - 1] < code));
    expect(outOfOrder).toEqual([]);
    expect(result.issued.map((row) => row.code.toLowerCase())).toEqual(codes);
  });

  it('a batch stores its terms once and every code of it carries them', async () => {
    const set = await newSet({ promo_code_type: 'Fixed Amount', promo_value: '12.5', cycles: 'Monthly,Annually', applies_to: '1,A2,D.com' });
    const result = await generatePromotions(ctx.core, set, { amount: 2500, code_prefix: 'Spring', code_type: 'alphanumeric', code_length: 10, notes: 'bulk' }, 'slack:U123');
    const promotions = await listPromotions(ctx.core, { batchId: result.batchId });
    expect(promotions).toHaveLength(2500);
    for (const p of promotions) {
      expect(p.code).toMatch(/^Spring-[A-Z0-9]{10}$/);
      expect(p).toMatchObject({ type: 'Fixed Amount', value: '12.50', cycles: 'Monthly,Annually', appliesto: '1,A2,D.com', notes: 'bulk', uses: 0, recurring: 0 });
      expect(typeof p.id).toBe('number');
      expect(typeof p.maxuses).toBe('number');
    }
  });

  it('one code at a time: overrides are validated with the seed sentences, archived sets refuse', async () => {
    const set = await newSet();
    const pastError = await refusal(generatePromotion(ctx.core, set, { expiry_date: '2001-01-01' }, 'http:203.0.113.7'));
    expect(pastError.fields).toEqual({ expiry_date: 'The expiry date must be a date in the future.' });
    const orderError = await refusal(generatePromotion(ctx.core, set, { start_date: '2099-02-01', expiry_date: '2099-01-01' }, 'http:203.0.113.7'));
    expect(orderError.fields).toEqual({ expiry_date: 'The expiry date must be later than the start date.' });
    const promotion = await generatePromotion(ctx.core, set, { name: 'partner', value: '15' }, 'http:203.0.113.7');
    expect(promotion.code).toMatch(/^partner-[23456789BCDFGHJKMNPQRSTWXZ]{8}$/);
    expect(promotion.value).toBe('15.00');
    await archiveSet(ctx.core, set.id, 'cli:test');
    const archivedError = await refusal(generatePromotion(ctx.core, { ...set, archived_at: new Date().toISOString() }, {}, 'http:203.0.113.7'));
    expect(archivedError.code).toBe('conflict');
  });
});
