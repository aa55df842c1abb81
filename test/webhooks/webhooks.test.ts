import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../../src/domain/webhooks.js';
import { localSetUrl, rawRequest } from '../http/helpers.js';
import { startTestService, type TestService } from '../support/service.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { waitFor } from '../support/wait-for.js';

const TOKEN = 'admin-token-webhooks-0123456789';
const admin = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

/** The test server's own address for a URL promoset built from PUBLIC_URL. */
const local = (service: TestService, url: string) => service.url + new URL(url).pathname;

async function createSet(service: TestService, fields: Record<string, unknown>) {
  const reply = await rawRequest(`${service.url}/api/sets`, { method: 'POST', headers: admin, body: JSON.stringify({ api_ip_address: 'any', promo_value: '10', ...fields }) });
  return reply;
}

async function deliveries(service: TestService, setId: number, query = '') {
  const reply = await rawRequest(`${service.url}/api/sets/${setId}/webhooks/deliveries${query}`, { headers: admin });
  expect(reply.status, reply.text).toBe(200);
  return reply.json as { counts: { pending: number; delivered: number; failed: number }; deliveries: any[] };
}

const until = <T>(probe: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> => waitFor(probe, ok, what, { timeoutMs, intervalMs: 50 });

describe('the signature', () => {
  it('verifies over "<t>.<raw body>", refuses a changed body, another secret and a timestamp older than 5 minutes', () => {
    const body = '{"id":"evt_1","type":"set.archived"}';
    const now = 1_800_000_000;
    const header = signWebhook('whsec_a', body, now);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature('whsec_a', body, header, { nowSeconds: now + 299 })).toEqual({ ok: true, timestamp: now });
    expect(verifyWebhookSignature('whsec_a', `${body} `, header, { nowSeconds: now })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature('whsec_b', body, header, { nowSeconds: now })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature('whsec_a', body, header, { nowSeconds: now + 301 })).toEqual({ ok: false, reason: 'too_old' });
    expect(verifyWebhookSignature('whsec_a', body, 'v1=abc', { nowSeconds: now })).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('webhooks over HTTP, with a real receiver', () => {
  let service: TestService;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    service = await startTestService({ ADMIN_API_TOKEN: TOKEN, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_BASE_SECONDS: '0.2', RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(async () => {
    await service?.stop();
    await receiver?.close();
  });

  it('issued (single and bulk, >1,000 as a CSV link that downloads), rotated, archived: each signed, once, in the contract shape', async () => {
    const created = await createSet(service, { name: 'Hooked', webhook_url: receiver.url, code_length: 8 });
    expect(created.status, created.text).toBe(201);
    expect(created.json.webhook_url).toBe(receiver.url);
    expect(created.json.webhook_secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    receiver.setSecret(created.json.webhook_secret);
    const setId = created.json.id as number;
    const setUrl = local(service, created.json.url);

    const single = await rawRequest(setUrl, { method: 'POST' });
    expect(single.status).toBe(200);
    await receiver.waitFor((r) => r.ofType('promotions.issued').length === 1, 'the single code');
    const [issuedOne] = receiver.ofType('promotions.issued');
    expect(issuedOne.body.id).toMatch(/^evt_/);
    expect(issuedOne.headers['promoset-event-id']).toBe(issuedOne.body.id);
    expect(issuedOne.body.set_id).toBe(setId);
    expect(Date.parse(issuedOne.body.created_at)).not.toBeNaN();
    expect(issuedOne.body.data.count).toBe(1);
    expect(typeof issuedOne.body.data.batch_id).toBe('number');
    // Exactly what the set-URL POST answered (seed 001's POST shape).
    expect(issuedOne.body.data.promotions).toEqual([single.json]);

    const bulk = await rawRequest(`${setUrl}/codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: 7 }) });
    expect(bulk.status).toBe(200);
    await receiver.waitFor((r) => r.ofType('promotions.issued').some((e) => e.body.data.batch_id === bulk.json.batch_id), 'the bulk batch');
    const bulkEvent = receiver.ofType('promotions.issued').find((e) => e.body.data.batch_id === bulk.json.batch_id)!;
    expect(bulkEvent.body.data.count).toBe(7);
    expect(bulkEvent.body.data.promotions).toEqual(bulk.json.promotions);
    expect(bulkEvent.body.data.csv_url).toBeUndefined();

    const big = await rawRequest(`${setUrl}/codes`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/csv' }, body: JSON.stringify({ amount: 1500 }) });
    expect(big.status).toBe(200);
    const bigId = Number(big.headers['x-batch-id']);
    await receiver.waitFor((r) => r.ofType('promotions.issued').some((e) => e.body.data.batch_id === bigId), 'the 1,500-code batch');
    const bigEvent = receiver.ofType('promotions.issued').find((e) => e.body.data.batch_id === bigId)!;
    expect(bigEvent.body.data.count).toBe(1500);
    expect(bigEvent.body.data.promotions).toBeUndefined();
    expect(bigEvent.body.data.csv_url).toBe(`${created.json.url}/batches/${bigId}.csv`);
    const csv = await rawRequest(local(service, bigEvent.body.data.csv_url));
    expect(csv.status).toBe(200);
    expect(csv.text).toBe(big.text);
    expect(csv.text.trim().split('\n')).toHaveLength(1501);

    const rotated = await rawRequest(`${service.url}/api/sets/${setId}/rotate`, { method: 'POST', headers: admin });
    expect(rotated.status).toBe(200);
    await receiver.waitFor((r) => r.ofType('set.rotated').length === 1, 'set.rotated');
    expect(receiver.ofType('set.rotated')[0].body.data.url).toBe(rotated.json.url);

    const archived = await rawRequest(`${service.url}/api/sets/${setId}`, { method: 'DELETE', headers: admin });
    expect(archived.status).toBe(200);
    await receiver.waitFor((r) => r.ofType('set.archived').length === 1, 'set.archived');
    expect(receiver.ofType('set.archived')[0].body).toMatchObject({ type: 'set.archived', set_id: setId, data: { name: 'Hooked' } });

    expect(receiver.rejected).toEqual([]);
    expect([...receiver.events.values()].map((e) => e.deliveries)).toEqual([1, 1, 1, 1, 1]);
    const list = await deliveries(service, setId);
    expect(list.counts).toEqual({ pending: 0, delivered: 5, failed: 0 });
    expect(list.deliveries.map((d) => d.type)).toEqual(['set.archived', 'set.rotated', 'promotions.issued', 'promotions.issued', 'promotions.issued']);
    expect(list.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 1, last_status: 204, last_error: null, next_attempt_at: null });
  });

  it('a set without a webhook_url writes no events; adding one later generates a secret', async () => {
    const plain = await createSet(service, { name: 'Plain' });
    expect(plain.json.webhook_url).toBeNull();
    expect(plain.json.webhook_secret).toBeNull();
    expect((await rawRequest(local(service, plain.json.url), { method: 'POST' })).status).toBe(200);
    expect((await deliveries(service, plain.json.id)).counts).toEqual({ pending: 0, delivered: 0, failed: 0 });
    const edited = await rawRequest(`${service.url}/api/sets/${plain.json.id}`, { method: 'PATCH', headers: admin, body: JSON.stringify({ webhook_url: receiver.url }) });
    expect(edited.status).toBe(200);
    expect(edited.json.webhook_secret).toMatch(/^whsec_/);
  });

  it('bad webhook URLs get a 400 naming the field, and nothing is saved', async () => {
    for (const bad of ['ftp://example.com/x', 'not a url', 'https://user:pw@example.com/hook', 42]) {
      const reply = await createSet(service, { name: `Bad ${String(bad).slice(0, 10)}`, webhook_url: bad });
      expect(reply.status, String(bad)).toBe(400);
      expect(reply.json).toMatchObject({ result: 'error', code: 'validation_failed' });
      expect(reply.json.fields.webhook_url).toBeTruthy();
    }
    const list = await rawRequest(`${service.url}/api/sets`, { headers: admin });
    expect(list.json.sets.map((s: { name: string }) => s.name)).not.toContain('Bad ftp://exam');
  });

  it('the receiver fails (500, then connection refused), comes back, and still gets every event exactly as signed; resend and rotate-secret work', async () => {
    const scrape = async (outcome: string) => Number(new RegExp(`^promoset_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec((await rawRequest(`${service.url}/metrics`)).text)?.[1] ?? 0);
    const [deliveredBefore, retriedBefore] = [await scrape('delivered'), await scrape('retry')];
    const created = await createSet(service, { name: 'Flaky', webhook_url: receiver.url });
    receiver.setSecret(created.json.webhook_secret);
    const setUrl = local(service, created.json.url);
    receiver.fail(true);
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) codes.push((await rawRequest(setUrl, { method: 'POST' })).json.code);
    // Retried with backoff: attempts grow, the error is recorded, the next attempt is scheduled.
    const failing = await until(() => deliveries(service, created.json.id), (d) => d.deliveries.length === 5 && d.deliveries.every((x) => x.attempts >= 2), 'retries');
    expect(failing.counts.pending).toBe(5);
    expect(failing.deliveries[0].last_error).toBe('The receiver answered HTTP 500.');
    expect(failing.deliveries[0].last_status).toBe(500);
    expect(Date.parse(failing.deliveries[0].next_attempt_at)).not.toBeNaN();
    // Meanwhile the HTTP API answers as usual.
    const sixth = await rawRequest(setUrl, { method: 'POST' });
    expect(sixth.status).toBe(200);
    codes.push(sixth.json.code);

    await receiver.down();
    receiver.fail(false);
    await until(() => deliveries(service, created.json.id), (d) => d.deliveries.some((x) => /ECONNREFUSED/.test(x.last_error ?? '')), 'connection refused');
    await receiver.up();
    await receiver.waitFor((r) => [...r.events.values()].filter((e) => e.body.set_id === created.json.id).length === 6, 'all six events after the outage');
    const mine = [...receiver.events.values()].filter((e) => e.body.set_id === created.json.id);
    expect(mine.map((e) => e.body.data.promotions[0].code).sort()).toEqual([...codes].sort());
    expect(receiver.rejected).toEqual([]);
    const done = await until(() => deliveries(service, created.json.id), (d) => d.counts.delivered === 6, 'recorded as delivered');
    expect(done.deliveries.every((d) => d.status === 'delivered' && d.last_error === null)).toBe(true);
    // Metrics: six deliveries, after at least two failed attempts each for the first five.
    expect((await scrape('delivered')) - deliveredBefore).toBe(6);
    expect((await scrape('retry')) - retriedBefore).toBeGreaterThanOrEqual(10);

    // Resend: the same id and the same bytes, so a receiver dedupes it.
    const first = mine[0];
    const resent = await rawRequest(`${service.url}/api/sets/${created.json.id}/webhooks/deliveries/${first.body.id}/resend`, { method: 'POST', headers: admin });
    expect(resent.status, resent.text).toBe(202);
    await receiver.waitFor(() => first.deliveries === 2, 'the resent event');
    expect((await rawRequest(`${service.url}/api/sets/${created.json.id}/webhooks/deliveries/evt_nope/resend`, { method: 'POST', headers: admin })).status).toBe(404);

    // A new secret signs what follows; the old one no longer verifies it.
    const rotated = await rawRequest(`${service.url}/api/sets/${created.json.id}/webhooks/rotate-secret`, { method: 'POST', headers: admin });
    expect(rotated.status).toBe(200);
    expect(rotated.json.webhook_secret).not.toBe(created.json.webhook_secret);
    receiver.setSecret(rotated.json.webhook_secret);
    await rawRequest(setUrl, { method: 'POST' });
    await receiver.waitFor((r) => [...r.events.values()].filter((e) => e.body.set_id === created.json.id).length === 7, 'an event signed with the new secret');
    const last = [...receiver.events.values()].at(-1)!;
    expect(verifyWebhookSignature(created.json.webhook_secret, last.raw, last.headers['promoset-signature'] as string).ok).toBe(false);
    expect(receiver.rejected).toEqual([]);
  });
});

describe('private network targets', () => {
  let service: TestService;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    service = await startTestService({ ADMIN_API_TOKEN: TOKEN, WEBHOOK_RETRY_BASE_SECONDS: '0.2' });
  });
  afterAll(async () => {
    await service?.stop();
    await receiver?.close();
  });

  it('are refused when the set is saved (WEBHOOK_ALLOW_PRIVATE_NETWORKS unset)', async () => {
    for (const url of [receiver.url, 'http://localhost:8080/x', 'http://10.1.2.3/x', 'http://192.168.0.10/x', 'http://169.254.169.254/latest', 'http://100.64.0.1/', 'http://[::1]:81/', 'http://[fd00::1]/', 'http://[::ffff:127.0.0.1]/', 'http://0.0.0.0/',
      // IPv4 inside IPv6 (issue 28, item 6): compatible, translated, NAT64 (both prefixes), 6to4.
      'http://[::127.0.0.1]/', 'http://[::ffff:0:7f00:1]/', 'http://[64:ff9b::a00:1]/', 'http://[64:ff9b:1::7f00:1]/', 'http://[2002:7f00:1::1]/', 'http://[2002:c0a8:1::1]/']) {
      const reply = await createSet(service, { name: `Private ${Math.random()}`, webhook_url: url });
      expect(reply.status, url).toBe(400);
      expect(reply.json.code).toBe('validation_failed');
      expect(reply.json.message).toContain('private or local network');
      expect(reply.json.fields.webhook_url).toBe('Use a public address.');
    }
  });

  it('are refused again at delivery time (the address may have changed since it was saved)', async () => {
    // As if the set was saved while its host resolved to a public address.
    service.core.webhooks.allowPrivateNetworks = true;
    const created = await createSet(service, { name: 'Rebound', webhook_url: receiver.url });
    service.core.webhooks.allowPrivateNetworks = false;
    expect(created.status).toBe(201);
    receiver.setSecret(created.json.webhook_secret);
    expect((await rawRequest(localSetUrl(service, { ...created.json, api_key: created.json.api_key }), { method: 'POST' })).status).toBe(200);
    const refused = await until(() => deliveries(service, created.json.id), (d) => d.deliveries[0]?.attempts >= 2, 'refused attempts');
    expect(refused.deliveries[0].status).toBe('pending');
    expect(refused.deliveries[0].last_error).toContain('private or local network address (127.0.0.1)');
    expect(receiver.events.size).toBe(0);
  });
});
