import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm } from './helpers.js';

/** Issue 28, item 2: one set cannot use up another's codes, and feasibility is exact. */
describeEachDialect('code spaces over set URLs', (dialect) => {
  const ctx = useTestDatabase(dialect);
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ DATABASE_URL: ctx.database.url, RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(() => service?.stop());

  const bulk = (url: string, fields: Record<string, string>) => postForm(`${url}/codes`, new URLSearchParams(fields).toString());

  it("set A's URL cannot issue under set B's prefix: 409, and B keeps all of its space", async () => {
    const b = await makeSet(service, { code_prefix: 'VIP', code_length: 3, code_alphabet: 'numeric' });
    const a = await makeSet(service);
    const own = await postForm(localSetUrl(service, b), '');
    expect(own.status).toBe(200);
    expect(own.json.code).toMatch(/^VIP-\d{3}$/);
    for (const prefix of ['VIP', 'vip', 'Vip']) {
      const stolen = await bulk(localSetUrl(service, a), { amount: '100', code_prefix: prefix, code_length: '3', code_type: 'numeric' });
      expect(stolen.status).toBe(409);
      expect(stolen.json).toMatchObject({ result: 'error', code: 'conflict', fields: { code_prefix: 'This prefix and length belong to another set.' } });
    }
    // As a single-code prefix (name=) too, when A's own length makes the space small.
    const small = await makeSet(service, { code_length: 3, code_alphabet: 'numeric' });
    expect((await postForm(localSetUrl(service, small), 'name=VIP')).status).toBe(409);
    // B can still fill its own space to the brim: up to 499 more of its 999 left.
    const mine = await bulk(localSetUrl(service, b), { amount: '499' });
    expect(mine.status, mine.text).toBe(200);
    expect(mine.json.count).toBe(499);
  });

  it('a space filled to the brim, each request the most feasibility allows: every admitted request succeeds, then 422 code_space_exhausted', async () => {
    const set = await makeSet(service, { code_prefix: 'BRIM', code_length: 3, code_alphabet: 'numeric' });
    const url = localSetUrl(service, set);
    let used = 0;
    const statuses: number[] = [];
    for (;;) {
      const allowed = Math.floor((1000 - used) / 2);
      if (allowed < 4) break;
      const reply = await bulk(url, { amount: String(allowed) });
      statuses.push(reply.status);
      expect(reply.status, reply.text).toBe(200);
      used += allowed;
    }
    // Then single codes, one at a time, each admitted while it leaves as many free as it takes.
    while (Math.floor((1000 - used) / 2) > 0) {
      const reply = await postForm(url, '');
      expect(reply.status, reply.text).toBe(200);
      used++;
    }
    expect(used).toBe(999);
    const full = await bulk(url, { amount: '1' });
    expect(full.status).toBe(422);
    expect(full.json.code).toBe('code_space_exhausted');
    const single = await postForm(url, '');
    expect(single.status).toBe(422);
    expect(single.json.code).toBe('code_space_exhausted');
  });

  it('8 concurrent bulk requests in one space: those feasibility admits all succeed, the rest get 422, none a 5xx', async () => {
    const set = await makeSet(service, { code_prefix: 'EIGHT', code_length: 3, code_alphabet: 'numeric' });
    const url = localSetUrl(service, set);
    const replies = await Promise.all(Array.from({ length: 8 }, () => bulk(url, { amount: '200' })));
    const statuses = replies.map((r) => r.status).sort();
    // One at a time, 200 codes fit while they are at most half of what is left: after 0, 200, 400 and 600 used; not after 800.
    expect(statuses).toEqual([200, 200, 200, 200, 422, 422, 422, 422]);
    const codes = replies.filter((r) => r.status === 200).flatMap((r) => (r.json.promotions as { code: string }[]).map((p) => p.code));
    expect(new Set(codes).size).toBe(800);
  });
});
