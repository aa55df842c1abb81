import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/service.js';
import { rawRequest, type Reply } from './helpers.js';

const TOKEN = 'admin-token-0123456789';

describe('admin REST API (/api/sets)', () => {
  let service: TestService;
  const call = (method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Reply> =>
    rawRequest(`${service.url}${path}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  /** The set URL served by this test server (PUBLIC_URL names port 0 in tests). */
  const local = (url: string) => service.url + new URL(url).pathname;

  beforeAll(async () => {
    service = await startTestService({ ADMIN_API_TOKEN: TOKEN, RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(() => service.stop());

  it('refuses a missing or wrong token with 401 and WWW-Authenticate', async () => {
    for (const token of [null, 'wrong-token-0123456789', '']) {
      const reply = await call('GET', '/api/sets', undefined, token);
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Bearer realm="promoset"');
      expect(reply.json).toEqual({ result: 'error', message: 'Send the admin API token as "Authorization: Bearer <ADMIN_API_TOKEN>".', code: 'unauthorized', fields: {} });
    }
  });

  it('round trip: create, list, get, update, rotate, promotions (JSON and CSV), archive', async () => {
    const created = await call('POST', '/api/sets', { name: 'Spring', promo_code_type: 'Fixed Amount', promo_value: '25', cycles: ['Monthly', 'Annually'], code_prefix: 'SPRING' });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`/api/sets/${created.json.id}`);
    expect(created.json).toMatchObject({ id: expect.any(Number), name: 'Spring', promo_code_type: 'Fixed Amount', promo_value: 25, cycles: ['Monthly', 'Annually'], code_prefix: 'SPRING', created_by: 'admin-api', archived: false });
    const id = created.json.id;
    const url: string = created.json.url;
    expect(url).toMatch(new RegExp(`/sets/${created.json.api_key}-${id}-[0-9a-f]{32}$`));
    const viaUrl = await rawRequest(local(url));
    expect(viaUrl.json.name).toBe('Spring');

    const list = await call('GET', '/api/sets');
    expect(list.json).toMatchObject({ result: 'success', totalresults: 1, sets: [{ id, name: 'Spring', promotions: 0, batches: 0 }] });
    expect((await call('GET', `/api/sets/${id}`)).json).toEqual({ ...created.json, usage: { issued: 0, redeemed: 0, voided: 0, used_up: 0 } });

    // A set name works where an id does, as in the CLI and Slack: URL-encoded, any letter case.
    expect((await call('GET', '/api/sets/spring')).json).toEqual({ ...created.json, usage: { issued: 0, redeemed: 0, voided: 0, used_up: 0 } });
    expect((await call('GET', '/api/sets/SPRING/audit')).json).toMatchObject({ result: 'success', set_id: id });
    const byNameMiss = await call('GET', '/api/sets/Sprung');
    expect(byNameMiss.status).toBe(404);
    expect(byNameMiss.json.message).toBe('There is no promo set "Sprung". Did you mean "Spring"?');

    const updated = await call('PATCH', `/api/sets/${id}`, { notes: 'for partners', promo_value: 30 });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ notes: 'for partners', promo_value: 30, name: 'Spring' });

    const codes = await rawRequest(`${local(url)}/codes`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'amount=3' });
    const promotions = await call('GET', `/api/sets/${id}/promotions`);
    expect(promotions.json).toEqual({ result: 'success', set_id: id, totalresults: 3, promotions: codes.json.promotions });
    const csv = await call('GET', `/api/sets/${id}/promotions?format=csv`);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.text.trimEnd().split('\n').slice(1).map((l) => l.split(',')[1])).toEqual(codes.json.promotions.map((p: { code: string }) => p.code));

    const rotated = await call('POST', `/api/sets/${id}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.json.url).not.toBe(url);
    expect((await rawRequest(local(url))).status).toBe(404);
    expect((await rawRequest(local(rotated.json.url))).status).toBe(200);

    const archived = await call('DELETE', `/api/sets/${id}`);
    expect(archived.status).toBe(200);
    expect(archived.json.archived).toBe(true);
    expect((await rawRequest(local(rotated.json.url))).status).toBe(404);
    expect((await call('GET', '/api/sets')).json.totalresults).toBe(0);
    expect((await call('GET', '/api/sets?include_archived=1')).json.sets[0]).toMatchObject({ id, archived: true, promotions: 3, batches: 1 });
  });

  it('GET /api/sets/{id}/audit shows who created, edited, generated and rotated, newest first', async () => {
    const created = await call('POST', '/api/sets', { name: 'Audit me' });
    const id = created.json.id;
    await call('PATCH', `/api/sets/${id}`, { notes: 'changed' });
    await rawRequest(local(created.json.url), { method: 'POST' });
    await call('POST', `/api/sets/${id}/rotate`);
    const audit = await call('GET', `/api/sets/${id}/audit`);
    expect(audit.status).toBe(200);
    expect(audit.json.events.map((e: { action: string; actor: string }) => `${e.action} ${e.actor}`).sort()).toEqual(
      ['created admin-api', 'edited admin-api', 'generated http:127.0.0.1', 'rotated admin-api'],
    );
    expect(audit.json.events.find((e: { action: string }) => e.action === 'edited').detail).toEqual({ fields: ['notes'] });
    expect(JSON.stringify(audit.json)).not.toContain(created.json.api_key);
    expect((await call('GET', `/api/sets/${id}/audit?limit=0`)).status).toBe(400);
    expect((await call('GET', `/api/sets/${id}/audit`, undefined, null)).status).toBe(401);
  });

  it('answers validation errors with 400 and per-field messages, and conflicts with 409', async () => {
    const bad = await call('POST', '/api/sets', { name: 'Bad', promo_code_type: 'Percentage', promo_value: 150, api_ip_address: '10.0.0.0/33' });
    expect(bad.status).toBe(400);
    expect(bad.json.fields).toEqual({
      api_ip_address: '"10.0.0.0/33" is not an IP address or CIDR range (like 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32).',
      promo_value: 'A percentage value must be at most 100.',
    });
    await call('POST', '/api/sets', { name: 'Taken' });
    const dup = await call('POST', '/api/sets', { name: 'taken' });
    expect(dup.status).toBe(409);
    expect(dup.json.message).toBe('A promo set named "taken" already exists. Choose another name.');
  });

  it('answers 404 for unknown ids and 405 with Allow for wrong methods', async () => {
    for (const path of ['/api/sets/999', '/api/sets/abc', '/api/sets/999/promotions', '/api/sets/%E0%A4%A/promotions', '/api/sets/no%20such%20set/audit']) {
      const reply = await call('GET', path);
      expect(reply.status).toBe(404);
    }
    const put = await call('PUT', '/api/sets/1', {});
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, PATCH, DELETE, HEAD');
  });
});

describe('admin REST API without ADMIN_API_TOKEN', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.stop());

  it('is disabled, and says so', async () => {
    const reply = await rawRequest(`${service.url}/api/sets`, { headers: { authorization: 'Bearer anything-at-all-here' } });
    expect(reply.status).toBe(403);
    expect(reply.json.message).toBe('The admin API is disabled on this server. Set ADMIN_API_TOKEN to enable it.');
  });
});
