import { randomUUID } from 'node:crypto';
import { checkAckPayload } from './block-kit-limits.js';
import { startFakeSlack, type FakeSlack, type RecordedCall } from './fake-slack.js';
import { startTestService, type TestService } from './service.js';
import { send, signEvent, signInteractive, signSlashCommand, type SignOptions } from './slack-signing.js';

export const ADMIN = 'UADMIN001';
export const OTHER = 'UOTHER001';
export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';
export const CHANNEL = 'C0PROMOS';

/** A started promoset with Slack in HTTP mode, a fake Slack Web API, and signed-request helpers. */
export interface SlackHarness {
  service: TestService;
  fake: FakeSlack;
  eventsUrl: string;
  /** POST /promo <text>; resolves when the HTTP response (the ack) arrived. */
  command(text: string, options?: { user?: string; channel?: string; sign?: SignOptions }): Promise<{ res: Response; responseUrl: string; triggerId: string }>;
  /** The ephemeral reply sent to a response_url. */
  replyTo(responseUrl: string): Promise<RecordedCall>;
  /** The modal that views.open showed for a trigger. */
  openedView(triggerId: string): Promise<any>;
  /** Submit a modal with its initial values, changed by `changes` (raw values per block_id). */
  submit(view: any, changes?: Record<string, unknown>, options?: { user?: string; sign?: SignOptions }): Promise<Response>;
  press(actionId: string, value: string, options?: { user?: string; sign?: SignOptions }): Promise<{ res: Response; responseUrl: string; triggerId: string }>;
  event(event: Record<string, unknown>, options?: { eventId?: string; sign?: SignOptions }): Promise<Response>;
  stop(): Promise<void>;
}

/** `prepare` runs on the fake before promoset starts (take Slack down, refuse the token, …). */
export async function startSlackHarness(env: Record<string, string> = {}, options: { log?: (line: string) => void; prepare?: (fake: FakeSlack) => Promise<void> | void; now?: () => Date } = {}): Promise<SlackHarness> {
  const fake = await startFakeSlack();
  await options.prepare?.(fake);
  const service = await startTestService({
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    PROMO_ADMINS: ADMIN,
    ...env,
  }, { log: options.log, now: options.now });
  const eventsUrl = `${service.url}/slack/events`;
  const trigger = () => `trigger-${randomUUID()}`;

  return {
    service,
    fake,
    eventsUrl,
    async command(text, { user = ADMIN, channel = CHANNEL, sign } = {}) {
      const responseUrl = fake.responseUrl();
      const triggerId = trigger();
      const res = await send(eventsUrl, signSlashCommand(SIGNING_SECRET, {
        token: 'legacy-verification-token', team_id: 'T0FAKE', team_domain: 'fake', channel_id: channel, channel_name: 'promos',
        user_id: user, user_name: `name-${user}`, command: '/promo', text, api_app_id: 'A0PROMO', is_enterprise_install: 'false',
        response_url: responseUrl, trigger_id: triggerId,
      }, sign));
      return { res, responseUrl, triggerId };
    },
    async replyTo(responseUrl) {
      const path = new URL(responseUrl).pathname;
      return fake.waitFor('response_url', (c) => c.path === path);
    },
    async openedView(triggerId) {
      const call = await fake.waitFor('views.open', (c) => c.body.trigger_id === triggerId);
      // A submission carries the id Slack gave the view when it opened.
      return { ...call.body.view, id: call.response?.view?.id };
    },
    async submit(view, changes = {}, { user = ADMIN, sign } = {}) {
      const payload = {
        type: 'view_submission',
        team: { id: 'T0FAKE', domain: 'fake' },
        user: { id: user, username: `name-${user}`, team_id: 'T0FAKE' },
        api_app_id: 'A0PROMO',
        token: 'legacy-verification-token',
        trigger_id: trigger(),
        view: { ...view, team_id: 'T0FAKE', app_id: 'A0PROMO', bot_id: 'B0BOT', hash: '1.hash', state: { values: stateFromView(view, changes) } },
        response_urls: [],
        is_enterprise_install: false,
      };
      const res = await send(eventsUrl, signInteractive(SIGNING_SECRET, payload, sign));
      // The ack of a submission can carry a view (response_action push/update): held to the same limits.
      const ack = await res.clone().text();
      if (ack.startsWith('{')) {
        const problems = checkAckPayload(JSON.parse(ack));
        if (problems.length > 0) fake.violations.push({ method: 'view_submission ack', problems });
      }
      return res;
    },
    async press(actionId, value, { user = ADMIN, sign } = {}) {
      const responseUrl = fake.responseUrl();
      const triggerId = trigger();
      const payload = {
        type: 'block_actions',
        team: { id: 'T0FAKE', domain: 'fake' },
        user: { id: user, username: `name-${user}`, team_id: 'T0FAKE' },
        api_app_id: 'A0PROMO',
        token: 'legacy-verification-token',
        container: { type: 'message', message_ts: '1700000000.000001', channel_id: CHANNEL, is_ephemeral: true },
        trigger_id: triggerId,
        channel: { id: CHANNEL, name: 'promos' },
        response_url: responseUrl,
        actions: [{ type: 'button', action_id: actionId, block_id: 'set_actions', value, action_ts: `${Date.now() / 1000}` }],
      };
      const res = await send(eventsUrl, signInteractive(SIGNING_SECRET, payload, sign));
      return { res, responseUrl, triggerId };
    },
    async event(event, { eventId = `Ev${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`, sign } = {}) {
      return send(eventsUrl, signEvent(SIGNING_SECRET, {
        token: 'legacy-verification-token', team_id: 'T0FAKE', api_app_id: 'A0PROMO', type: 'event_callback',
        event_id: eventId, event_time: Math.floor(Date.now() / 1000), event,
        authorizations: [{ team_id: 'T0FAKE', user_id: 'U0BOT', is_bot: true }],
      }, sign));
    },
    async stop() {
      await service.stop();
      await fake.stop();
    },
  };
}

