import { execFileSync, spawnSync } from 'node:child_process';
import { serialize, unserialize } from 'php-serialize';
import { describe, expect, it } from 'vitest';
import { toSetResponse } from '../../src/domain/set.js';
import { generatePromotion } from '../../src/service/generate.js';
import { findPromotionByCode } from '../../src/service/promotions.js';
import { createSet } from '../../src/service/sets.js';
import { setToken } from '../../src/service/set-urls.js';
import { SEED_001_GET, SEED_001_POST_BARE, SEED_001_POST_FIELDS, SEED_001_POST_WITH_FIELDS, SEED_UPGRADECONFIG } from '../fixtures/seed-001.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';

/** The set as a person would enter it: seed 001's GET shape minus what the server assigns. */
function seedSetInput(): Record<string, unknown> {
  const { id: _id, api_key: _key, url: _url, ...fields } = structuredClone(SEED_001_GET) as Record<string, unknown>;
  // The seed's code XABKKA has a 6-character random part.
  return { ...fields, code_length: 6 };
}

const withoutVolatile = ({ id: _i, code: _c, uses: _u, startdate: _s, expirationdate: _e, ...rest }: { id: number; code: string; uses: number; startdate: string; expirationdate: string }) => rest;

const hasPhp = spawnSync('php', ['--version'], { stdio: 'ignore' }).status === 0;

describeEachDialect('seed 001: a set built from the GET example generates the POST examples', (dialect) => {
  // The seed's dates are in 2024: "today" is set before them so they are in the future.
  const ctx = useTestCore(dialect, { now: () => new Date('2023-12-15T12:00:00Z') });

  it('the set reads back in the seed GET shape, field for field', async () => {
    const set = await createSet(ctx.core, seedSetInput(), 'cli:test');
    const response = toSetResponse(set, setToken(ctx.core, set));
    const { id: _i, api_key: _k, url: _u, ...expected } = SEED_001_GET;
    const { id, api_key, url, ...actual } = response;
    expect(actual).toEqual(expected);
    expect(Object.keys(response)).toEqual(Object.keys(SEED_001_GET));
    expect(id).toBe(set.id);
    expect(api_key).toMatch(/^[A-Z0-9]{25}$/);
    expect(url).toMatch(new RegExp(`^${api_key}-${id}-[0-9a-f]{32}$`));
  });

  it('a bare POST equals the first POST example in every field but id, code, uses and dates', async () => {
    const set = await createSet(ctx.core, { ...seedSetInput(), name: 'seed bare' }, 'cli:test');
    const promotion = await generatePromotion(ctx.core, set, {}, 'http:203.0.113.7');

    expect(Object.keys(promotion)).toEqual(Object.keys(SEED_001_POST_BARE));
    expect(withoutVolatile(promotion)).toEqual(withoutVolatile(SEED_001_POST_BARE));
    expect(promotion.upgradeconfig).toBe(SEED_001_POST_BARE.upgradeconfig);
    // The remaining fields: shapes and the set's own dates.
    expect(promotion.code).toMatch(/^[23456789BCDFGHJKMNPQRSTWXZ]{6}$/);
    expect(promotion.uses).toBe(0);
    expect(promotion.startdate).toBe('2024-01-01');
    expect(promotion.expirationdate).toBe('2024-01-27');
    expect(Number.isInteger(promotion.id) && promotion.id > 0).toBe(true);
    // And it was stored, findable in another letter case.
    const stored = await findPromotionByCode(ctx.core, promotion.code.toLowerCase());
    expect(stored?.id).toBe(promotion.id);
    expect(stored?.upgradeconfig).toBe(SEED_UPGRADECONFIG);
  });

  it('a POST with the seed fields equals the second POST example, prefix joined with "-"', async () => {
    const set = await createSet(ctx.core, { ...seedSetInput(), name: 'seed fields' }, 'cli:test');
    const promotion = await generatePromotion(ctx.core, set, SEED_001_POST_FIELDS, 'http:203.0.113.7');
    expect(withoutVolatile(promotion)).toEqual(withoutVolatile(SEED_001_POST_WITH_FIELDS));
    expect(promotion.code).toMatch(/^puqcloud\.com-[23456789BCDFGHJKMNPQRSTWXZ]{6}$/);
    expect(promotion.startdate).toBe(SEED_001_POST_WITH_FIELDS.startdate);
    expect(promotion.expirationdate).toBe(SEED_001_POST_WITH_FIELDS.expirationdate);
  });
});

describe('upgradeconfig is PHP-serialized, byte for byte', () => {
  it('reads back with php-serialize and re-serializes to the seed bytes', () => {
    const decoded = unserialize(SEED_UPGRADECONFIG) as Record<string, unknown>;
    expect(decoded).toEqual({ value: '11', type: 'product', discounttype: 'Percentage', configoptions: ['11', '13'] });
    expect(Buffer.from(serialize(decoded)).equals(Buffer.from(SEED_UPGRADECONFIG))).toBe(true);
  });

  it.skipIf(!hasPhp)('PHP unserialize() reads it back (only where php is installed)', () => {
    const dumped = execFileSync('php', ['-r', 'echo json_encode(unserialize(stream_get_contents(STDIN)));'], { input: SEED_UPGRADECONFIG }).toString();
    expect(JSON.parse(dumped)).toEqual({ value: '11', type: 'product', discounttype: 'Percentage', configoptions: ['11', '13'] });
  });
});
