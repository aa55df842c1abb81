import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpAllowlists } from '../../src/http/allowlist.js';
import { createClientIpResolver, normaliseIp } from '../../src/http/client-ip.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, rawRequest } from './helpers.js';

describe('IP allowlists', () => {
  const lists = new IpAllowlists();

  it('matches IPv4, IPv6, CIDRs of both, and "any"', () => {
    const list = '203.0.113.7, 10.0.0.0/8, 2001:db8::/32, ::1';
    for (const ip of ['203.0.113.7', '10.255.0.1', '2001:db8:1::5', '::1']) expect(lists.allows(list, ip), ip).toBe(true);
    for (const ip of ['203.0.113.8', '11.0.0.1', '2001:db9::1', '::2', '', 'garbage']) expect(lists.allows(list, ip), ip).toBe(false);
    expect(lists.allows('any', '198.51.100.1')).toBe(true);
    expect(lists.allows('any', '2001:db8::1')).toBe(true);
  });

  it('reads an IPv4 client on a dual-stack socket as IPv4', () => {
    expect(normaliseIp('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(lists.allows('203.0.113.0/24', normaliseIp('::FFFF:203.0.113.9'))).toBe(true);
  });

  it('stops at a malformed X-Forwarded-For hop instead of trusting what is left of it', () => {
    const resolve = createClientIpResolver(['127.0.0.1']);
    const req = (xff: string) => ({ socket: { remoteAddress: '::ffff:127.0.0.1' }, headers: { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;
    expect(resolve(req('203.0.113.7'))).toBe('203.0.113.7');
    expect(resolve(req('203.0.113.7, not-an-ip'))).toBe('127.0.0.1');
    expect(resolve(req('198.51.100.1, 127.0.0.1'))).toBe('198.51.100.1');
  });
});

describe('an IPv6 client over real HTTP', () => {
  let service: TestService;
  let ipv6 = true;
  beforeAll(async () => {
    service = await startTestService();
    ipv6 = await fetch(`http://[::1]:${service.port}/healthz`).then(() => true, () => false);
  });
  afterAll(() => service.stop());

  it('is matched as an IPv6 address', async (context) => {
    if (!ipv6) context.skip();
    const set = await makeSet(service, { api_ip_address: '::1/128' });
    const path = new URL(localSetUrl(service, set)).pathname;
    expect((await rawRequest(`http://[::1]:${service.port}${path}`)).status).toBe(200);
    const v4 = await rawRequest(`http://127.0.0.1:${service.port}${path}`);
    expect(v4.status).toBe(403);
    expect(v4.json.message).toContain('Requests from IP 127.0.0.1 ');
  });
});
