import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSet, rotateSetKey } from '../../src/service/sets.js';
import { setToken } from '../../src/service/set-urls.js';
import { localSetUrl, makeSet, rawRequest } from '../http/helpers.js';
import { ADMIN, OTHER, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { createSet } from '../../src/service/sets.js';

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
    slack = await startSlackHarness({ ...SECRETS, RATE_LIMIT_PER_MINUTE: '3', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_BASE_SECONDS: '0.2' }, { log: (line) => log.push(line) });
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

  it('the webhook signing secret: admins see it in /promo info, others never; it is in no log, also when deliveries fail', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const set = await createSet(slack.service.core, { name: 'Hooked secret', webhook_url: receiver.url }, 'test');
      const secret = set.webhook_secret!;
      expect(secret).toMatch(/^whsec_/);
      receiver.fail(true); // failures are logged: the log must still not hold the secret

      const asAdmin = await slack.command('info Hooked secret', { user: ADMIN });
      expect((await slack.replyTo(asAdmin.responseUrl)).body.blocks.map((b: any) => b.text?.text ?? '').join('\n')).toContain(secret);
      const asOther = await slack.command('info Hooked secret', { user: OTHER });
      const otherReply = JSON.stringify((await slack.replyTo(asOther.responseUrl)).body);
      expect(otherReply).not.toContain(secret);
      expect(otherReply).not.toContain(receiver.url);
      const hooksAsOther = await slack.command('webhooks Hooked secret', { user: OTHER });
      expect(JSON.stringify((await slack.replyTo(hooksAsOther.responseUrl)).body)).toMatch(/Only managers of the promo set .* may manage webhooks/);

      const code = await slack.command('code Hooked secret', { user: ADMIN });
      await slack.replyTo(code.responseUrl);
      const rotated = await slack.command('webhooks Hooked secret rotate-secret', { user: ADMIN });
      const rotatedText = JSON.stringify((await slack.replyTo(rotated.responseUrl)).body);
      const newSecret = /whsec_[0-9a-f]{64}/.exec(rotatedText)?.[0];
      expect(newSecret).toBeDefined();
      expect(newSecret).not.toBe(secret);
      // Wait for a logged failed attempt, so the check below reads a log that has one.
      const deadline = Date.now() + 20_000;
      while (!log.some((line) => line.includes('webhook delivery failed')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(log.some((line) => line.includes('webhook delivery failed'))).toBe(true);
      const overview = await slack.command('webhooks Hooked secret', { user: ADMIN });
      expect(JSON.stringify((await slack.replyTo(overview.responseUrl)).body)).toContain('The receiver answered HTTP 500.');
      for (const value of [secret, newSecret!]) expect(log.join('\n')).not.toContain(value);
    } finally {
      await receiver.close();
    }
  });
});
