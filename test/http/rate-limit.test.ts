import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter, rateLimitClient } from '../../src/http/rate-limit.js';
import { countPromotions } from '../../src/store/promotions.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, rawRequest } from './helpers.js';

describe('rate limits on set URL POSTs', () => {
  let service: TestService;
  beforeAll(async () => {
    // Behind a trusted proxy, so the test can speak as several client addresses.
    service = await startTestService({ RATE_LIMIT_PER_MINUTE: '3', TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(() => service.stop());

  it('answers 429 with Retry-After past RATE_LIMIT_PER_MINUTE, per set and per client IP', async () => {
    const set = await makeSet(service);
    const url = localSetUrl(service, set);
    const as = (ip: string) => ({ 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i++) expect((await postForm(url, '', as('203.0.113.1'))).status).toBe(200);
    const limited = await postForm(url, '', as('203.0.113.1'));
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.json).toEqual({ result: 'error', code: 'rate_limited', fields: {}, message: `Too many code requests from your address to this promo set: the limit is 3 a minute. Retry in ${retryAfter} seconds.` });
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(3);
    // Another client, and another set, have their own allowance; GET is not limited.
    expect((await postForm(url, '', as('203.0.113.2'))).status).toBe(200);
    expect((await postForm(localSetUrl(service, await makeSet(service)), '', as('203.0.113.1'))).status).toBe(200);
    expect((await rawRequest(url, { headers: as('203.0.113.1') })).status).toBe(200);
  });

  it('counts an IPv6 client by its /64, so rotating addresses inside it gains nothing', async () => {
    const set = await makeSet(service);
    const url = localSetUrl(service, set);
    const from = (ip: string) => postForm(url, '', { 'x-forwarded-for': ip });
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::9']) expect((await from(ip)).status).toBe(200);
    expect((await from('2001:db8:1:2:abcd::7')).status).toBe(429);
    expect((await from('2001:db8:1:3::1')).status).toBe(200); // the next /64 is someone else
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(4);
  });

  it('gives bulk its own lower limit: max(1, limit / 60) a minute', async () => {
    const set = await makeSet(service);
    const url = `${localSetUrl(service, set)}/codes`;
    expect((await postForm(url, 'amount=2', { 'x-forwarded-for': '198.51.100.9' })).status).toBe(200);
    const limited = await postForm(url, 'amount=2', { 'x-forwarded-for': '198.51.100.9' });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(limited.json.message).toMatch(/^Too many bulk requests from your address to this promo set: the limit is 1 a minute\./);
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(2);
  });
});

describe('rateLimitClient', () => {
  it('keeps IPv4 as is and reduces IPv6 to its /64 in one spelling', () => {
    expect(rateLimitClient('203.0.113.7')).toBe('203.0.113.7');
    expect(rateLimitClient('2001:DB8:0001:0002:0:0:0:1')).toBe('2001:db8:1:2::/64');
    expect(rateLimitClient('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(rateLimitClient('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(rateLimitClient('::1')).toBe('0:0:0:0::/64');
  });
});

describe('RateLimiter windows', () => {
  it('opens a new window a minute after the first request, and 0 means off', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(2, () => now);
    expect([limiter.hit('k'), limiter.hit('k')]).toEqual([0, 0]);
    now += 15_000;
    expect(limiter.hit('k')).toBe(45);
    now += 45_000;
    expect(limiter.hit('k')).toBe(0);
    const off = new RateLimiter(0, () => now);
    for (let i = 0; i < 1000; i++) expect(off.hit('k')).toBe(0);
  });
});

describe('RATE_LIMIT_PER_MINUTE=0', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(() => service.stop());

  it('turns limiting off', async () => {
    const url = localSetUrl(service, await makeSet(service));
    for (let i = 0; i < 30; i++) expect((await postForm(url, '')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await postForm(`${url}/codes`, 'amount=1')).status).toBe(200);
  });
});
