import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countPromotions } from '../../src/store/promotions.js';
import { listSets } from '../../src/service/sets.js';
import { rawRequest } from '../http/helpers.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet } from '../http/helpers.js';

const ADMIN_TOKEN = 'fuzz-admin-token-0123456789';
const WHMCS = { WHMCS_API_IDENTIFIER: 'fuzz-identifier', WHMCS_API_SECRET: 'fuzz-secret-value' };
const RUNS_PER_PROPERTY = 250;

/** Field names the endpoints know, plus a few they don't, to build plausible-but-hostile bodies. */
const KEYS = ['name', 'value', 'promo_code_type', 'start_date', 'expiry_date', 'notes', 'amount', 'code_prefix', 'code_length', 'code_type', 'format',
  'action', 'code', 'client_id', 'identifier', 'secret', 'username', 'password', 'responsetype', 'promo_value', 'cycles', 'applies_to', 'api_ip_address', 'valid_days',
  '__proto__', 'constructor', 'toString', 'x'];

const hostileValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constantFrom("'; drop table promotions; --", '" OR 1=1 --', '<script>alert(1)</script>', '%00', '\u0000', '𝕏💥', '9'.repeat(400), '-1', '1e308', 'NaN', '2024-02-30', '0000-00-00', '=cmd|"/c calc"!A1'),
  fc.string({ maxLength: 70_000, minLength: 60_000 }).map((s) => s.slice(0, 70_000)),
);

