import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { CLIENT_EMAIL_MESSAGE, CLIENT_ID_MESSAGE } from '../../src/domain/binding.js';
import { createTestDatabase, describeEachDialect, type Dialect, type TestDatabase } from '../support/databases.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, postJson, rawRequest } from './helpers.js';

/**
 * Issue 21: codes bound to one customer, through the set URL (single and
 * bulk), the admin API, validate and redeem; on SQLite and PostgreSQL.
 */
const TOKEN = 'admin-token-0123456789';

describeEachDialect('codes bound to a customer', (dialect: Dialect) => {
  let database: TestDatabase;
  let service: TestService;
  let single: PromoSet;
  let multi: PromoSet;
  const admin = (method: string, path: string, body?: unknown) =>
    rawRequest(`${service.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const validate = (set: PromoSet, code: string, query = '') => rawRequest(`${localSetUrl(service, set)}/promotions/${encodeURIComponent(code)}${query}`);
  const redeem = (set: PromoSet, body: Record<string, unknown>) => postJson(`${localSetUrl(service, set)}/redemptions`, body);

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    service = await startTestService({ DATABASE_URL: database.url, ADMIN_API_TOKEN: TOKEN, RATE_LIMIT_PER_MINUTE: '0' });
    single = await makeSet(service, { max_uses: 1 });
    multi = await makeSet(service, { max_uses: 3 });
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('set URL, one code: client_id and client_email bind it; the body keeps seed 001\'s exact shape and the binding rides in Promoset-Client', async () => {
    const reply = await postForm(localSetUrl(service, single), 'client_id=42&client_email=Ann%40Example.com');
    expect(reply.status, reply.text).toBe(200);
    expect(Object.keys(reply.json)).not.toContain('client_id');
    expect(reply.headers['promoset-client']).toBe('client_id=42; client_email=Ann@Example.com');
    expect(reply.headers['promoset-note']).toBeUndefined();
    // A retry with the same Idempotency-Key gets the same headers with the same promotion.
    const keyed = { 'idempotency-key': `bind-${dialect}` };
    const first = await postJson(localSetUrl(service, single), { client_id: 42 }, keyed);
    const replay = await postJson(localSetUrl(service, single), { client_id: 42 }, keyed);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect([replay.json.code, replay.headers['promoset-client']]).toEqual([first.json.code, 'client_id=42']);
    const unbound = await postForm(localSetUrl(service, single), '');
    expect(unbound.headers['promoset-client']).toBeUndefined();
    // A set whose codes can be used 3 times: allowed, and the reply says what binding means then.
    const many = await postJson(localSetUrl(service, multi), { client_id: '42' });
    expect(many.status).toBe(200);
    expect(many.headers['promoset-note']).toBe('A bound code of this set can be used up to 3 times, and every use must be by the bound customer.');
  });

  it('refuses a client id that is not a positive whole number and a malformed e-mail with a 400 that names the field, issuing nothing', async () => {
    const before = Number((await service.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    for (const bad of ['0', '-3', '4.5', 'abc', '99999999999']) {
      const reply = await postJson(localSetUrl(service, single), { client_id: bad });
      expect(reply.status, bad).toBe(400);
      expect(reply.json).toMatchObject({ result: 'error', code: 'validation_failed', message: CLIENT_ID_MESSAGE, fields: { client_id: CLIENT_ID_MESSAGE } });
    }
    for (const bad of ['ann', 'ann@', 'ann @example.com', '@example.com', 'ann@example']) {
      const reply = await postForm(localSetUrl(service, single), `client_email=${encodeURIComponent(bad)}`);
      expect(reply.status, bad).toBe(400);
      expect(reply.json.fields).toEqual({ client_email: CLIENT_EMAIL_MESSAGE });
    }
    const after = Number((await service.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    expect(after).toBe(before);
  });

  it('validate and redeem honour the binding: client_required, other_client (e-mail ignoring case), then the right customer', async () => {
    const { json: promotion } = await postJson(localSetUrl(service, single), { client_id: 77, client_email: 'zoe@example.com' });
    const code = promotion.code;
    const none = await validate(single, code);
    expect(none.json).toMatchObject({ valid: false, reason: 'client_required', client: { client_id: 77, client_email: 'zoe@example.com' } });
    expect((await validate(single, code, '?client_id=78')).json).toMatchObject({ valid: false, reason: 'other_client' });
    expect((await validate(single, code, '?client_email=ZOE@example.com')).json).toMatchObject({ valid: true, reason: null });
    expect((await validate(single, code, '?client_id=77&client_email=bob@example.com')).json).toMatchObject({ valid: false, reason: 'other_client' });

    const anonymous = await redeem(single, { code });
    expect(anonymous.status).toBe(409);
    expect(anonymous.json).toMatchObject({ code: 'client_required', message: `The code ${code} is bound to one customer: send the customer's client_id or client_email with the request.` });
    const other = await redeem(single, { code, client_id: '78' });
    expect(other.status).toBe(409);
    expect(other.json).toMatchObject({ code: 'promotion_bound_to_other_client', message: `The code ${code} was issued to another customer and cannot be used on this account. Ask the shop for a code of your own.` });
    const otherEmail = await redeem(single, { code, client_email: 'bob@example.com' });
    expect(otherEmail.json.code).toBe('promotion_bound_to_other_client');
    // Refusals counted nothing.
    expect((await validate(single, code, '?client_id=77')).json.promotion.uses).toBe(0);
    const right = await redeem(single, { code: code.toLowerCase(), client_email: 'Zoe@Example.com' });
    expect(right.status, right.text).toBe(200);
    expect(right.json.promotion.uses).toBe(1);
    // An unbound code behaves as before: no customer needed.
    const { json: free } = await postForm(localSetUrl(service, single), '');
    expect((await validate(single, free.code)).json).toMatchObject({ valid: true, reason: null, client: null });
    expect((await redeem(single, { code: free.code })).status).toBe(200);
  });

  it('bulk: a JSON list of customers gives one code each; the reply and the CSV export show each code\'s customer', async () => {
    const clients = [{ client_id: 5 }, { client_email: 'Eve@example.com' }, { client_id: 6, client_email: 'sam@example.com' }];
    const reply = await postJson(`${localSetUrl(service, multi)}/codes`, { clients });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.json.count).toBe(3);
    expect(reply.json.clients).toEqual(reply.json.promotions.map((p: any, i: number) => ({ code: p.code, client_id: null, client_email: null, ...clients[i] })));
    expect(reply.json.note).toBe('A bound code of this set can be used up to 3 times, and every use must be by the bound customer.');
    const csv = await rawRequest(`${localSetUrl(service, multi)}/batches/${reply.json.batch_id}.csv`);
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('id,code,type,value,startdate,expirationdate,maxuses,uses,notes,voided,client_id,client_email');
    expect(lines.slice(1).map((line) => line.split(',').slice(-2).join(','))).toEqual(['5,', ',Eve@example.com', '6,sam@example.com']);
    // Each code only for its own customer.
    const [first, second] = reply.json.promotions;
    expect((await redeem(multi, { code: first.code, client_id: '6' })).json.code).toBe('promotion_bound_to_other_client');
    expect((await redeem(multi, { code: second.code, client_email: 'eve@EXAMPLE.com' })).status).toBe(200);
  });

  it('bulk: a CSV list in a form field, client_id for every code, and clear refusals for bad lists', async () => {
    const csvList = 'client_id,client_email\n11,a@example.com\n12,b@example.com\n';
    const reply = await postForm(`${localSetUrl(service, multi)}/codes`, `clients=${encodeURIComponent(csvList)}&format=csv`);
    expect(reply.status, reply.text).toBe(200);
    expect(reply.text.trim().split('\n').slice(1).map((line) => line.split(',').slice(-2).join(','))).toEqual(['11,a@example.com', '12,b@example.com']);
    const all = await postJson(`${localSetUrl(service, multi)}/codes`, { amount: 2, client_id: 99 });
    expect(all.json.clients).toEqual(all.json.promotions.map((p: any) => ({ code: p.code, client_id: 99, client_email: null })));
    const cases: [Record<string, unknown>, string, string][] = [
      [{ clients: [{ client_id: 1 }], amount: 2 }, 'amount', 'The amount (2) must equal the number of customers in clients (1), or be left out.'],
      [{ clients: [{ client_id: 1 }], client_id: 1 }, 'clients', 'Send either a clients list (one code per customer) or client_id/client_email (every code for one customer), not both.'],
      [{ clients: [{ client_id: 'x' }] }, 'clients', `Customer 1 of the clients list: ${CLIENT_ID_MESSAGE}`],
      [{ clients: [{ client_id: 3 }, {}] }, 'clients', 'Customer 2 of the clients list has neither a client_id nor a client_email.'],
      [{ clients: [{ clientid: 3 }] }, 'clients', 'Customer 1 of the clients list has an unknown field "clientid": use client_id and client_email.'],
      [{ clients: [] }, 'clients', 'The clients list is empty: send at least one customer.'],
    ];
    for (const [body, field, message] of cases) {
      const bad = await postJson(`${localSetUrl(service, multi)}/codes`, body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.json.fields[field]).toBe(message);
    }
  });

  it('admin API: issue bound codes, and find every code bound to a customer by e-mail (any case) or client id', async () => {
    const issued = await admin('POST', `/api/sets/${single.id}/codes`, { amount: 2, client_email: 'Kim@example.com' });
    expect(issued.status, issued.text).toBe(201);
    expect(issued.json.clients).toHaveLength(2);
    expect(issued.json.note).toBeUndefined();
    const found = await admin('GET', `/api/clients/${encodeURIComponent('KIM@example.com')}/promotions`);
    expect(found.status).toBe(200);
    expect(found.json.client).toBe('KIM@example.com');
    expect(found.json.promotions.map((p: any) => p.code).sort()).toEqual(issued.json.promotions.map((p: any) => p.code).sort());
    expect(found.json.promotions[0]).toMatchObject({ set_id: single.id, set_name: single.name, client_email: 'Kim@example.com', voided: false });
    const byId = await admin('GET', '/api/clients/42/promotions');
    expect(byId.json.promotions.every((p: any) => p.client_id === 42)).toBe(true);
    expect(byId.json.totalresults).toBeGreaterThanOrEqual(2);
    const bad = await admin('GET', '/api/clients/not-a-client/promotions');
    expect(bad.status).toBe(400);
    expect(bad.json.fields.client).toBe('Name the customer by WHMCS client id (such as 42) or e-mail address.');
  });
});
