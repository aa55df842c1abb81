import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSet, rotateSetKey, setToken } from '../../src/service/sets.js';
import { localSetUrl, makeSet, rawRequest } from '../http/helpers.js';
import { startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

const SECRETS = {
  URL_SECRET: 'url-secret-never-logged-0123456789',
  ADMIN_API_TOKEN: 'admin-token-never-logged-0123',
  WHMCS_API_IDENTIFIER: 'whmcs-identifier-never-logged',
  WHMCS_API_SECRET: 'whmcs-secret-never-logged-012',
};

/**
 * Every transport, with logging at debug: api keys, set URL tokens, the URL
 * secret, admin/WHMCS credentials and Slack tokens appear neither in the log
 * nor in any error a client receives, also when requests fail.
 */
describe('secrets stay out of logs and error messages', () => {
  let slack: SlackHarness;
  const log: string[] = [];
  const replies: string[] = [];
  beforeAll(async () => {
    slack = await startSlackHarness({ ...SECRETS, RATE_LIMIT_PER_MINUTE: '3' }, { log: (line) => log.push(line) });
  });
  afterAll(() => slack.stop());

  it('holds across successes, failures, rotation and rate limiting', async () => {
    const { service } = slack;
    const set = await makeSet(service, { name: 'Secretive', api_ip_address: '10.9.9.9' });
    const url = localSetUrl(service, set);
    const base = service.url;
    const keep = async (p: Promise<{ text: string }>) => replies.push((await p).text);

    await keep(rawRequest(url, { method: 'POST' })); // 403: outside the allowlist
    await keep(rawRequest(url.replace(/.{4}$/, '0000'), { method: 'POST' })); // forged
    await keep(rawRequest(`${base}/api/sets`, { headers: { authorization: 'Bearer wrong-token-0123456789' } }));
    await keep(rawRequest(`${base}/api/sets`, { method: 'POST', headers: { authorization: `Bearer ${SECRETS.ADMIN_API_TOKEN}`, 'content-type': 'application/json' }, body: '{"name": "Secretive"}' }));
    await keep(rawRequest(`${base}/includes/api.php`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `action=GetPromotions&identifier=${SECRETS.WHMCS_API_IDENTIFIER}&secret=nope` }));
    await keep(rawRequest(`${base}/includes/api.php`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `action=Nope&identifier=${SECRETS.WHMCS_API_IDENTIFIER}&secret=${SECRETS.WHMCS_API_SECRET}` }));
    const open = await makeSet(service, { name: 'Open' });
    const openUrl = localSetUrl(service, open);
    for (let i = 0; i < 5; i++) await keep(rawRequest(openUrl, { method: 'POST' })); // the last two are rate limited
    await rotateSetKey(service.core, open.id, 'test');
    await keep(rawRequest(openUrl, { method: 'POST' })); // rotated: 404
    await slack.command('info Open');
    await slack.command('rotate Open');
    await slack.command('code Nope');

    const rotated = await getSet(service.core, open.id);
    const forbidden = [
      ...Object.values(SECRETS), 'xoxb-test-token', 'test-signing-secret-0123456789abcdef',
      set.api_key, open.api_key, rotated.api_key, setToken(service.core, set), setToken(service.core, rotated),
    ];
    const statuses = replies.length;
    expect(statuses).toBe(12);
    expect(log.length).toBeGreaterThan(0); // the test reads a real log
    for (const secret of forbidden) {
      expect(log.join('\n')).not.toContain(secret);
      expect(replies.join('\n')).not.toContain(secret);
    }
    // The 403 names the address seen, which is what a caller needs to fix it, and nothing more.
    expect(replies[0]).toContain('127.0.0.1');
  });
});