/** Bodies: random bytes, random JSON (also truncated), forms with repeated keys. */
const bodies = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 400 }).map((b) => ['application/x-www-form-urlencoded', b] as const),
  fc.json({ maxDepth: 4 }).map((j) => ['application/json', j] as const),
  fc.json({ maxDepth: 3 }).chain((j) => fc.nat(j.length).map((cut) => ['application/json', j.slice(0, cut)] as const)),
  fc.dictionary(fc.constantFrom(...KEYS), fc.oneof(hostileValue, fc.array(hostileValue, { maxLength: 3 }))).map((d) => ['application/json', JSON.stringify(d)] as const),
  fc.array(fc.tuple(fc.constantFrom(...KEYS), hostileValue), { maxLength: 6 }).map((pairs) => ['application/x-www-form-urlencoded', pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')] as const),
  fc.tuple(fc.constantFrom('text/plain', 'multipart/form-data; boundary=x', 'application/xml', '', 'application/json; charset=latin1'), fc.string({ maxLength: 100 })),
);

/**
 * Property-based fuzzing of every HTTP endpoint: whatever arrives, the answer
 * is below 500, a 4xx carries the error shape, a refused request stores
 * nothing, and the server keeps answering.
 */
describe('HTTP fuzzing: every endpoint, hostile input', () => {
  let service: TestService;
  let setUrl: string;
  let setId: number;
  const statuses: Record<string, number> = {};
  let cases = 0;

  beforeAll(async () => {
    // Failed-authentication limits off: the fuzzer sends thousands of wrong credentials on purpose (auth-limits.test.ts covers the limit).
    service = await startTestService({ ADMIN_API_TOKEN: ADMIN_TOKEN, RATE_LIMIT_PER_MINUTE: '0', AUTH_FAILURES_PER_MINUTE: '0', ...WHMCS });
    const set = await makeSet(service);
    setId = set.id;
    setUrl = localSetUrl(service, set);
  });
  afterAll(async () => {
    console.log(`HTTP fuzz: ${cases} cases, statuses ${JSON.stringify(statuses)}`);
    await service.stop();
  });

  async function send(path: string, method: string, contentType: string, body: string, headers: Record<string, string> = {}) {
    const before = await countPromotions(service.core.db, { setId });
    const setsBefore = (await listSets(service.core, { includeArchived: true })).length;
    const reply = await rawRequest(path, { method, headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers }, body: method === 'GET' ? undefined : body });
    cases++;
    statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
    expect(reply.status, `${method} ${path} ${contentType} ${body.slice(0, 200)}`).toBeLessThan(500);
    if (reply.status >= 400) {
      expect(reply.json).toMatchObject({ result: 'error', message: expect.any(String) });
      expect(reply.text).not.toMatch(/\n\s+at /); // no stack trace
      expect(await countPromotions(service.core.db, { setId })).toBe(before);
      expect((await listSets(service.core, { includeArchived: true })).length).toBe(setsBefore);
    }
    return reply;
  }

  it('set URL and bulk (POST and GET)', async () => {
    const suffixes = fc.constantFrom('', '/codes', '/codes?format=csv', '/batches/1.csv', '/batches/x.csv', '?format=csv', '/%2e%2e/%2e%2e', '/codes/../codes');
    await fc.assert(
      fc.asyncProperty(suffixes, fc.constantFrom('POST', 'GET', 'PUT', 'DELETE'), bodies, async (suffix, method, [type, body]) => {
        await send(setUrl + suffix, method, type, body, { 'x-forwarded-for': '1.2.3.4' });
      }),
      { numRuns: RUNS_PER_PROPERTY },
    );
  });

  it('validate, redeem and rollback under the set URL', async () => {
    const suffixes = fc.constantFrom('/redemptions', '/redemptions/1/rollback', '/redemptions/x/rollback', '/redemptions/99999999999/rollback', '/promotions/ABCDEF', '/promotions/%ZZ', '/promotions/%2e%2e', `/promotions/${'A'.repeat(600)}`);
    await fc.assert(
      fc.asyncProperty(suffixes, fc.constantFrom('POST', 'GET'), bodies, fc.boolean(), async (suffix, method, [type, body], keyed) => {
        await send(setUrl + suffix, method, type, body, keyed ? { 'idempotency-key': 'fuzz-key' } : {});
      }),
      { numRuns: RUNS_PER_PROPERTY },
    );
  });

  it('forged and malformed set tokens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 120 }), bodies, async (token, [type, body]) => {
        const reply = await send(`${service.url}/sets/${encodeURIComponent(token)}`, 'POST', type, body);
        expect([400, 404, 413, 415]).toContain(reply.status);
      }),
      { numRuns: RUNS_PER_PROPERTY },
    );
  });

  it('WHMCS /includes/api.php', async () => {
    const credentialed = bodies.map(([type, body]) => [type, type === 'application/x-www-form-urlencoded' && Math.random() < 0.5 ? `${body}&identifier=${WHMCS.WHMCS_API_IDENTIFIER}&secret=${WHMCS.WHMCS_API_SECRET}` : body] as const);
    await fc.assert(
      fc.asyncProperty(credentialed, async ([type, body]) => {
        await send(`${service.url}/includes/api.php`, 'POST', type, body);
      }),
      { numRuns: RUNS_PER_PROPERTY },
    );
  });

  it('admin REST API, with and without the token', async () => {
    const paths = fc.constantFrom('/api/sets', `/api/sets/${1}`, '/api/sets/1/rotate', '/api/sets/1/promotions?format=xml', '/api/sets/999999', '/api/sets/abc', '/api/sets/1/audit?limit=-1', '/api/sets/1/webhooks/deliveries?status=nope', '/api/sets/1/webhooks/deliveries?limit=0', '/api/sets/1/webhooks/deliveries/evt_x/resend', '/api/sets/1/webhooks/deliveries/%ZZ/resend', '/api/sets/1/webhooks/rotate-secret', '/api/promotions/NOSUCH/void', '/api/promotions/%ZZ/unvoid', '/api/sets/1/batches/1/void', '/api/sets/1/batches/999/unvoid');
    await fc.assert(
      fc.asyncProperty(paths, fc.constantFrom('POST', 'PATCH', 'GET'), fc.boolean(), bodies, async (path, method, withToken, [type, body]) => {
        // Only bodies that fail validation may be judged by "nothing stored": a valid POST /api/sets creates a set.
        const headers: Record<string, string> = withToken ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {};
        const reply = await rawRequest(`${service.url}${path}`, { method, headers: { ...headers, ...(type ? { 'content-type': type } : {}) }, body: method === 'GET' ? undefined : body });
        cases++;
        statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
        expect(reply.status).toBeLessThan(500);
        if (reply.status >= 400) expect(reply.json).toMatchObject({ result: 'error', message: expect.any(String) });
      }),
      { numRuns: RUNS_PER_PROPERTY },
    );
  });

  it('values whose toString the client controls (found by fuzzing) get a 400, not a 500', async () => {
    const hostile = { toString: '' };
    for (const body of [{ name: 'x', applies_to: [hostile] }, { name: 'y', api_ip_address: [hostile] }, { name: 'z', cycles: [hostile, 'Monthly'] }]) {
      const reply = await send(`${service.url}/api/sets`, 'POST', 'application/json', JSON.stringify(body), { authorization: `Bearer ${ADMIN_TOKEN}` });
      expect(reply.status).toBe(400);
      expect(Object.values(reply.json.fields as Record<string, string>).join(' ')).toContain('a object');
    }
    // A set of its own: the admin fuzzing above may have rotated the shared one.
    const own = localSetUrl(service, await makeSet(service));
    const bulk = await rawRequest(`${own}/codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: hostile, notes: [hostile] }) });
    expect(bulk.status).toBe(400);
  });

  it('unknown paths and methods', async () => {
    await fc.assert(
      fc.asyncProperty(fc.webPath(), fc.constantFrom('GET', 'POST', 'PATCH', 'OPTIONS', 'TRACE'), async (path, method) => {
        await send(`${service.url}${path.startsWith('/') ? path : `/${path}`}`, method, '', '');
      }),
      { numRuns: RUNS_PER_PROPERTY },
    );
    expect((await rawRequest(`${service.url}/healthz`)).status).toBe(200);
  });
});
