import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { generatePromotions } from '../../src/service/generate.js';
import { setToken } from '../../src/service/set-urls.js';
import { startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, postJson, rawRequest } from './helpers.js';

/** One sample's value from Prometheus text, or 0 when the series does not exist yet. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',').filter(Boolean);
    if (wanted.every((label) => have.includes(label))) return Number(match[3]);
  }
  return 0;
}

describe('GET /openapi.json', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.stop());

  it('is a valid OpenAPI 3.1 document covering every route, with no real token in it', async () => {
    const set = await makeSet(service);
    const reply = await rawRequest(`${service.url}/openapi.json`);
    expect(reply.status).toBe(200);
    const document = reply.json;
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(document.paths).sort()).toEqual([
      '/api/access', '/api/access/revoke',
      '/api/clients/{client}/promotions', '/api/promotions/{code}/unvoid', '/api/promotions/{code}/void',
      '/api/sets', '/api/sets/{id}', '/api/sets/{id}/audit', '/api/sets/{id}/batches/{batch}/unvoid', '/api/sets/{id}/batches/{batch}/void', '/api/sets/{id}/codes', '/api/sets/{id}/promotions', '/api/sets/{id}/rotate', '/api/sets/{id}/usage',
      '/api/sets/{id}/webhooks/deliveries', '/api/sets/{id}/webhooks/deliveries/{eventId}/resend', '/api/sets/{id}/webhooks/rotate-secret',
      '/healthz', '/includes/api.php', '/metrics', '/openapi.json', '/readyz',
      '/sets/{token}', '/sets/{token}/batches/{batchId}.csv', '/sets/{token}/codes',
      '/sets/{token}/promotions/{code}', '/sets/{token}/redemptions', '/sets/{token}/redemptions/{id}/rollback',
      '/whmcs/hooks',
    ]);
    // Request bodies come from the routes' parsers: the bulk body knows `amount`, the set URL's the seed's overrides.
    const bulk = document.paths['/sets/{token}/codes'].post;
    expect(Object.keys(bulk.requestBody.content['application/json'].schema.properties)).toEqual(expect.arrayContaining(['amount', 'code_prefix', 'name', 'value', 'format']));
    expect(Object.keys(document.paths['/sets/{token}'].post.requestBody.content['application/json'].schema.properties).sort()).toEqual(['client_email', 'client_id', 'expiry_date', 'name', 'notes', 'promo_code_type', 'start_date', 'value']);
    // Errors are documented with their codes.
    expect(bulk.responses['429'].content['application/json'].schema.properties.code.enum).toEqual(['rate_limited']);
    expect(bulk.responses['400'].content['application/json'].schema.properties.code.enum).toEqual(['validation_failed', 'bad_request']);
    expect(reply.text).not.toContain(set.api_key);
    expect(reply.text).not.toContain(setToken(service.core, set));
  });

  it('documents /readyz as rel built it (the reply passes the contract check)', async () => {
    const reply = await rawRequest(`${service.url}/readyz`);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ status: 'ready', dependencies: { database: 'ok', slack: 'off' } });
  });

  it('is what the HTTP tests check replies against: an undocumented status fails', async () => {
    const { checkAgainstOpenApi } = await import('../support/openapi-contract.js');
    const json = { 'content-type': 'application/json; charset=utf-8' };
    expect(() => checkAgainstOpenApi('GET', '/healthz', { status: 500, headers: json, text: '{}' })).toThrow(/does not list/);
    expect(() => checkAgainstOpenApi('GET', '/sets/abc', { status: 200, headers: json, text: '{"id":1}' })).toThrow(/does not match/);
    expect(() => checkAgainstOpenApi('POST', '/sets/abc', { status: 429, headers: json, text: '{"result":"error","message":"x","code":"forbidden","fields":{}}' })).toThrow(/does not match/);
    expect(() => checkAgainstOpenApi('GET', '/healthz', { status: 200, headers: json, text: '{"status":"ok"}' })).not.toThrow();
  });
});

describe('GET /metrics', () => {
  let slack: SlackHarness;
  beforeAll(async () => {
    slack = await startSlackHarness({ RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(() => slack.stop());

  it('counts codes by source, redemptions by outcome, refusals, Slack acks and request durations by route template', async () => {
    const { service } = slack;
    const set = await makeSet(service, { name: 'Metered', max_uses: 1 });
    const url = localSetUrl(service, set);
    const before = (await rawRequest(`${service.url}/metrics`)).text;

    expect((await rawRequest(url, { method: 'POST' })).status).toBe(200);
    const bulk = await postJson(`${url}/codes`, { amount: 7 });
    expect(bulk.status).toBe(200);
    // Redemptions by outcome: one counted, then refused as used up (max_uses 1).
    expect((await postJson(`${url}/redemptions`, { code: bulk.json.promotions[0].code })).status).toBe(200);
    expect((await postJson(`${url}/redemptions`, { code: bulk.json.promotions[0].code })).status).toBe(409);
    const { responseUrl } = await slack.command('code Metered');
    expect(JSON.stringify((await slack.replyTo(responseUrl)).body)).toMatch(/Metered/);
    expect((await rawRequest(url.replace(/.{4}$/, '0000'), { method: 'POST' })).status).toBe(404); // forged token
    expect((await rawRequest(url, { method: 'POST' })).status).toBe(200);
    expect((await rawRequest(url, { method: 'POST' })).status).toBe(429); // RATE_LIMIT_PER_MINUTE=2
    // The CLI's actor (in its own process it counts in its own registry; here, in the server's).
    await generatePromotions(service.core, set, { amount: 3 }, 'cli:tester');

    const after = await rawRequest(`${service.url}/metrics`);
    expect(after.status).toBe(200);
    expect(after.headers['content-type']).toMatch(/^text\/plain/);
    const moved = (name: string, labels: Record<string, string> = {}) => sample(after.text, name, labels) - sample(before, name, labels);
    expect(moved('promoset_codes_issued_total', { source: 'set_url' })).toBe(2);
    expect(moved('promoset_codes_issued_total', { source: 'bulk' })).toBe(7);
    expect(moved('promoset_codes_issued_total', { source: 'slack' })).toBe(1);
    expect(moved('promoset_codes_issued_total', { source: 'cli' })).toBe(3);
    expect(moved('promoset_slack_acks_total', { kind: 'command' })).toBe(1);
    expect(moved('promoset_redemptions_total', { outcome: 'redeemed' })).toBe(1);
    expect(moved('promoset_redemptions_total', { outcome: 'promotion_used_up' })).toBe(1);
    expect(moved('promoset_http_refused_total', { route: '/sets/{token}', reason: 'not_found' })).toBe(1);
    expect(moved('promoset_http_refused_total', { route: '/sets/{token}', reason: 'rate_limited' })).toBe(1);
    expect(moved('promoset_http_request_duration_seconds_count', { method: 'POST', route: '/sets/{token}', status: '200' })).toBe(2);
    expect(moved('promoset_http_request_duration_seconds_count', { method: 'POST', route: '/sets/{token}/codes', status: '200' })).toBe(1);
    expect(after.text).toMatch(/^promoset_process_cpu_seconds_total /m); // default process metrics
    expect(after.text).not.toContain(set.api_key);
    expect(after.text).not.toContain(setToken(service.core, set));
    expect(after.text).not.toMatch(/route="\/sets\/(?!\{token\})/);
  });
});

describe('METRICS_TOKEN', () => {
  let service: TestService;
  const token = 'metrics-token-0123456789';
  beforeAll(async () => {
    service = await startTestService({ METRICS_TOKEN: token });
  });
  afterAll(() => service.stop());

  it('requires the bearer token when set', async () => {
    const none = await rawRequest(`${service.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.json.code).toBe('unauthorized');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await rawRequest(`${service.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const ok = await rawRequest(`${service.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('promoset_codes_issued_total');
  });
});

describe('access log and X-Request-Id', () => {
  let service: TestService;
  const lines: string[] = [];
  beforeAll(async () => {
    service = await startTestService({}, { log: (line) => lines.push(line) });
  });
  afterAll(() => service.stop());

  const accessLines = () => lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request');

  it('logs one line per request with the route template, never the token', async () => {
    const set = await makeSet(service);
    const url = localSetUrl(service, set);
    const reply = await postForm(url, '', { 'x-request-id': 'partner-req.42:a_b-c' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-request-id']).toBe('partner-req.42:a_b-c');
    const entries = accessLines().filter((entry) => entry.requestId === 'partner-req.42:a_b-c');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ level: 'info', method: 'POST', route: '/sets/{token}', status: 200, ip: '127.0.0.1' });
    expect(typeof entries[0].durationMs).toBe('number');
    expect(typeof entries[0].time).toBe('string');
    expect(lines.join('\n')).not.toContain(setToken(service.core, set));
    expect(lines.join('\n')).not.toContain(set.api_key);
  });

  it("a bulk batch's access line carries its batch id and count, in JSON and CSV, and on a CSV download", async () => {
    const set = await makeSet(service);
    const url = localSetUrl(service, set);
    const json = await postForm(`${url}/codes`, 'amount=25', { 'x-request-id': 'bulk-json-1' });
    expect(json.status).toBe(200);
    const batchId = (json.json as { batch_id: number }).batch_id;
    const csv = await postForm(`${url}/codes?format=csv`, 'amount=3', { 'x-request-id': 'bulk-csv-1' });
    expect(csv.status).toBe(200);
    const csvBatch = Number(csv.headers['x-batch-id']);
    const again = await rawRequest(`${url}/batches/${batchId}.csv`, { headers: { 'x-request-id': 'bulk-again-1' } });
    expect(again.status).toBe(200);
    const line = (id: string) => accessLines().find((entry) => entry.requestId === id);
    expect(line('bulk-json-1')).toMatchObject({ route: '/sets/{token}/codes', status: 200, batchId, count: 25 });
    expect(line('bulk-csv-1')).toMatchObject({ route: '/sets/{token}/codes', status: 200, batchId: csvBatch, count: 3 });
    expect(line('bulk-again-1')).toMatchObject({ route: '/sets/{token}/batches/{batchId}.csv', status: 200, batchId, count: 25 });
  });

  it('generates a request id when none or an insane one is sent', async () => {
    const plain = await rawRequest(`${service.url}/healthz`);
    expect(plain.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    for (const bad of ['has space', 'x'.repeat(129), 'new\u00e9line', '{"json":1}']) {
      const reply = await rawRequest(`${service.url}/healthz`, { headers: { 'x-request-id': bad } });
      expect(reply.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(lines.join('\n')).not.toContain(bad);
    }
    const missing = await rawRequest(`${service.url}/nothing/here`);
    expect(missing.status).toBe(404);
    expect(accessLines().find((entry) => entry.requestId === missing.headers['x-request-id'])).toMatchObject({ route: 'unmatched', status: 404 });
  });
});

describe('the logger', () => {
  it('writes pino JSON lines at the configured level and redacts secret fields', () => {
    const lines: string[] = [];
    const logger = createLogger('info', (line) => lines.push(line));
    logger.debug('hidden');
    logger.info('shown', { headers: { authorization: 'Bearer abc-secret' }, token: 'xoxb-1', count: 3 });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({ level: 'info', msg: 'shown', count: 3, token: '[redacted]', headers: { authorization: '[redacted]' } });
    expect(lines[0]).not.toContain('abc-secret');
    expect(lines[0]).not.toContain('xoxb-1');
  });

  it('writes the same line shape built directly as through pino (a cycle, an err)', () => {
    const lines: string[] = [];
    const logger = createLogger('info', (line) => lines.push(line));
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    logger.info('plain', { count: 3, note: 'naïve "quoted"' });
    logger.warn('cyclic', { cyclic });
    logger.error('failed', { err: new Error('boom') });
    expect(lines).toHaveLength(3);
    expect(lines.every((line) => line.endsWith('\n'))).toBe(true);
    const [plain, cycle, failed] = lines.map((line) => JSON.parse(line));
    expect(Object.keys(plain)).toEqual(['level', 'time', 'msg', 'count', 'note']);
    expect(plain).toMatchObject({ level: 'info', msg: 'plain', count: 3, note: 'naïve "quoted"' });
    expect(new Date(plain.time).toISOString()).toBe(plain.time);
    // JSON.stringify cannot write these: pino does, in the same shape.
    expect(Object.keys(cycle).slice(0, 3)).toEqual(['level', 'time', 'msg']);
    expect(cycle).toMatchObject({ level: 'warn', msg: 'cyclic', cyclic: { name: 'loop' } });
    expect(failed).toMatchObject({ level: 'error', msg: 'failed', err: { type: 'Error', message: 'boom' } });
  });

  it("writes an access line exactly as info('request', …) writes the same fields, extras included", () => {
    const lines: string[] = [];
    const logger = createLogger('info', (line) => lines.push(line));
    const fields = { method: 'POST', route: '/sets/{token}/"quoted"\\', status: 409, durationMs: 12.345, ip: '2001:db8::1', requestId: 'req-1' };
    logger.access(fields);
    logger.info('request', fields);
    logger.access({ ...fields, extras: { batchId: 7, count: 25 } });
    logger.info('request', { ...fields, batchId: 7, count: 25 });
    expect(lines).toHaveLength(4);
    // The same bytes but for the time field.
    const untimed = lines.map((line) => line.replace(/"time":"[^"]+"/, '"time":""'));
    expect(untimed[0]).toBe(untimed[1]);
    expect(untimed[2]).toBe(untimed[3]);
    expect(Object.keys(JSON.parse(lines[2]))).toEqual(['level', 'time', 'msg', 'method', 'route', 'status', 'durationMs', 'ip', 'requestId', 'batchId', 'count']);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'info', msg: 'request', route: '/sets/{token}/"quoted"\\', status: 409, durationMs: 12.345 });

    const quiet: string[] = [];
    createLogger('warn', (line) => quiet.push(line)).access(fields);
    expect(quiet).toEqual([]);
  });

  it('LOG_FORMAT=pretty prints a human-readable line instead of JSON', () => {
    const lines: string[] = [];
    const logger = createLogger('info', (line) => lines.push(line), 'pretty');
    logger.warn('disk nearly full', { percent: 97, secret: 'hush' });
    expect(lines).toHaveLength(1);
    expect(() => JSON.parse(lines[0])).toThrow();
    expect(lines[0]).toMatch(/WARN.*disk nearly full/);
    expect(lines[0]).toMatch(/percent: 97/);
    expect(lines[0]).not.toContain('hush');
  });

  it('reads LOG_FORMAT and METRICS_TOKEN from the environment, refusing bad values with a clear line', () => {
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).LOG_FORMAT).toBe('pretty');
    expect(loadConfig({}).LOG_FORMAT).toBe('json');
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow('Invalid configuration: LOG_FORMAT must be one of json, pretty.');
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow('Invalid configuration: METRICS_TOKEN must be at least 16 characters.');
  });
});
