import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { requestFingerprint, requestKeyFor } from '../../src/service/idempotency.js';
import { generatePromotion, generatePromotions } from '../../src/service/generate.js';
import { claimIdempotencyKey } from '../../src/store/idempotency.js';
import { countPromotions } from '../../src/store/promotions.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, postJson, rawRequest } from './helpers.js';

const CSV_HEADER = 'id,code,type,value,startdate,expirationdate,maxuses,uses,notes,voided';

async function storedCodes(service: TestService, batchId: number): Promise<string[]> {
  const rows = await service.core.db.selectFrom('promotions').select('code').where('batch_id', '=', batchId).execute();
  return rows.map((r) => r.code);
}

describe('bulk codes: POST {set URL}/codes', () => {
  let service: TestService;
  let set: PromoSet;
  let url: string;

  beforeAll(async () => {
    service = await startTestService({ RATE_LIMIT_PER_MINUTE: '0' });
    set = await makeSet(service, { promo_code_type: 'Fixed Amount', promo_value: '5' });
    url = localSetUrl(service, set);
  });
  afterAll(() => service.stop());

  it('makes 100,000 distinct, stored codes and streams them as JSON', async () => {
    const reply = await postForm(`${url}/codes`, 'amount=100000&code_prefix=BULK&code_length=10&code_type=alphanumeric&notes=spring');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    const { result, batch_id, count, promotions } = reply.json;
    expect({ result, count, n: promotions.length }).toEqual({ result: 'success', count: 100000, n: 100000 });
    const codes: string[] = promotions.map((p: { code: string }) => p.code);
    expect(new Set(codes).size).toBe(100000);
    expect(codes.filter((code: string) => !/^BULK-[A-Z0-9]{10}$/.test(code))).toEqual([]);
    expect(promotions[0]).toMatchObject({ type: 'Fixed Amount', value: '5.00', notes: 'spring', uses: 0 });
    // Sorted arrays: deep-equal on two 100k-element Sets is far slower and says no more.
    expect((await storedCodes(service, batch_id)).sort()).toEqual([...codes].sort());
  });

  it('makes 100,000 distinct, stored codes as CSV for Accept: text/csv, and the batch downloads again identically', async () => {
    const reply = await rawRequest(`${url}/codes`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/csv' }, body: JSON.stringify({ amount: 100000, code_type: 'numeric', code_length: 12 }) });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/csv; charset=utf-8');
    const batchId = Number(reply.headers['x-batch-id']);
    const lines = reply.text.trimEnd().split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    expect(lines.length).toBe(100001);
    const codes = lines.slice(1).map((line) => line.split(',')[1]);
    expect(new Set(codes).size).toBe(100000);
    expect(codes.filter((code) => !/^\d{12}$/.test(code))).toEqual([]);
    // Sorted arrays: deep-equal on two 100k-element Sets is far slower and says no more.
    expect((await storedCodes(service, batchId)).sort()).toEqual([...codes].sort());
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(200000);

    const again = await rawRequest(`${url}/batches/${batchId}.csv`);
    expect(again.status).toBe(200);
    expect(again.text).toBe(reply.text);
  });

  it('answers CSV for format=csv in the query or the body', async () => {
    const inQuery = await postForm(`${url}/codes?format=csv`, 'amount=3');
    expect(inQuery.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(inQuery.text.trimEnd().split('\n')).toHaveLength(4);
    const inBody = await postForm(`${url}/codes`, 'amount=2&format=csv');
    expect(inBody.text.startsWith(CSV_HEADER)).toBe(true);
    const bad = await postForm(`${url}/codes`, 'amount=2&format=xml');
    expect(bad.status).toBe(400);
    expect(bad.json.message).toBe('The format must be "json" or "csv".');
  });

  it('defaults to 10 codes and refuses amounts outside 1..100000 with nothing stored', async () => {
    const fresh = await makeSet(service);
    const freshUrl = localSetUrl(service, fresh);
    const reply = await postForm(`${freshUrl}/codes`, '');
    expect(reply.json.count).toBe(10);
    for (const amount of ['0', '100001', '-5', '1e3', 'ten']) {
      const refused = await postForm(`${freshUrl}/codes`, `amount=${amount}`);
      expect(refused.status).toBe(400);
      expect(refused.json.fields).toEqual({ amount: 'The amount must be a whole number from 1 to 100000.' });
    }
    const badType = await postForm(`${freshUrl}/codes`, 'code_type=hex');
    expect(badType.json.fields).toEqual({ code_type: 'The code type must be one of: default, numeric, alphanumeric.' });
    expect(await countPromotions(service.core.db, { setId: fresh.id })).toBe(10);
  });

  it('refuses a request that would exhaust the code space (code_space_exhausted, 422)', async () => {
    const reply = await postForm(`${url}/codes`, 'amount=600&code_type=numeric&code_length=3');
    expect(reply.status).toBe(422);
    expect(reply.json.code).toBe('code_space_exhausted');
  });

  it('answers 404 for a batch of another set, or none', async () => {
    const other = await makeSet(service);
    const otherBatch = (await postForm(`${localSetUrl(service, other)}/codes`, 'amount=1')).json.batch_id;
    for (const id of [otherBatch, 999999]) {
      const reply = await rawRequest(`${url}/batches/${id}.csv`);
      expect(reply.status).toBe(404);
      expect(reply.json.message).toBe(`There is no batch ${id} in this set.`);
    }
  });
});

describe('Idempotency-Key on set URL POSTs', () => {
  let service: TestService;
  let set: PromoSet;
  let url: string;

  beforeAll(async () => {
    service = await startTestService({ RATE_LIMIT_PER_MINUTE: '0' });
    set = await makeSet(service);
    url = localSetUrl(service, set);
  });
  afterAll(() => service.stop());

  it('replays a single-code POST: same status and body, nothing new stored', async () => {
    const first = await postForm(url, 'notes=once', { 'idempotency-key': 'order-1001' });
    expect(first.status).toBe(200);
    const count = await countPromotions(service.core.db, { setId: set.id });
    const second = await postForm(url, 'notes=once', { 'idempotency-key': 'order-1001' });
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(count);
    // Another key is another request.
    const third = await postForm(url, 'notes=once', { 'idempotency-key': 'order-1002' });
    expect(third.json.code).not.toBe(first.json.code);
  });

  it('is scoped per set: the same key on another set is a new request', async () => {
    const other = await makeSet(service);
    const a = await postForm(url, '', { 'idempotency-key': 'shared-key' });
    const b = await postForm(localSetUrl(service, other), '', { 'idempotency-key': 'shared-key' });
    expect(b.status).toBe(200);
    expect(b.json.code).not.toBe(a.json.code);
  });

  it('replays a bulk POST from its batch, in the first response\'s format', async () => {
    const first = await postForm(`${url}/codes?format=csv`, 'amount=50', { 'idempotency-key': 'bulk-7' });
    const count = await countPromotions(service.core.db, { setId: set.id });
    const second = await postForm(`${url}/codes?format=csv`, 'amount=50', { 'idempotency-key': 'bulk-7' });
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(second.headers['x-batch-id']).toBe(first.headers['x-batch-id']);
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(count);

    const json1 = await postJson(`${url}/codes`, { amount: 5 }, { 'idempotency-key': 'bulk-8' });
    const json2 = await postJson(`${url}/codes`, { amount: 5 }, { 'idempotency-key': 'bulk-8' });
    expect(json2.json).toEqual(json1.json);
  });

  it('refuses the key for a different request with 409, and stores nothing', async () => {
    await postForm(url, 'notes=a', { 'idempotency-key': 'reused' });
    const count = await countPromotions(service.core.db, { setId: set.id });
    const reply = await postForm(url, 'notes=b', { 'idempotency-key': 'reused' });
    expect(reply.status).toBe(409);
    expect(reply.json.message).toBe('This Idempotency-Key was already used for a different request to this set. Use a new key for a new request.');
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(count);
  });

  it('answers 409 while the first request with the key is still running (here: claimed by another instance)', async () => {
    const body = 'amount=20';
    await claimIdempotencyKey(service.core.db, { setId: set.id, key: 'in-flight', fingerprint: requestFingerprint(['bulk', '', Buffer.from(body)]), format: 'json', now: new Date().toISOString() });
    const count = await countPromotions(service.core.db, { setId: set.id });
    const reply = await postForm(`${url}/codes`, body, { 'idempotency-key': 'in-flight' });
    expect(reply.status).toBe(409);
    expect(reply.headers['retry-after']).toBe('1');
    expect(reply.json.message).toBe('A request with this Idempotency-Key is still being processed. Retry in a moment to get its response; nothing new will be created.');
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(count);
  });

  it('a process killed between COMMIT and its reply: the retry gets that batch, not a second one', async () => {
    // What the dead request left behind: its claim, still pending, and its committed batch carrying the claim's request key.
    const body = 'amount=7';
    const claimedAt = new Date().toISOString();
    await claimIdempotencyKey(service.core.db, { setId: set.id, key: 'crashed-bulk', fingerprint: requestFingerprint(['bulk', '', Buffer.from(body)]), format: 'csv', now: claimedAt });
    const made = await generatePromotions(service.core, set, { amount: 7 }, 'http:127.0.0.1', { requestKey: requestKeyFor(set.id, 'crashed-bulk', claimedAt) });
    const count = await countPromotions(service.core.db, { setId: set.id });
    const retry = await postForm(`${url}/codes`, body, { 'idempotency-key': 'crashed-bulk' });
    expect(retry.status).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.headers['x-batch-id']).toBe(String(made.batchId)); // in the format the first request asked for: CSV
    expect(retry.text.trimEnd().split('\n')).toHaveLength(8);
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(count);

    const singleAt = new Date().toISOString();
    await claimIdempotencyKey(service.core.db, { setId: set.id, key: 'crashed-single', fingerprint: requestFingerprint(['single', Buffer.from('notes=lost reply')]), format: null, now: singleAt });
    const promotion = await generatePromotion(service.core, set, { notes: 'lost reply' }, 'http:127.0.0.1', { requestKey: requestKeyFor(set.id, 'crashed-single', singleAt) });
    const again = await postForm(url, 'notes=lost reply', { 'idempotency-key': 'crashed-single' });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(promotion);
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(count + 1);
  });

  it('concurrent duplicates create exactly one batch', async () => {
    const replies = await Promise.all(Array.from({ length: 6 }, () => postForm(`${url}/codes`, 'amount=500', { 'idempotency-key': 'race-1' })));
    const ok = replies.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of replies) expect([200, 409]).toContain(r.status);
    expect(new Set(ok.map((r) => r.json.batch_id)).size).toBe(1);
    const batches = await service.core.db.selectFrom('batches').select('id').where('set_id', '=', set.id).where('count', '=', 500).execute();
    expect(batches).toHaveLength(1);
  });

  it('forgets a key whose request failed, so a corrected retry runs', async () => {
    const failed = await postForm(url, 'value=abc', { 'idempotency-key': 'fix-me' });
    expect(failed.status).toBe(400);
    const fixed = await postForm(url, 'value=5', { 'idempotency-key': 'fix-me' });
    expect(fixed.status).toBe(200);
    expect(fixed.json.value).toBe('5.00');
  });

  it('keeps a key 24 hours, then it is a new request', async () => {
    const first = await postForm(url, '', { 'idempotency-key': 'day-old' });
    const realNow = service.core.now;
    service.core.now = () => new Date(Date.now() + 24 * 60 * 60 * 1000 + 1000);
    try {
      const later = await postForm(url, '', { 'idempotency-key': 'day-old' });
      expect(later.status).toBe(200);
      expect(later.json.code).not.toBe(first.json.code);
    } finally {
      service.core.now = realNow;
    }
  });

  it('rejects a malformed key with 400', async () => {
    const reply = await postForm(url, '', { 'idempotency-key': 'x'.repeat(201) });
    expect(reply.status).toBe(400);
    expect(reply.json.message).toBe('The Idempotency-Key header must be 1 to 200 visible ASCII characters (a UUID is ideal).');
  });
});
