import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import type { PromoSet } from '../../src/domain/set.js';
import { operatorActor } from '../../src/service/access.js';
import { grantAccess } from '../../src/service/access-grants.js';
import { archiveSet, createSet } from '../../src/service/sets.js';
import type { FakeSlack, RecordedCall } from '../support/fake-slack.js';
import { startFakeSlack } from '../support/fake-slack.js';
import { startFakeSocketMode, type FakeSocketMode } from '../support/fake-socket-mode.js';
import { startTestService, type TestService } from '../support/service.js';
import { ADMIN, SIGNING_SECRET, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { send, signInteractive } from '../support/slack-signing.js';
import { FUNCTION_TOKEN, functionExecuted, globalShortcut, messageShortcut } from '../support/workflow.js';
import { waitFor } from '../support/wait-for.js';

const ISSUER = 'UISSUER01';
const AGENT = 'UAGENT001';
const VIEWER = 'UVIEWER01';
const WHMCS_ENV = { WHMCS_API_IDENTIFIER: 'whmcs-id', WHMCS_API_SECRET: 'whmcs-secret-value' };
const WHMCS_AUTH = 'identifier=whmcs-id&secret=whmcs-secret-value';
/** The fake's DM channel with a user (conversations.open). */
const dm = (user: string) => `D${user.slice(1)}`;
const blocksText = (call: RecordedCall) => `${call.body.text ?? ''} ${JSON.stringify(call.body.blocks ?? [])}`;

async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  return (await waitFor(probe, (value) => Boolean(value), what, { timeoutMs, intervalMs: 20 })) as T;
}

/** The call that ended a step: functions.completeSuccess or functions.completeError for its execution id. */
function stepEnd(fake: FakeSlack, executionId: string, timeoutMs?: number): Promise<RecordedCall> {
  return until(
    // A call the fake refused at the HTTP level (429, 503) did not end the step.
    () => fake.calls.find((c) => (c.method === 'functions.completeSuccess' || c.method === 'functions.completeError') && c.body.function_execution_id === executionId && c.response?.http_status === undefined),
    `the end of step ${executionId}`,
    timeoutMs,
  );
}

async function getPromotion(service: TestService, code: string): Promise<any> {
  const res = await fetch(`${service.url}/includes/api.php`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `action=GetPromotions&${WHMCS_AUTH}&code=${encodeURIComponent(code)}&responsetype=json`,
  });
  expect(res.status).toBe(200);
  const json = (await res.json()) as any;
  return json.totalresults === 1 ? json.promotions.promotion[0] : undefined;
}

async function setUp(service: TestService) {
  const core = service.core;
  const alpha = await createSet(core, { name: 'apology-10', promo_value: '10' }, 'test');
  const beta = await createSet(core, { name: 'Beta', promo_value: '20' }, 'test');
  const old = await createSet(core, { name: 'Old Sale', promo_value: '5' }, 'test');
  await archiveSet(core, old.id, 'test');
  await grantAccess(core, operatorActor('test'), ISSUER, 'issuer', ['apology-10']);
  return { alpha, beta, old };
}

