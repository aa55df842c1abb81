import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { listPromotions, recentBatches } from '../../src/service/promotions.js';
import { createSet, getSet, listSets } from '../../src/service/sets.js';
import { send, signInteractive, signSlashCommand, signed, FORM } from '../support/slack-signing.js';
import { ADMIN, OTHER, SIGNING_SECRET, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { waitForLine } from '../support/wait-for.js';

describe('Slack request signatures, permissions on every path, and retried deliveries', () => {
  let slack: SlackHarness;
  let set: PromoSet;
  const log: string[] = [];

  beforeAll(async () => {
    slack = await startSlackHarness({}, { log: (line) => log.push(line) });
    set = await createSet(slack.service.core, { name: 'Guarded' }, 'cli:test');
  });
  afterAll(() => slack.stop());

  const state = async () => ({
    sets: (await listSets(slack.service.core, { includeArchived: true })).map((s) => s.set),
    promotions: (await listPromotions(slack.service.core, {})).length,
  });

  describe('signature checks (Bolt verifies; 401 and nothing changes)', () => {
    const fields = (text: string) => ({
      command: '/promo', text, user_id: ADMIN, channel_id: 'C0PROMOS', team_id: 'T0FAKE', trigger_id: 'trigger-sig', response_url: `${slack.fake.responseUrl()}`,
    });

    it('unsigned, badly signed, wrong-secret and stale requests get 401; no listener runs', async () => {
      const before = await state();
      const callsBefore = slack.fake.calls.length;
      const body = new URLSearchParams(fields('code Guarded')).toString();
      const good = signSlashCommand(SIGNING_SECRET, fields('code Guarded'));

      const unsigned = await fetch(slack.eventsUrl, { method: 'POST', headers: { 'content-type': FORM }, body });
      expect(unsigned.status).toBe(401);

      const tampered = await send(slack.eventsUrl, { ...good, body: good.body.replace('code+Guarded', 'archive+Guarded') });
      expect(tampered.status).toBe(401);

      const wrongSecret = await send(slack.eventsUrl, signSlashCommand('not-the-secret', fields('code Guarded')));
      expect(wrongSecret.status).toBe(401);

      const garbage = await send(slack.eventsUrl, { ...good, headers: { ...good.headers, 'x-slack-signature': 'v0=deadbeef' } });
      expect(garbage.status).toBe(401);

      const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;
      const stale = await send(slack.eventsUrl, signSlashCommand(SIGNING_SECRET, fields('code Guarded'), { timestamp: sixMinutesAgo }));
      expect(stale.status).toBe(401);

      const staleInteractive = await send(slack.eventsUrl, signInteractive(SIGNING_SECRET, { type: 'block_actions', user: { id: ADMIN }, actions: [{ action_id: 'set_archive', value: String(set.id) }] }, { timestamp: sixMinutesAgo }));
      expect(staleInteractive.status).toBe(401);

      // A timestamp from the future would let a captured request be replayed later.
      const sixMinutesAhead = Math.floor(Date.now() / 1000) + 6 * 60;
      const future = await send(slack.eventsUrl, signSlashCommand(SIGNING_SECRET, fields('code Guarded'), { timestamp: sixMinutesAhead }));
      expect(future.status).toBe(401);

      // A barrier, not a sleep: a good request sent after them has been answered in full.
      const barrier = await slack.command('help');
      const barrierReply = await slack.replyTo(barrier.responseUrl);
      expect(await state()).toEqual(before);
      // No Web API call was made on behalf of any of them (auth.test is Bolt checking its own token at start-up).
      expect(slack.fake.calls.slice(callsBefore).filter((c) => c.method !== 'auth.test' && c !== barrierReply)).toEqual([]);
    });

    it('a replay of a correctly signed request after the 5-minute window gets 401', async () => {
      const before = await state();
      const ts = Math.floor(Date.now() / 1000) - 5 * 60 - 5;
      const replay = signed(SIGNING_SECRET, new URLSearchParams(fields('rotate Guarded')).toString(), FORM, { timestamp: ts });
      expect((await send(slack.eventsUrl, replay)).status).toBe(401);
      expect(await state()).toEqual(before);
    });

    it('signed but malformed payloads get 400 with a reason, and nothing changes', async () => {
      const before = await state();
      const cases = [
        signInteractive(SIGNING_SECRET, null),
        signInteractive(SIGNING_SECRET, { type: 'block_actions', actions: [{ action_id: 'set_archive', value: String(set.id) }] }),
        signInteractive(SIGNING_SECRET, { type: 'block_actions', user: { id: ADMIN }, trigger_id: 't', actions: [{ action_id: 'not_ours', value: '1' }] }),
        signInteractive(SIGNING_SECRET, { type: 'view_submission', user: { id: ADMIN }, view: { id: 'V9', callback_id: 'promo_new_set' } }),
        signSlashCommand(SIGNING_SECRET, { command: '/other', text: 'archive Guarded', user_id: ADMIN, trigger_id: 't', response_url: slack.fake.responseUrl() }),
        signed(SIGNING_SECRET, '{"type":', 'application/json'),
      ];
      for (const request of cases) {
        const res = await send(slack.eventsUrl, request);
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ result: 'error', code: 'bad_request', message: expect.any(String) });
      }
      expect(await state()).toEqual(before);
    });

    it('GET on the events path is refused without reaching Bolt', async () => {
      const res = await fetch(slack.eventsUrl);
      expect(res.status).toBe(405);
      expect(await res.json()).toMatchObject({ result: 'error', code: 'method_not_allowed' });
    });
  });

  describe('permissions on submissions and buttons, not only on the command', () => {
    it('a non-admin submitting a New promo set modal (opened by an admin) is refused and nothing is stored', async () => {
      const { triggerId } = await slack.command('new Intruder Set');
      const view = await slack.openedView(triggerId);
      const res = await slack.submit(view, {}, { user: OTHER });
      const body = (await res.json()) as any;
      expect(body.response_action).toBe('errors');
      expect(body.errors.name).toMatch(/^Only managers of every set may create promo sets\./);
      expect((await listSets(slack.service.core)).some((s) => s.set.name === 'Intruder Set')).toBe(false);
    });

    it('a non-admin submitting Generate codes is refused and no batch is made', async () => {
      const { triggerId } = await slack.command('codes Guarded 5');
      const view = await slack.openedView(triggerId);
      const before = await state();
      const body = await (await slack.submit(view, {}, { user: OTHER })).json();
      expect(body).toEqual({ response_action: 'errors', errors: { amount: expect.stringMatching(/^Only issuers of the promo set "[^"]+" may generate codes\./) } });
      expect(await state()).toEqual(before);
    });

    it.each([
      ['set_generate_code', 'generate codes'],
      ['set_rotate', 'rotate set URLs'],
      ['set_archive', 'archive promo sets'],
      ['set_edit', 'edit promo sets'],
      ['set_generate_codes', 'generate codes'],
    ])('a non-admin pressing %s is told no, and nothing changes', async (actionId, doing) => {
      const before = await state();
      const opened = slack.fake.callsOf('views.open').length;
      const { res, responseUrl } = await slack.press(actionId, String(set.id), { user: OTHER });
      expect(res.status).toBe(200);
      const reply = await slack.replyTo(responseUrl);
      expect(reply.body.text).toContain(`of the promo set "${set.name}" may ${doing}. You are a viewer here`);
      expect(await state()).toEqual(before);
      expect(slack.fake.callsOf('views.open').length).toBe(opened);
    });
  });

  describe('retried deliveries', () => {
    it('a Generate codes submission delivered again with X-Slack-Retry-Num makes one batch', async () => {
      const { triggerId } = await slack.command('codes Guarded 7');
      const view = await slack.openedView(triggerId);
      const first = await slack.submit(view);
      expect(first.status).toBe(200);
      const retry = await slack.submit(view, {}, { sign: { headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } } });
      expect(retry.status).toBe(200);
      const again = await slack.submit(view, {}, { sign: { headers: { 'x-slack-retry-num': '2', 'x-slack-retry-reason': 'http_timeout' } } });
      expect(again.status).toBe(200);
      await slack.fake.waitFor('chat.postMessage', (c) => String(c.body.text).startsWith('7 new codes from *Guarded*'));
      await slack.service.slack!.idle();
      const batches = (await recentBatches(slack.service.core, { setId: set.id, limit: 50 })).filter((b) => b.count === 7);
      expect(batches).toHaveLength(1);
      expect(slack.fake.callsOf('chat.postMessage').filter((c) => String(c.body.text).startsWith('7 new codes from *Guarded*'))).toHaveLength(1);
    });

    it('a New promo set submission delivered twice creates one set and one summary', async () => {
      const { triggerId } = await slack.command('new Retry Set');
      const view = await slack.openedView(triggerId);
      expect(await (await slack.submit(view)).text()).toBe('');
      const retry = await slack.submit(view, {}, { sign: { headers: { 'x-slack-retry-num': '1' } } });
      // Acknowledged quietly: no "name taken" error for a delivery that already succeeded.
      expect(await retry.text()).toBe('');
      await slack.service.slack!.idle();
      expect((await listSets(slack.service.core)).filter((s) => s.set.name === 'Retry Set')).toHaveLength(1);
      expect(slack.fake.callsOf('chat.postMessage').filter((c) => JSON.stringify(c.body.blocks ?? '').includes('Retry Set'))).toHaveLength(1);
    });

    it('a Generate code button press and a /promo code command delivered twice issue one code each', async () => {
      const count = async () => (await listPromotions(slack.service.core, { setId: set.id })).length;
      const before = await count();
      const { triggerId } = await slack.press('set_generate_code', String(set.id));
      // Slack retries carry the same payload: same trigger_id, same action_ts.
      const payloadCall = async (retryNum: string) => {
        const payload = {
          type: 'block_actions', user: { id: ADMIN, team_id: 'T0FAKE' }, team: { id: 'T0FAKE' }, api_app_id: 'A0PROMO', trigger_id: triggerId,
          response_url: slack.fake.responseUrl(), channel: { id: 'C0PROMOS' },
          actions: [{ type: 'button', action_id: 'set_generate_code', block_id: 'b', value: String(set.id), action_ts: '1.0' }],
        };
        return send(slack.eventsUrl, signInteractive(SIGNING_SECRET, payload, { headers: { 'x-slack-retry-num': retryNum } }));
      };
      expect((await payloadCall('0')).status).toBe(200);
      expect((await payloadCall('1')).status).toBe(200);

      const fields = { command: '/promo', text: 'code Guarded', user_id: ADMIN, channel_id: 'C0PROMOS', team_id: 'T0FAKE', trigger_id: 'trigger-dup-command', response_url: slack.fake.responseUrl() };
      expect((await send(slack.eventsUrl, signSlashCommand(SIGNING_SECRET, fields))).status).toBe(200);
      expect((await send(slack.eventsUrl, signSlashCommand(SIGNING_SECRET, fields, { headers: { 'x-slack-retry-num': '1' } }))).status).toBe(200);
      await slack.replyTo(fields.response_url);
      await slack.service.slack!.idle();
      // One from the first press, one from the payload with action_ts 1.0, one from the command.
      expect((await count()) - before).toBe(3);
    });

    it('an app_home_opened event retried with the same event_id publishes once', async () => {
      const publishes = () => slack.fake.callsOf('views.publish').filter((c) => c.body.user_id === ADMIN).length;
      const before = publishes();
      const event = { type: 'app_home_opened', user: ADMIN, channel: 'D0ADMIN', tab: 'home', event_ts: `${Date.now() / 1000}` };
      expect((await slack.event(event, { eventId: 'Ev0RETRY01' })).status).toBe(200);
      expect((await slack.event(event, { eventId: 'Ev0RETRY01', sign: { headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } } })).status).toBe(200);
      await slack.fake.waitFor('views.publish', (c) => c.body.user_id === ADMIN);
      // The retry's own end, not a sleep: it is dropped (and logged) once its claim fails.
      await waitForLine(() => log, 'duplicate Slack delivery acknowledged, not processed', 'the retry being dropped', { timeoutMs: 10_000 });
      expect(publishes() - before).toBe(1);
    });
  });

  it('the set itself is untouched by all of the above refusals', async () => {
    const now = await getSet(slack.service.core, set.id);
    expect(now.api_key).toBe(set.api_key);
    expect(now.archived_at).toBeNull();
  });
});
