import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { claimIdempotencyKey, completeIdempotencyKey, deleteIdempotencyKeysOverLimit } from '../../src/store/idempotency.js';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, postJson } from './helpers.js';

const LIMIT = 20;

/** Issue 28, item 3: refused redemptions with fresh Idempotency-Keys cannot fill the disk. */
describeEachDialect('a flood of refused redemptions', (dialect) => {
  const ctx = useTestDatabase(dialect);
  let service: TestService;
  beforeAll(async () => {
    // PostgreSQL counts per calendar minute: a clock that starts a minute afresh keeps the whole flood in one window.
    const startedAt = Date.now();
    const minuteStart = Math.ceil(startedAt / 60_000) * 60_000;
    const now = () => new Date(minuteStart + (Date.now() - startedAt));
    service = await startTestService({ DATABASE_URL: ctx.database.url, REDEMPTION_RATE_LIMIT_PER_MINUTE: String(LIMIT), RATE_LIMIT_PER_MINUTE: '0' }, { now });
  });
  afterAll(() => service?.stop());

  const storedKeys = async (setId: number) =>
    Number((await service.core.db.selectFrom('idempotency_keys').select((eb) => eb.fn.countAll<number | string>().as('n')).where('set_id', '=', setId).executeTakeFirstOrThrow()).n);

  it(`is limited per client (REDEMPTION_RATE_LIMIT_PER_MINUTE=${LIMIT}): 429 with Retry-After, and no key stored for the refused-by-limit ones`, async () => {
    const set = await makeSet(service, { max_uses: 1 });
    const code = (await postForm(localSetUrl(service, set), '')).json.code as string;
    const url = `${localSetUrl(service, set)}/redemptions`;
    expect((await postJson(url, { code })).status).toBe(200);
    const statuses: number[] = [];
    let retryAfter = '';
    for (let i = 0; i < LIMIT * 3; i++) {
      const reply = await postJson(url, { code }, { 'idempotency-key': randomUUID() });
      statuses.push(reply.status);
      if (reply.status === 429) retryAfter = reply.headers['retry-after'] as string;
    }
    // The first redemption used one of the minute's LIMIT; the refusals (used up) took the rest.
    expect(statuses.filter((s) => s === 409)).toHaveLength(LIMIT - 1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(LIMIT * 3 - (LIMIT - 1));
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(await storedKeys(set.id)).toBe(LIMIT - 1);
    // Validation counts against the same allowance.
    expect((await fetch(`${localSetUrl(service, set)}/promotions/${code}`)).status).toBe(429);
  });

  it('stored keys are bounded per set: the newest are kept, pending claims untouched', async () => {
    const set = await makeSet(service);
    const db = service.core.db;
    for (let i = 0; i < 30; i++) {
      const key = `k-${String(i).padStart(2, '0')}`;
      await claimIdempotencyKey(db, { setId: set.id, key, fingerprint: 'f', format: null, now: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() });
      if (i !== 3) await completeIdempotencyKey(db, set.id, key, { status: 409, body: '{}' });
    }
    // (The first test's set holds 19 keys: under the bound, untouched.)
    expect(await deleteIdempotencyKeysOverLimit(db, 20)).toBe(9);
    const left = (await db.selectFrom('idempotency_keys').select('key').where('set_id', '=', set.id).orderBy('key').execute()).map((r) => r.key);
    expect(left).toEqual(['k-03', ...Array.from({ length: 20 }, (_, i) => `k-${10 + i}`)]);
  });
});
