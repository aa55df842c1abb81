import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSet } from '../../src/service/sets.js';
import { localSetUrl } from '../http/helpers.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { startFakeSocketMode, type FakeSocketMode } from '../support/fake-socket-mode.js';
import { startTestService, type TestService } from '../support/service.js';
import { CHART_LAYOUT } from '../../src/charts/usage-chart.js';
import { decodePng, distinctColours } from '../support/png.js';

const ADMIN = 'UADMIN001';
const WHMCS_AUTH = 'identifier=whmcs-id&secret=whmcs-secret-value';
/** The CSV's code column (the second), header dropped. */
const csvCodes = (csv: string) => csv.trim().split('\n').slice(1).map((line) => line.split(',')[1]);

/**
 * promoset in Socket Mode (SLACK_APP_TOKEN set) against a fake Socket Mode
 * server: every request arrives as an envelope on the WebSocket and every
 * answer leaves as an ack on it; Web API calls go to the fake Web API.
 */
describe('Socket Mode end to end', () => {
  let web: FakeSlack;
  let socket: FakeSocketMode;
  let service: TestService;

  beforeAll(async () => {
    web = await startFakeSlack();
    socket = await startFakeSocketMode(web);
    service = await startTestService({
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_APP_TOKEN: 'xapp-test-token',
      SLACK_API_URL: web.apiUrl,
      PROMO_ADMINS: ADMIN,
      WHMCS_API_IDENTIFIER: 'whmcs-id',
      WHMCS_API_SECRET: 'whmcs-secret-value',
    });
    await socket.waitForConnection(1);
  });
  afterAll(async () => {
    await service?.stop();
    await socket?.stop();
    await web?.stop();
  });

  it('connects with the app token through apps.connections.open and runs in socket mode', () => {
    expect(service.slack?.mode).toBe('socket');
    expect(service.slack?.mounts).toEqual([]);
    const open = web.callsOf('apps.connections.open');
    expect(open).toHaveLength(1);
    expect(open[0].headers.authorization).toBe('Bearer xapp-test-token');
    expect(socket.connections).toBe(1);
  });

  it('/readyz reports Slack as ok once the socket is up (the bot token was checked through the fake)', async () => {
    const res = await fetch(`${service.url}/readyz`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).dependencies.slack).toBe('ok');
  });

  async function openedView(triggerId: string) {
    const call = await web.waitFor('views.open', (c) => c.body.trigger_id === triggerId);
    return { ...call.body.view, id: call.response?.view?.id };
  }

  it('/promo new opens the modal; a bad value gets inline errors in the ack; a good one creates the set', async () => {
    const command = socket.command('new Socket Sale');
    expect((await socket.ack(command.envelopeId)).payload).toEqual({});
    const view = await openedView(command.triggerId);
    expect(view.callback_id).toBe('promo_new_set');

    const bad = await socket.ack(socket.submit(view, { promo_value: '150' }));
    expect(bad.payload).toEqual({ response_action: 'errors', errors: { promo_value: 'A percentage value must be at most 100.' } });
    await expect(findSet(service.core, 'Socket Sale')).rejects.toThrow();

    const good = await socket.ack(socket.submit(view, { promo_value: '15', api_ip_address: 'any' }));
    expect(good.payload).toEqual({});
    const set = await findSet(service.core, 'Socket Sale');
    expect(set.promo_value).toBe('15.00');
    // The set URL serves it over HTTP.
    const details = await fetch(localSetUrl(service, set));
    expect(details.status).toBe(200);
    expect(await details.json()).toMatchObject({ name: 'Socket Sale', promo_value: 15 });
    // And its creator got the URL by DM.
    const dm = await web.waitFor('chat.postMessage', (c) => JSON.stringify(c.body.blocks ?? '').includes('Socket Sale'));
    expect(JSON.stringify(dm.body.blocks)).toContain(new URL(localSetUrl(service, set)).pathname);
  });

  it('/promo code <set> issues a code that GetPromotions also returns', async () => {
    const command = socket.command('code Socket Sale');
    expect((await socket.ack(command.envelopeId)).payload).toEqual({});
    const reply = await web.waitFor('response_url', (c) => c.path === new URL(command.responseUrl).pathname);
    const code = /```([^`]+)```/.exec(JSON.stringify(reply.body.blocks))?.[1];
    expect(code).toMatch(/^[23456789BCDFGHJKMNPQRSTWXZ]{8}$/);

    const listed = await fetch(`${service.url}/includes/api.php`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `action=GetPromotions&${WHMCS_AUTH}&code=${code}`,
    });
    expect(listed.status).toBe(200);
    const json = (await listed.json()) as any;
    expect(json.totalresults).toBe(1);
    expect(json.promotions.promotion[0]).toMatchObject({ code, value: '15.00', type: 'Percentage' });
  });

  it('/promo codes uploads a CSV of distinct codes (files.getUploadURLExternal, upload, completeUploadExternal)', async () => {
    const command = socket.command('codes Socket Sale 25');
    expect((await socket.ack(command.envelopeId)).payload).toEqual({});
    const view = await openedView(command.triggerId);
    expect(view.callback_id).toBe('promo_generate_codes');
    const submitted = await socket.ack(socket.submit(view, { code_prefix: 'SOCK' }));
    expect(submitted.payload).toEqual({});

    const complete = await web.waitFor('files.completeUploadExternal');
    const getUrl = web.callsOf('files.getUploadURLExternal').at(-1)!;
    expect(complete.body.files).toEqual([expect.objectContaining({ id: getUrl.response!.file_id })]);
    expect(complete.body.channel_id).toBe('C0PROMOS');
    const upload = web.callsOf('upload').find((c) => c.path === new URL(getUrl.response!.upload_url).pathname)!;
    const codes = csvCodes(upload.file!.text);
    expect(codes).toHaveLength(25);
    expect(new Set(codes.map((c) => c.toLowerCase())).size).toBe(25);
    for (const code of codes) expect(code).toMatch(/^SOCK-/);
  });

  it('App Home publishes on app_home_opened (an events_api envelope)', async () => {
    const envelope = socket.event({ type: 'app_home_opened', user: ADMIN, channel: 'D0HOME', tab: 'home', event_ts: `${Date.now() / 1000}` });
    expect((await socket.ack(envelope)).payload).toEqual({});
    const published = await web.waitFor('views.publish', (c) => c.body.user_id === ADMIN);
    expect(published.body.view.type).toBe('home');
    expect(JSON.stringify(published.body.view.blocks)).toContain('Socket Sale');
  });

  it('/promo report <set> answers with the chart (slack_file of the uploaded PNG) and uploads the daily CSV', async () => {
    const command = socket.command('report Socket Sale');
    expect((await socket.ack(command.envelopeId)).payload).toEqual({});
    const reply = await web.waitFor('response_url', (c) => c.path === new URL(command.responseUrl).pathname);
    expect(reply.body.text).toMatch(/^Socket Sale, last 30 days \(\d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}\): 26 codes issued, 0 redeemed/);
    const image = (reply.body.blocks as any[]).find((b) => b.type === 'image');
    const png = decodePng(web.uploadedBytes(image.slack_file.id)!);
    expect([png.width, png.height]).toEqual([CHART_LAYOUT.width, CHART_LAYOUT.height]);
    expect(distinctColours(png)).toBeGreaterThan(10);
    const csv = web.calls.filter((c) => c.method === 'upload' && c.file?.text.startsWith('date,issued,redeemed,voided,rolled_back\n')).at(-1)!;
    const lines = csv.file!.text.trim().split('\n');
    expect(lines).toHaveLength(31);
    expect(lines.at(-1)).toMatch(/^\d{4}-\d{2}-\d{2},26,0,0,0$/);
    const bad = socket.command('report Socket Sale 7x');
    await socket.ack(bad.envelopeId);
    expect((await web.waitFor('response_url', (c) => c.path === new URL(bad.responseUrl).pathname)).body.text).toContain('"7x" is not a report window');
  });

  it('a button press (block_actions) answers through its response_url', async () => {
    const set = await findSet(service.core, 'Socket Sale');
    const press = socket.press('set_generate_code', String(set.id));
    expect((await socket.ack(press.envelopeId)).payload).toEqual({});
    const reply = await web.waitFor('response_url', (c) => c.path === new URL(press.responseUrl).pathname);
    expect(reply.body.text).toMatch(/^A new code from \*Socket Sale\*: [A-Z0-9]{8}$/);
  });

  it('after a disconnect (refresh_requested) and a closed socket, the app reconnects and the next command works', async () => {
    socket.disconnect('refresh_requested');
    await socket.waitForConnection(2);
    expect(web.callsOf('apps.connections.open')).toHaveLength(2);

    const command = socket.command('list');
    expect((await socket.ack(command.envelopeId)).payload).toEqual({});
    const reply = await web.waitFor('response_url', (c) => c.path === new URL(command.responseUrl).pathname);
    expect(JSON.stringify(reply.body.blocks)).toContain('Socket Sale');
  });
});

describe('Socket Mode reconnect during a Slack outage', () => {
  it('a socket dropped while apps.connections.open fails keeps retrying, the HTTP API stays up, and Slack works again when it recovers', async () => {
    const web = await startFakeSlack();
    const socket = await startFakeSocketMode(web);
    const lines: string[] = [];
    const service = await startTestService({ SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_APP_TOKEN: 'xapp-test-token', SLACK_API_URL: web.apiUrl, PROMO_ADMINS: ADMIN }, { log: (line) => lines.push(line) });
    try {
      await socket.waitForConnection(1);
      // Slack's API answers 503 to every attempt the client makes on its first reconnect (3 with its retries), then recovers.
      web.failHttp('apps.connections.open', 503, 3);
      socket.disconnect('refresh_requested');
      await socket.waitForConnection(2);
      expect(web.callsOf('apps.connections.open').filter((c) => c.response?.http_status === 503)).toHaveLength(3);
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
      expect(lines.some((l) => l.includes('Socket Mode could not reconnect'))).toBe(true);

      const command = socket.command('help');
      expect((await socket.ack(command.envelopeId)).payload).toEqual({});
      const reply = await web.waitFor('response_url', (c) => c.path === new URL(command.responseUrl).pathname);
      expect(reply.body.text).toContain('/promo new');
    } finally {
      await service.stop();
      await socket.stop();
      await web.stop();
    }
  });
});