/** The state Slack would send for `view` if the person kept the initial values except `changes`. */
export function stateFromView(view: any, changes: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const values: Record<string, Record<string, unknown>> = {};
  for (const block of view.blocks ?? []) {
    if (block.type !== 'input') continue;
    const el = block.element;
    const changed = block.block_id in changes;
    const raw = changes[block.block_id];
    let state: Record<string, unknown>;
    switch (el.type) {
      case 'static_select': {
        const wanted = changed ? raw : el.initial_option?.value;
        state = { type: el.type, selected_option: el.options.find((o: any) => o.value === wanted) ?? (wanted ? { text: { type: 'plain_text', text: String(wanted) }, value: String(wanted) } : null) };
        break;
      }
      case 'multi_static_select': {
        const wanted = changed ? (raw as string[]) : (el.initial_options ?? []).map((o: any) => o.value);
        state = { type: el.type, selected_options: wanted.map((v: string) => ({ text: { type: 'plain_text', text: v }, value: v })) };
        break;
      }
      case 'checkboxes': {
        const on = changed ? raw === 1 || raw === true : (el.initial_options ?? []).length > 0;
        state = { type: el.type, selected_options: on ? [el.options[0]] : [] };
        break;
      }
      case 'users_select':
        state = { type: el.type, selected_user: changed ? (raw === '' ? null : raw) : (el.initial_user ?? null) };
        break;
      case 'datepicker':
        state = { type: el.type, selected_date: changed ? (raw === '' ? null : raw) : (el.initial_date ?? null) };
        break;
      default:
        state = { type: el.type, value: changed ? (raw === '' ? null : String(raw)) : (el.initial_value ?? null) };
    }
    values[block.block_id] = { [el.action_id]: state };
  }
  return values;
}
