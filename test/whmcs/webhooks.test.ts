import { afterAll, beforeAll, expect, it } from 'vitest';
import { postForm, rawRequest } from '../http/helpers.js';
import { startTestService, type TestService } from '../support/service.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';

/**
 * With WHMCS connected, `promotions.issued` is sent only once WHMCS holds the
 * codes, and it names them by their tblpromotions ids, as the replies do.
 */
const TOKEN = 'admin-token-whmcs-webhooks-0123';
const admin = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
/** The test server's own address for a set URL built from PUBLIC_URL. */
const localUrl = (service: TestService, url: string) => service.url + new URL(url).pathname;
const settings = { ADMIN_API_TOKEN: TOKEN, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_BASE_SECONDS: '0.2', RATE_LIMIT_PER_MINUTE: '0' };

async function hookedSet(service: TestService, name: string, webhookUrl: string) {
  const created = await rawRequest(`${service.url}/api/sets`, { method: 'POST', headers: admin, body: JSON.stringify({ name, api_ip_address: 'any', promo_value: '10', webhook_url: webhookUrl }) });
  expect(created.status, created.text).toBe(201);
  return created.json as { id: number; name: string; url: string; webhook_secret: string };
}

describeWithWhmcs('webhooks with the WHMCS sink (real MariaDB)', () => {
  const holder = useWhmcsDatabase();
  let receiver: WebhookReceiver;
  let service: TestService;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    service = await startTestService({ ...settings, WHMCS_DATABASE_URL: holder.whmcs.url });
  });
  afterAll(async () => {
    await service?.stop();
    await receiver?.close();
  });

  it('promotions.issued carries the tblpromotions ids the replies show, for single codes and bulk; WHMCS writes are timed', async () => {
    const set = await hookedSet(service, 'hooked-whmcs', receiver.url);
    receiver.setSecret(set.webhook_secret);
    const url = localUrl(service, set.url);

    const single = await postForm(url, '');
    expect(single.status).toBe(200);
    const bulk = await postForm(`${url}/codes`, 'amount=5');
    expect(bulk.status).toBe(200);
    await receiver.waitFor((r) => r.ofType('promotions.issued').length === 2, 'both issued events');

    const [one, five] = receiver.ofType('promotions.issued').sort((a, b) => a.body.data.count - b.body.data.count);
    expect(one.body.data.promotions).toEqual([single.json]);
    expect(five.body.data.promotions).toEqual(bulk.json.promotions);
    const sent = [single.json, ...bulk.json.promotions] as { id: number; code: string }[];
    const rows = await holder.whmcs.rows<{ id: number; code: string }>(`select id, code from tblpromotions where code in (${sent.map(() => '?').join(', ')})`, sent.map((p) => p.code));
    expect(new Map(rows.map((row) => [row.code, row.id]))).toEqual(new Map(sent.map((p) => [p.code, p.id])));
    // Two writes to WHMCS (one group commit, one bulk), timed in the metrics.
    const metrics = (await rawRequest(`${service.url}/metrics`)).text;
    expect(metrics).toMatch(/^promoset_whmcs_write_duration_seconds_count\{outcome="ok"\} 2$/m);
  });

  it('with WHMCS down nothing is issued and nothing is announced: no event is even queued', async () => {
    const down = await startTestService({ ...settings, WHMCS_DATABASE_URL: 'mysql://root@127.0.0.1:1/whmcs' });
    try {
      const set = await hookedSet(down, 'hooked-whmcs-down', receiver.url);
      const url = localUrl(down, set.url);
      expect((await postForm(url, '')).status).toBe(503);
      expect((await postForm(`${url}/codes`, 'amount=5')).status).toBe(503);
      const deliveries = await rawRequest(`${down.url}/api/sets/${set.id}/webhooks/deliveries`, { headers: admin });
      expect(deliveries.status).toBe(200);
      expect(deliveries.json.counts).toEqual({ pending: 0, delivered: 0, failed: 0 });
      expect(deliveries.json.deliveries).toEqual([]);
    } finally {
      await down.stop();
    }
  });
});
