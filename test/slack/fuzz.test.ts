import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSet } from '../../src/service/sets.js';
import { send, signed, signEvent, signInteractive, FORM } from '../support/slack-signing.js';
import { ADMIN, SIGNING_SECRET, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

/**
 * Signed but malformed deliveries (only Slack or someone with the signing
 * secret can send them, but a bug or a leaked secret must not take the
 * service down): every one gets a 4xx or a 200, never a 5xx, and the server
 * keeps answering.
 */
describe('Slack payload fuzzing', () => {
  let slack: SlackHarness;
  let setId: number;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    slack = await startSlackHarness();
    setId = (await createSet(slack.service.core, { name: 'Fuzzed' }, 'cli:test')).id;
  });
  afterAll(() => slack.stop());

  const record = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

  /** Replace the value at a random path of `base` with `value`. */
  function mutate(base: unknown, path: number[], value: unknown): unknown {
    if (typeof base !== 'object' || base === null || path.length === 0) return value;
    const entries = Object.entries(base as Record<string, unknown>);
    if (entries.length === 0) return value;
    const [key, child] = entries[path[0] % entries.length];
    const copy: any = Array.isArray(base) ? [...base] : { ...base };
    copy[key] = path.length === 1 ? value : mutate(child, path.slice(1), value);
    return copy;
  }

  const skeletons = () => [
    { type: 'view_submission', user: { id: ADMIN }, view: { id: 'V1', callback_id: 'promo_new_set', private_metadata: '{}', state: { values: { name: { value: { type: 'plain_text_input', value: 'Fuzz' } }, promo_value: { value: { type: 'number_input', value: '5' } }, cycles: { value: { type: 'multi_static_select', selected_options: [{ value: 'Monthly' }] } } } } } },
    { type: 'view_submission', user: { id: ADMIN }, view: { id: 'V2', callback_id: 'promo_generate_codes', private_metadata: JSON.stringify({ setId }), state: { values: { amount: { value: { type: 'number_input', value: '2' } }, expiry_date: { value: { type: 'datepicker', selected_date: '2099-01-01' } } } } } },
    { type: 'view_submission', user: { id: ADMIN }, view: { id: 'V3', callback_id: 'promo_edit_set', private_metadata: JSON.stringify({ setId }), state: { values: { notes: { value: { type: 'plain_text_input', value: 'x' } } } } } },
    { type: 'block_actions', user: { id: ADMIN }, trigger_id: 't', response_url: 'RESPONSE_URL', actions: [{ action_id: 'set_generate_code', value: String(setId), action_ts: '1' }] },
    { type: 'block_actions', user: { id: ADMIN }, trigger_id: 't', response_url: 'RESPONSE_URL', actions: [{ action_id: 'set_rotate', value: '999999', action_ts: '1' }] },
    { type: 'event_callback', event_id: 'Ev1', event: { type: 'app_home_opened', user: ADMIN, tab: 'home' } },
  ];

  it('a payload type whose toString the sender controls gets 400 (a fuzzing find)', async () => {
    const res = await send(slack.eventsUrl, signInteractive(SIGNING_SECRET, { ...skeletons()[0], type: { toString: '' } }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ result: 'error', message: 'Payloads of type "a object" are not handled here.' });
  });

  it('signed interactive payloads with random parts replaced get no 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(5), fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), fc.anything({ maxDepth: 2 }), fc.nat(), async (which, path, value, salt) => {
        const base = JSON.parse(JSON.stringify(skeletons()[which]).replace('RESPONSE_URL', slack.fake.responseUrl()).replace(/"V[123]"/, `"V${salt}"`).replace('"Ev1"', `"Ev${salt}"`).replace('"t"', `"t${salt}"`));
        const payload = mutate(base, path, value);
        const request = which === 5 ? signEvent(SIGNING_SECRET, payload) : signInteractive(SIGNING_SECRET, payload);
        const res = await send(slack.eventsUrl, request);
        record(res.status);
        expect(res.status).toBeLessThan(500);
        await res.arrayBuffer();
      }),
      { numRuns: 300 },
    );
  });

  it('signed arbitrary bodies (forms, JSON, text) get no 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.json().map((j) => ['application/json', j] as const), fc.string().map((s) => [FORM, s] as const), fc.jsonValue().map((v) => [FORM, `payload=${encodeURIComponent(JSON.stringify(v))}`] as const), fc.string().map((s) => ['text/plain', s] as const)),
        async ([contentType, body]) => {
          const res = await send(slack.eventsUrl, signed(SIGNING_SECRET, body, contentType));
          record(res.status);
          expect(res.status).toBeLessThan(500);
          await res.arrayBuffer();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the server still answers, over HTTP and in Slack', async () => {
    await slack.service.slack!.idle();
    expect((await fetch(`${slack.service.url}/healthz`)).status).toBe(200);
    const { responseUrl } = await slack.command('info Fuzzed');
    expect((await slack.replyTo(responseUrl)).body.text).toContain('Fuzzed');
    // eslint-disable-next-line no-console
    console.info('Slack fuzz statuses:', Object.fromEntries(statuses));
  });
});