describeEachDialect('Workflow Builder steps and shortcuts (HTTP mode, Events API)', (dialect) => {
  const db = useTestDatabase(dialect);
  let slack: SlackHarness;
  let alpha: PromoSet;
  let beta: PromoSet;

  beforeAll(async () => {
    slack = await startSlackHarness({ ...WHMCS_ENV, DATABASE_URL: db.database.url });
    ({ alpha, beta } = await setUp(slack.service));
  });
  afterAll(async () => {
    await slack?.stop();
  });

  const promotionCount = async () => Number((await slack.service.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  async function step(callbackId: string, inputs: Record<string, unknown>, timeoutMs?: number): Promise<RecordedCall> {
    const { event, executionId } = functionExecuted(callbackId, inputs);
    const res = await slack.event(event);
    // Acknowledged at once, with an empty 200: the work completes the step later.
    expect(res.status).toBe(200);
    return stepEnd(slack.fake, executionId, timeoutMs);
  }

  it('issue_promo_code issues a code GetPromotions returns, DMs it to the recipient and completes with real outputs', async () => {
    const end = await step('issue_promo_code', { set: 'apology-10', requested_by: ISSUER, recipient: AGENT, value: '15', expiry_date: '2099-12-31', note: 'ticket 4411', client_email: 'ann@example.com' });
    expect(end.method).toBe('functions.completeSuccess');
    // Bolt answered with the step's own token (attachFunctionToken).
    expect(end.headers.authorization).toBe(`Bearer ${FUNCTION_TOKEN}`);
    const outputs = end.body.outputs;
    expect(Object.keys(outputs).sort()).toEqual(['code', 'expiration_date', 'promotion_id']);
    const listed = await getPromotion(slack.service, outputs.code);
    expect(listed).toMatchObject({ id: outputs.promotion_id, code: outputs.code, value: '15.00', expirationdate: '2099-12-31' });
    expect(outputs.expiration_date).toBe('2099-12-31');
    expect(listed.notes).toContain('ticket 4411');
    // Bound to the customer the step named.
    const bound = await slack.service.core.db.selectFrom('promotion_bindings').innerJoin('promotions', 'promotions.id', 'promotion_bindings.promotion_id').select(['promotion_bindings.client_email', 'promotion_bindings.client_id']).where('promotions.code', '=', outputs.code).execute();
    expect(bound).toEqual([{ client_email: 'ann@example.com', client_id: null }]);
    const sent = await slack.fake.waitFor('chat.postMessage', (c) => c.body.channel === dm(AGENT) && blocksText(c).includes(outputs.code));
    expect(blocksText(sent)).toContain('apology-10');
    // Counted against the issuer's day, as a slash command would be.
    const batches = await slack.service.core.db.selectFrom('batches').selectAll().where('created_by', '=', `slack:${ISSUER}`).execute();
    expect(batches).toHaveLength(1);
  });

  it('a step for a viewer fails with a sentence and issues nothing', async () => {
    const before = await promotionCount();
    const end = await step('issue_promo_code', { set: 'apology-10', requested_by: VIEWER });
    expect(end.method).toBe('functions.completeError');
    expect(end.body.error).toBe('Only issuers of the promo set "apology-10" may generate codes. You are a viewer here; ask an owner or a manager to grant you a role (/promo access).');
    expect(await promotionCount()).toBe(before);
  });

  it('bad input ends the step with completeError and a sentence, and issues nothing', async () => {
    const before = await promotionCount();
    const cases: [string, Record<string, unknown>, string][] = [
      ['issue_promo_code', { set: 'apolgy-10', requested_by: ISSUER }, 'There is no promo set "apolgy-10". Did you mean "apology-10"?'],
      ['issue_promo_code', { set: 'Beta', requested_by: ISSUER }, 'Only issuers of the promo set "Beta" may generate codes.'],
      ['issue_promo_code', { set: 'Old Sale', requested_by: ADMIN }, 'The promo set "Old Sale" is archived; it no longer issues codes.'],
      ['issue_promo_code', { set: 'apology-10' }, 'This step needs *Requested by*'],
      ['issue_promo_code', { set: 'apology-10', requested_by: 'bob' }, '*Requested by* must be a Slack user'],
      ['issue_promo_code', { set: 'apology-10', requested_by: ISSUER, expiry_date: '2099-13-45' }, 'Expiry date: "2099-13-45" is not a date; write it as YYYY-MM-DD.'],
      ['issue_promo_code', { set: 'apology-10', requested_by: ISSUER, client_id: -4 }, 'The WHMCS client id must be a whole number of 1 or more'],
      ['issue_promo_code', { set: 'apology-10', requested_by: ISSUER, client_email: 'not-an-email' }, 'is not an email address'],
      ['issue_promo_codes', { set: 'apology-10', requested_by: ADMIN, amount: 0 }, 'amount'],
      ['issue_promo_codes', { set: 'apology-10', requested_by: ADMIN, amount: 100_001 }, 'amount'],
      ['issue_promo_codes', { set: 'apology-10', requested_by: ADMIN }, 'This step needs *How many codes*'],
      ['issue_promo_codes', { set: 'apology-10', requested_by: ISSUER, amount: 25 }, 'This is over your limits: 25 codes is more than your limit of 20 a request. To ask a manager for approval, run `/promo codes'],
      ['void_promo_code', { code: 'NOSUCHCODE', requested_by: ADMIN }, 'There is no promotion NOSUCHCODE'],
    ];
    for (const [callbackId, inputs, expected] of cases) {
      const end = await step(callbackId, inputs);
      expect({ inputs, method: end.method }).toEqual({ inputs, method: 'functions.completeError' });
      expect(end.body.error, JSON.stringify(inputs)).toContain(expected);
    }
    expect(await promotionCount()).toBe(before);
    // An amount out of range names the range.
    const zero = await step('issue_promo_codes', { set: 'apology-10', requested_by: ADMIN, amount: 0 });
    expect(zero.body.error).toMatch(/1.*100,?000/);
  });

  it('a function_executed retried by Slack (same event_id) runs the step once', async () => {
    const before = await promotionCount();
    const { event, executionId } = functionExecuted('issue_promo_code', { set: 'apology-10', requested_by: ADMIN });
    expect((await slack.event(event, { eventId: 'EvRETRIEDSTEP' })).status).toBe(200);
    const end = await stepEnd(slack.fake, executionId);
    expect((await slack.event(event, { eventId: 'EvRETRIEDSTEP', sign: { headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } } })).status).toBe(200);
    await slack.service.slack!.idle();
    expect(end.method).toBe('functions.completeSuccess');
    expect(slack.fake.calls.filter((c) => c.method.startsWith('functions.complete') && c.body.function_execution_id === executionId)).toHaveLength(1);
    expect(await promotionCount()).toBe(before + 1);
  });

  it('a rate-limited functions.completeSuccess is sent again after Slack\'s Retry-After, not before', async () => {
    slack.fake.rateLimit('functions.completeSuccess', 1);
    const accepted = await step('issue_promo_code', { set: 'apology-10', requested_by: ADMIN });
    expect(accepted.method).toBe('functions.completeSuccess');
    const limited = slack.fake.calls.filter((c) => c.method === 'functions.completeSuccess' && c.response?.http_status === 429);
    expect(limited).toHaveLength(1);
    // The same execution, asked again once Retry-After (1 s) had passed.
    expect(accepted.body.function_execution_id).toBe(limited[0].body.function_execution_id);
    expect(accepted.at! - limited[0].at!).toBeGreaterThanOrEqual(950);
  });

  it('check_promo_code and void_promo_code: real values; a code of another set is not found; voiding takes a manager', async () => {
    const issued = await step('issue_promo_code', { set: 'Beta', requested_by: ADMIN });
    const code = issued.body.outputs.code as string;

    const check = await step('check_promo_code', { set: 'Beta', code: code.toLowerCase() });
    expect(check.method).toBe('functions.completeSuccess');
    expect(check.body.outputs).toEqual({ valid: true, uses: 0, max_uses: beta.max_uses });

    const other = await step('check_promo_code', { set: 'apology-10', code });
    expect(other.method).toBe('functions.completeError');
    expect(other.body.error).toContain(code);

    const refused = await step('void_promo_code', { code, requested_by: ISSUER });
    expect(refused.method).toBe('functions.completeError');
    expect(refused.body.error).toContain('Only managers of the promo set "Beta" may void codes.');
    expect((await getPromotion(slack.service, code)).expirationdate).not.toBe('voided');

    const voided = await step('void_promo_code', { code, requested_by: ADMIN });
    expect(voided.method).toBe('functions.completeSuccess');
    expect(voided.body.outputs).toEqual({ voided: true });
    const after = await step('check_promo_code', { set: 'Beta', code });
    expect(after.body.outputs).toMatchObject({ valid: false, reason: 'voided' });
  });

  it('a 10,000-code step completes with the id of a CSV file shared with requested_by', async () => {
    const end = await step('issue_promo_codes', { set: 'apology-10', requested_by: ADMIN, amount: 10_000, note: 'spring mailing' }, 240_000);
    expect(end.method).toBe('functions.completeSuccess');
    const { batch_id: batchId, count, file_id: fileId } = end.body.outputs;
    expect(count).toBe(10_000);
    expect(Number.isInteger(batchId)).toBe(true);
    // The file id is the one Slack gave the upload, completed into requested_by's DM.
    const completed = slack.fake.callsOf('files.completeUploadExternal').find((c) => c.body.files?.some((f: any) => f.id === fileId));
    expect(completed?.body.channel_id).toBe(dm(ADMIN));
    const uploaded = slack.fake.callsOf('upload').find((c) => c.path === `/upload/${fileId}`);
    const lines = uploaded!.file!.text.trim().split('\n');
    expect(lines).toHaveLength(10_001);
    const codes = new Set(lines.slice(1).map((l) => l.split(',')[1]));
    expect(codes.size).toBe(10_000);
    // The CSV's codes are stored, in that batch.
    const stored = await slack.service.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).where('batch_id', '=', batchId).executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(10_000);
  }, 300_000);

  async function shortcut(payload: Record<string, unknown>): Promise<Response> {
    const res = await send(slack.eventsUrl, signInteractive(SIGNING_SECRET, payload));
    expect(res.status).toBe(200);
    return res;
  }

  it('the global shortcut lists only the sets the person may issue from, and DMs the code', async () => {
    const payload = globalShortcut('issue_promo_code', ISSUER);
    await shortcut(payload);
    const view = await slack.openedView(payload.trigger_id as string);
    const select = view.blocks.find((b: any) => b.block_id === 'set').element;
    expect(select.options.map((o: any) => o.text.text)).toEqual(['apology-10']);
    expect(await slack.submit(view, { set: String(alpha.id), note: 'from the shortcut' }, { user: ISSUER })).toHaveProperty('status', 200);
    const sent = await slack.fake.waitFor('chat.postMessage', (c) => c.body.channel === dm(ISSUER) && blocksText(c).includes('A new code from *apology-10*'));
    const code = /```([^`]+)```/.exec(JSON.stringify(sent.body.blocks))?.[1] ?? /: (\S+)$/.exec(sent.body.text)?.[1];
    expect((await getPromotion(slack.service, code!)).notes).toContain('from the shortcut');

    // A viewer sees no set to pick, and why.
    const viewerPayload = globalShortcut('issue_promo_code', VIEWER);
    await shortcut(viewerPayload);
    const empty = await slack.openedView(viewerPayload.trigger_id as string);
    expect(empty.submit).toBeUndefined();
    expect(JSON.stringify(empty.blocks)).toContain('You may not issue codes from any promo set');

    // A forged submission for a set the person may not use is refused in the modal, nothing issued.
    const before = await promotionCount();
    const forged = await slack.submit(view, { set: String(beta.id) }, { user: ISSUER });
    expect(await forged.json()).toEqual({ response_action: 'errors', errors: { set: expect.stringContaining('Only issuers of the promo set "Beta"') } });
    expect(await promotionCount()).toBe(before);
  });

  it('the message shortcut DMs the invoker a code whose notes carry the message permalink', async () => {
    const payload = messageShortcut('issue_promo_code_for_message', ISSUER, 'C0SUPPORT', '1700000123.004500', slack.fake.responseUrl());
    const seen = slack.fake.calls.length;
    await shortcut(payload);
    const permalinkCall = await slack.fake.waitFor('chat.getPermalink', (c) => c.body.message_ts === '1700000123.004500');
    expect(permalinkCall.body.channel).toBe('C0SUPPORT');
    const view = await slack.openedView(payload.trigger_id as string);
    await slack.submit(view, { set: String(alpha.id) }, { user: ISSUER });
    const sent = await slack.fake.waitFor('chat.postMessage', (c) => slack.fake.calls.indexOf(c) >= seen && c.body.channel === dm(ISSUER) && blocksText(c).includes('A new code'));
    const code = sent.body.text.split(': ').pop().split(',')[0].trim();
    const listed = await getPromotion(slack.service, code);
    expect(listed.notes).toContain('https://fake.slack.com/archives/C0SUPPORT/p1700000123004500');
  });
});

describe('Workflow Builder steps and shortcuts (Socket Mode)', () => {
  let web: FakeSlack;
  let socket: FakeSocketMode;
  let service: TestService;
  let alpha: PromoSet;

  beforeAll(async () => {
    web = await startFakeSlack();
    socket = await startFakeSocketMode(web);
    service = await startTestService({ SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_APP_TOKEN: 'xapp-test-token', SLACK_API_URL: web.apiUrl, PROMO_ADMINS: ADMIN, ...WHMCS_ENV });
    await socket.waitForConnection(1);
    ({ alpha } = await setUp(service));
  });
  afterAll(async () => {
    await service?.stop();
    await socket?.stop();
    await web?.stop();
  });

  async function step(callbackId: string, inputs: Record<string, unknown>): Promise<RecordedCall> {
    const { event, executionId } = functionExecuted(callbackId, inputs);
    const envelope = socket.event(event);
    expect((await socket.ack(envelope)).payload).toEqual({});
    return stepEnd(web, executionId);
  }

  it('issue_promo_code completes with a code GetPromotions returns; a viewer’s step fails with a sentence', async () => {
    const end = await step('issue_promo_code', { set: String(alpha.id), requested_by: ISSUER, recipient: AGENT });
    expect(end.method).toBe('functions.completeSuccess');
    const listed = await getPromotion(service, end.body.outputs.code);
    expect(listed).toMatchObject({ id: end.body.outputs.promotion_id, expirationdate: end.body.outputs.expiration_date });
    await web.waitFor('chat.postMessage', (c) => c.body.channel === dm(AGENT) && blocksText(c).includes(end.body.outputs.code));

    const refused = await step('issue_promo_code', { set: String(alpha.id), requested_by: VIEWER });
    expect(refused.method).toBe('functions.completeError');
    expect(refused.body.error).toContain('Only issuers of the promo set "apology-10" may generate codes.');
  });

  it('issue_promo_codes shares a CSV and check_promo_code reads a code back', async () => {
    const end = await step('issue_promo_codes', { set: 'apology-10', requested_by: ISSUER, amount: 5 });
    expect(end.method).toBe('functions.completeSuccess');
    expect(end.body.outputs).toMatchObject({ count: 5, file_id: expect.stringMatching(/^F/) });
    const uploaded = web.callsOf('upload').find((c) => c.path === `/upload/${end.body.outputs.file_id}`);
    const code = uploaded!.file!.text.trim().split('\n')[1].split(',')[1];
    const check = await step('check_promo_code', { set: 'apology-10', code });
    expect(check.body.outputs).toMatchObject({ valid: true, uses: 0 });
  });

  it('both shortcuts over the socket', async () => {
    const global = globalShortcut('issue_promo_code', ISSUER);
    expect((await socket.ack(socket.send('interactive', global))).payload).toEqual({});
    const opened = await web.waitFor('views.open', (c) => c.body.trigger_id === global.trigger_id);
    expect(opened.body.view.blocks[0].element.options.map((o: any) => o.value)).toEqual([String(alpha.id)]);

    const message = messageShortcut('issue_promo_code_for_message', ISSUER, 'C0SUPPORT', '1700000999.000100', web.responseUrl());
    expect((await socket.ack(socket.send('interactive', message))).payload).toEqual({});
    const call = await web.waitFor('views.open', (c) => c.body.trigger_id === message.trigger_id);
    const view = { ...call.body.view, id: call.response?.view?.id };
    expect((await socket.ack(socket.submit(view, { set: String(alpha.id) }, { user: ISSUER }))).payload).toEqual({});
    const sent = await web.waitFor('chat.postMessage', (c) => c.body.channel === dm(ISSUER) && blocksText(c).includes('A new code'));
    const code = sent.body.text.split(': ').pop().split(',')[0].trim();
    expect((await getPromotion(service, code)).notes).toContain('https://fake.slack.com/archives/C0SUPPORT/p1700000999000100');
  });
});
