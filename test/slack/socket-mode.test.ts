import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSet } from '../../src/service/sets.js';
import { localSetUrl } from '../http/helpers.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { startFakeSocketMode, type FakeSocketMode } from '../support/fake-socket-mode.js';
import { startTestService, type TestService } from '../support/service.js';
import { waitFor } from '../support/wait-for.js';
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

/**
 * Issue 19 in Socket Mode: the same roles, limits and approvals, every
 * request an envelope on the WebSocket.
 */
describe('Socket Mode: roles, limits and an approval', () => {
  const ISSUER = 'UISSUER01';
  const MANAGER = 'UMANAGER1';
  let web: FakeSlack;
  let socket: FakeSocketMode;
  let service: TestService;
  const text = (call: { body: Record<string, any> }) => `${call.body.text ?? ''} ${JSON.stringify(call.body.blocks ?? [])}`;

  beforeAll(async () => {
    web = await startFakeSlack();
    web.groups.set('S0SUPPORT', { handle: 'support', users: [ISSUER] });
    socket = await startFakeSocketMode(web);
    service = await startTestService({ SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_APP_TOKEN: 'xapp-test-token', SLACK_API_URL: web.apiUrl, PROMO_ADMINS: ADMIN });
    await socket.waitForConnection(1);
  });
  afterAll(async () => {
    await service?.stop();
    await socket?.stop();
    await web?.stop();
  });

  async function reply(text_: string, user: string): Promise<string> {
    const command = socket.command(text_, { user });
    expect((await socket.ack(command.envelopeId)).payload).toEqual({});
    return text(await web.waitFor('response_url', (c) => c.path === new URL(command.responseUrl).pathname));
  }
  async function modal(text_: string, user: string) {
    const command = socket.command(text_, { user });
    await socket.ack(command.envelopeId);
    const call = await web.waitFor('views.open', (c) => c.body.trigger_id === command.triggerId);
    return { ...call.body.view, id: call.response?.view?.id };
  }
  const batches = () => service.core.db.selectFrom('batches').select(['id', 'count', 'created_by']).orderBy('id').execute();

  it('an issuer in @support issues 5 codes; 500 becomes a request; a manager approves; the codes reach the asker; the audit names both', async () => {
    const created = await modal('new Governed', ADMIN);
    expect((await socket.ack(socket.submit(created, { promo_value: '10', api_ip_address: 'any' }))).payload).toEqual({});
    expect(await reply('access grant <!subteam^S0SUPPORT|@support> issuer', ADMIN)).toContain('is now *issuer* on every set');
    expect(await reply(`access grant <@${MANAGER}> manager Governed`, ADMIN)).toContain('is now *manager* on "Governed"');
    expect(await reply('code Governed', 'UVIEWER01')).toContain('Only issuers of the promo set "Governed" may generate codes');

    const five = await modal('codes Governed 5', ISSUER);
    expect((await socket.ack(socket.submit(five, {}, { user: ISSUER }))).payload).toEqual({});
    await web.waitFor('chat.postMessage', (c) => c.body.channel === 'C0PROMOS' && text(c).includes('Governed') && text(c).includes('codes_void'));
    expect((await batches()).filter((b) => b.created_by === `slack:${ISSUER}`).map((b) => Number(b.count))).toEqual([5]);

    const big = await modal('codes Governed 500', ISSUER);
    const refused = await socket.ack(socket.submit(big, {}, { user: ISSUER }));
    expect(refused.payload).toEqual({ response_action: 'errors', errors: { reason: expect.stringContaining('500 codes is more than your limit of 20 a request') } });
    expect((await socket.ack(socket.submit(big, { reason: 'Conference' }, { user: ISSUER }))).payload).toEqual({});
    const posted = await web.waitFor('chat.postMessage', (c) => c.body.channel === 'DMANAGER1' && text(c).includes('approval_approve'));
    const request = await service.core.db.selectFrom('approval_requests').selectAll().executeTakeFirstOrThrow();
    expect(request).toMatchObject({ asker: ISSUER, amount: 500, reason: 'Conference', status: 'pending' });
    const requestId = String(request.id);
    expect(JSON.stringify(posted.body.blocks)).toContain(`"value":"${requestId}"`);

    const own = socket.press('approval_approve', requestId!, { user: ISSUER });
    await socket.ack(own.envelopeId);
    expect(text(await web.waitFor('response_url', (c) => c.path === new URL(own.responseUrl).pathname))).toContain('Only managers of the promo set "Governed" may decide approval requests');

    const approve = socket.press('approval_approve', requestId!, { user: MANAGER });
    expect((await socket.ack(approve.envelopeId)).payload).toEqual({});
    await web.waitFor('files.completeUploadExternal', (c) => c.body.channel_id === 'DISSUER01');
    const mine = (await batches()).filter((b) => b.created_by === `slack:${ISSUER}`).map((b) => Number(b.count));
    expect(mine).toEqual([5, 500]);
    await web.waitFor('chat.update', (c) => text(c).includes(`Approved by <@${MANAGER}>`));
    const audit = await reply('audit Governed', ADMIN);
    expect(audit).toContain(`approved request #${requestId} (500 codes asked by <@${ISSUER}>) by <@${MANAGER}>`);

    // Removed from @support (an events_api envelope): the issuer role goes at once.
    web.groups.set('S0SUPPORT', { handle: 'support', users: [] });
    expect((await socket.ack(socket.event({ type: 'subteam_members_changed', subteam_id: 'S0SUPPORT', team_id: 'T0FAKE', removed_users: [ISSUER], removed_users_count: '1' }))).payload).toEqual({});
    await waitFor(() => service.core.db.selectFrom('access_groups').select('members').where('group_id', '=', 'S0SUPPORT').executeTakeFirst(), (row) => row?.members === '', '@support to be emptied', { timeoutMs: 10_000, intervalMs: 20 });
    expect(await reply('codes Governed 3', ISSUER)).toContain('Only issuers of the promo set "Governed" may generate codes. You are a viewer here');
  });
});
