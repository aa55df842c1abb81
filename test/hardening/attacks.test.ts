import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, rawRequest } from '../http/helpers.js';

/**
 * The attacks of issue 28's adversarial pass that held, kept held: each
 * answered with a 4xx in the error shape (or a harmless 2xx), never a 5xx,
 * never data it should not give, and the server keeps answering.
 */
const WHMCS = { WHMCS_API_IDENTIFIER: 'attack-identifier', WHMCS_API_SECRET: 'attack-secret-0123456789' };

/** Raw bytes in, raw bytes out: for requests no HTTP client would send. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.setEncoding('utf8').on('data', (d: string) => (text += d)).on('close', () => resolve(text)).on('error', reject);
    socket.setTimeout(5000, () => socket.destroy());
  });
}
const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);

describe('attacks that held (issue 28), kept held', () => {
  let service: TestService;
  let setUrl: string;
  let code: string;
  beforeAll(async () => {
    service = await startTestService({ RATE_LIMIT_PER_MINUTE: '3', AUTH_FAILURES_PER_MINUTE: '0', ...WHMCS });
    const set = await makeSet(service);
    setUrl = localSetUrl(service, set);
    code = (await postForm(setUrl, '')).json.code;
  });
  afterAll(() => service?.stop());

  it('request smuggling: Content-Length with Transfer-Encoding, or two Content-Lengths, is refused as not HTTP; nothing is issued', async () => {
    const path = new URL(setUrl).pathname;
    const both = await raw(service.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
    expect(statusOf(both)).toBe(400);
    expect(both).toContain('"code":"bad_request"');
    expect(both.match(/HTTP\/1\.1/g)).toHaveLength(1);
    const twice = await raw(service.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello`);
    expect(statusOf(twice)).toBe(400);
  });

  it('deeply nested JSON is a 400, not a stack overflow', async () => {
    const body = `${'['.repeat(30_000)}${']'.repeat(30_000)}`;
    const reply = await rawRequest(setUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(reply.status).toBe(400);
    const object = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    expect((await rawRequest(setUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: object })).status).toBe(400);
  });

  it('path traversal and encoded separators reach no file and no other route', async () => {
    for (const path of ['/sets/../api/sets', '/sets/..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd', '/sets/x/batches/..%2F..%2Fpackage.json.csv', '/openapi.json/../../package.json']) {
      const reply = await rawRequest(`${service.url}${path}`, { skipContract: true });
      expect(reply.status, path).toBeGreaterThanOrEqual(400);
      expect(reply.status, path).toBeLessThan(500);
      expect(reply.text, path).not.toMatch(/root:|"dependencies"/);
    }
  });

  it('CRLF in a path, a field or X-Request-Id never becomes a header', async () => {
    const injected = await rawRequest(`${setUrl}/promotions/${encodeURIComponent(`${code}\r\nSet-Cookie: pwned=1`)}`, { skipContract: true });
    expect(injected.status).toBeLessThan(500);
    expect(injected.headers['set-cookie']).toBeUndefined();
    const withField = await postForm(setUrl, `notes=${encodeURIComponent('x\r\nSet-Cookie: pwned=1')}`);
    expect(withField.headers['set-cookie']).toBeUndefined();
    const id = await raw(service.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc%0d%0aSet-Cookie:%20pwned=1\r\nConnection: close\r\n\r\n');
    expect(id).not.toMatch(/\r\nSet-Cookie/i);
    expect(id).not.toContain('abc%0d%0a');
  });

  it('SQL metacharacters are data: no error, no match, no LIKE wildcard', async () => {
    for (const probe of ["' OR '1'='1", '%', '_', "x'; drop table promotions; --", '\\']) {
      const validate = await rawRequest(`${setUrl}/promotions/${encodeURIComponent(probe)}`, { skipContract: true });
      expect([400, 404]).toContain(validate.status);
      const listed = await postForm(`${service.url}/includes/api.php`, new URLSearchParams({ action: 'GetPromotions', identifier: WHMCS.WHMCS_API_IDENTIFIER, secret: WHMCS.WHMCS_API_SECRET, code: probe }).toString());
      expect(listed.status, probe).toBe(200);
      expect(listed.json.totalresults, probe).toBe(0);
    }
    // The code is still there: nothing was dropped.
    expect((await rawRequest(`${setUrl}/promotions/${code}`)).json.valid).toBe(true);
  });

  it('X-Forwarded-For is ignored without TRUST_PROXY: rotating it neither changes the client nor its rate limit', async () => {
    const set = await makeSet(service, { api_ip_address: '203.0.113.0/24' });
    const spoofed = await postForm(localSetUrl(service, set), '', { 'x-forwarded-for': '203.0.113.9' });
    expect(spoofed.status).toBe(403);
    const open = await makeSet(service);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await postForm(localSetUrl(service, open), '', { 'x-forwarded-for': `198.51.100.${i}` })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it('the server still answers after all of it', async () => {
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });
});
