import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, rawRequest, type Reply } from './helpers.js';
import type { PromoSet } from '../../src/domain/set.js';

const TOKEN = 'admin-token-0123456789';

/**
 * GET /api/sets/{id}/usage: the daily figures, days in PROMO_TIMEZONE
 * (Europe/Berlin here, so 23:30 UTC is already the next day), as JSON or CSV;
 * every reply is checked against the OpenAPI document by rawRequest.
 */
describe('GET /api/sets/{id}/usage', () => {
  let service: TestService;
  let set: PromoSet;
  let clock = new Date('2026-12-01T12:00:00Z');
  const call = (path: string, headers: Record<string, string> = {}): Promise<Reply> => rawRequest(`${service.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}`, ...headers } });

  beforeAll(async () => {
    service = await startTestService({ ADMIN_API_TOKEN: TOKEN, RATE_LIMIT_PER_MINUTE: '0', PROMO_TIMEZONE: 'Europe/Berlin' }, { now: () => clock });
    set = await makeSet(service, { name: 'Usage Sale' });
    const url = localSetUrl(service, set);
    // 2026-12-01 (Berlin): 3 codes, 2 redeemed.
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) codes.push((await postForm(url, '')).json.code);
    const first = await postForm(`${url}/redemptions`, `code=${codes[0]}`);
    expect(first.status).toBe(200);
    expect((await postForm(`${url}/redemptions`, `code=${codes[1]}`)).status).toBe(200);
    // 23:30 UTC is 00:30 on 2026-12-02 in Berlin: one rollback and one void that day.
    clock = new Date('2026-12-01T23:30:00Z');
    expect((await postForm(`${url}/redemptions/${first.json.redemption_id}/rollback`, '')).status).toBe(200);
    const voided = await rawRequest(`${service.url}/api/promotions/${codes[2]}/void`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(voided.status).toBe(200);
    clock = new Date('2026-12-03T08:00:00Z');
  });
  afterAll(() => service.stop());

  it('answers JSON: one entry per local day, oldest first, with totals', async () => {
    const reply = await call(`/api/sets/${set.id}/usage?days=3`);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({
      result: 'success', set_id: set.id, time_zone: 'Europe/Berlin', days: 3,
      totals: { issued: 3, redeemed: 2, voided: 1, rolled_back: 1 },
      usage: [
        { date: '2026-12-01', issued: 3, redeemed: 2, voided: 0, rolled_back: 0 },
        { date: '2026-12-02', issued: 0, redeemed: 0, voided: 1, rolled_back: 1 },
        { date: '2026-12-03', issued: 0, redeemed: 0, voided: 0, rolled_back: 0 },
      ],
    });
    const month = await call(`/api/sets/${set.id}/usage`);
    expect(month.json.days).toBe(30);
    expect(month.json.usage).toHaveLength(30);
    expect(month.json.usage[0].date).toBe('2026-11-04');
  });

  it('a closed day is counted once, but voided stays live: restoring a code takes its void back', async () => {
    const before = await call(`/api/sets/${set.id}/usage?days=3`);
    expect(before.json.usage[1]).toEqual({ date: '2026-12-02', issued: 0, redeemed: 0, voided: 1, rolled_back: 1 });
    const code = (await rawRequest(`${service.url}/api/sets/${set.id}/promotions`, { headers: { authorization: `Bearer ${TOKEN}` } })).json.promotions[2].code;
    expect((await rawRequest(`${service.url}/api/promotions/${code}/unvoid`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const after = await call(`/api/sets/${set.id}/usage?days=3`);
    expect(after.json.usage[1]).toEqual({ date: '2026-12-02', issued: 0, redeemed: 0, voided: 0, rolled_back: 1 });
    expect((await rawRequest(`${service.url}/api/promotions/${code}/void`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    // Voided again today (2026-12-03, Berlin).
    expect((await call(`/api/sets/${set.id}/usage?days=3`)).json.usage.map((d: { voided: number }) => d.voided)).toEqual([0, 0, 1]);
  });

  it('answers CSV for Accept: text/csv or format=csv', async () => {
    const expected = 'date,issued,redeemed,voided,rolled_back\n2026-12-01,3,2,0,0\n2026-12-02,0,0,0,1\n2026-12-03,0,0,1,0\n';
    const byAccept = await call(`/api/sets/${set.id}/usage?days=3`, { accept: 'text/csv' });
    expect(byAccept.status).toBe(200);
    expect(byAccept.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(byAccept.text).toBe(expected);
    expect((await call(`/api/sets/${set.id}/usage?days=3&format=csv`)).text).toBe(expected);
  });

  it('bad input gets a sentence: days=7x, days=0, an unknown set, no token', async () => {
    for (const days of ['7x', '0', '367']) {
      const reply = await call(`/api/sets/${set.id}/usage?days=${days}`);
      expect(reply.status).toBe(400);
      expect(reply.json).toEqual({ result: 'error', code: 'validation_failed', message: `days must be a whole number from 1 to 366, not "${days}".`, fields: { days: 'Use 1 to 366.' } });
    }
    const unknown = await call('/api/sets/999999/usage');
    expect(unknown.status).toBe(404);
    expect(unknown.json.code).toBe('not_found');
    expect((await rawRequest(`${service.url}/api/sets/${set.id}/usage`)).status).toBe(401);
    expect((await call(`/api/sets/${set.id}/usage?format=xml`)).status).toBe(400);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await rawRequest(`${service.url}/openapi.json`)).json;
    expect(doc.paths['/api/sets/{id}/usage'].get.operationId).toBe('setUsage');
    expect(Object.keys(doc.paths['/api/sets/{id}/usage'].get.responses[200].content)).toEqual(['application/json', 'text/csv']);
  });
});
