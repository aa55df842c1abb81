import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { generatePromotion } from '../../src/service/generate.js';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, type Reply } from './helpers.js';

/**
 * Single-code POSTs that arrive together are written together (group commit);
 * over real HTTP each must still get exactly its own promotion, batch and
 * terms, and a bad request in the burst must get its own 400 and nothing else.
 */
describeEachDialect('a burst of set-URL POSTs', (dialect) => {
  const ctx = useTestDatabase(dialect);
  let service: TestService;
  let set: PromoSet;

  beforeAll(async () => {
    service = await startTestService({ DATABASE_URL: ctx.database.url, RATE_LIMIT_PER_MINUTE: '0' });
    set = await makeSet(service);
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('200 concurrent POSTs (one invalid) plus 50 Slack-like service calls: 249 distinct promotions, each batch with its own actor and terms, one 400', async () => {
    const url = localSetUrl(service, set);
    const invalidAt = 117;
    const posts: Promise<Reply>[] = Array.from({ length: 200 }, (_, i) =>
      postForm(url, i === invalidAt ? 'value=lots' : new URLSearchParams({ notes: `post ${i}`, value: String((i % 90) + 1) }).toString()),
    );
    const others = Array.from({ length: 50 }, (_, i) => generatePromotion(service.core, set, { notes: `slack ${i}` }, `slack:U${i}`));
    const [replies, issued] = await Promise.all([Promise.all(posts), Promise.all(others)]);

    const bad = replies[invalidAt];
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ result: 'error', code: 'validation_failed' });
    expect(Object.keys(bad.json.fields)).toEqual(['value']);

    const good = replies.filter((_, i) => i !== invalidAt);
    for (const reply of good) expect(reply.status, reply.text).toBe(200);
    replies.forEach((reply, i) => {
      if (i === invalidAt) return;
      expect(reply.json.notes).toBe(`post ${i}`);
      expect(reply.json.value).toBe(`${(i % 90) + 1}.00`);
    });
    const all = [...good.map((r) => ({ id: r.json.id as number, code: r.json.code as string })), ...issued.map((p) => ({ id: p.id, code: p.code }))];
    expect(new Set(all.map((p) => p.id)).size).toBe(249);
    expect(new Set(all.map((p) => p.code.toLowerCase())).size).toBe(249);

    const rows = await service.core.db
      .selectFrom('promotions')
      .innerJoin('batches', 'batches.id', 'promotions.batch_id')
      .select(['promotions.id', 'promotions.code', 'batches.created_by', 'batches.notes', 'batches.value', 'batches.kind'])
      .where('promotions.set_id', '=', set.id)
      .execute();
    expect(rows).toHaveLength(249);
    const byId = new Map(rows.map((r) => [Number(r.id), r]));
    replies.forEach((reply, i) => {
      if (i === invalidAt) return;
      expect(byId.get(reply.json.id)).toMatchObject({ code: reply.json.code, created_by: 'http:127.0.0.1', notes: `post ${i}`, value: `${(i % 90) + 1}.00`, kind: 'single' });
    });
    issued.forEach((promotion, i) => {
      expect(byId.get(promotion.id)).toMatchObject({ code: promotion.code, created_by: `slack:U${i}`, notes: `slack ${i}`, kind: 'single' });
    });
    const batches = await service.core.db.selectFrom('batches').select('id').where('set_id', '=', set.id).execute();
    expect(batches).toHaveLength(249);
  });
});
