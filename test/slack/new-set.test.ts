import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { todayIn, addDays } from '../../src/domain/dates.js';
import { SET_FIELD_NAMES } from '../../src/domain/set.js';
import { listSets } from '../../src/service/sets.js';
import { ADMIN, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

describe('/promo new and the New promo set modal', () => {
  let slack: SlackHarness;
  const today = todayIn('UTC');
  beforeAll(async () => {
    slack = await startSlackHarness();
  });
  afterAll(() => slack.stop());

  async function openNewModal(name = '') {
    const { res, triggerId } = await slack.command(`new ${name}`);
    expect(res.status).toBe(200);
    return slack.openedView(triggerId);
  }

  it('acks at once and opens a modal with one input per set field, block_id = field name', async () => {
    const view = await openNewModal('Spring Sale');
    expect(view.type).toBe('modal');
    expect(view.callback_id).toBe('promo_new_set');
    const inputs = view.blocks.filter((b: any) => b.type === 'input');
    expect(inputs.map((b: any) => b.block_id).sort()).toEqual([...SET_FIELD_NAMES].sort());
    const byId = Object.fromEntries(inputs.map((b: any) => [b.block_id, b.element]));
    expect(byId.name.initial_value).toBe('Spring Sale');
    expect(byId.start_date.type).toBe('datepicker');
    expect(byId.expiration_date.type).toBe('datepicker');
    expect(byId.promo_code_type.type).toBe('static_select');
    expect(byId.promo_code_type.initial_option.value).toBe('Percentage');
    expect(byId.cycles.type).toBe('multi_static_select');
    expect(byId.recurring.type).toBe('checkboxes');
    expect(byId.promo_value.initial_value).toBe('10.00');
    expect(JSON.parse(view.private_metadata)).toEqual({ channelId: 'C0PROMOS' });
  });

  it('a valid submission stores the set and sends the creator its URL and a curl line', async () => {
    const view = await openNewModal('Partner Promo');
    const expiry = addDays(today, 30);
    const res = await slack.submit(view, { promo_value: '25.50', cycles: ['Annually', 'Monthly'], expiration_date: expiry, applies_to: '12,40', recurring: 1 });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');

    const sets = await listSets(slack.service.core);
    const stored = sets.find((s) => s.set.name === 'Partner Promo')?.set;
    expect(stored).toMatchObject({ promo_value: '25.50', cycles: ['Annually', 'Monthly'], expiration_date: expiry, applies_to: ['12', '40'], recurring: 1, created_by: `slack:${ADMIN}` });

    const dm = await slack.fake.waitFor('chat.postMessage', (c) => JSON.stringify(c.body.blocks ?? '').includes('Partner Promo'));
    expect(dm.body.channel).toBe(`D${ADMIN.slice(1)}`);
    const text = JSON.stringify(dm.body.blocks);
    const url = new RegExp(`/sets/${stored!.api_key}-${stored!.id}-[0-9a-f]{32}`);
    expect(text).toMatch(url);
    expect(text).toContain('curl -X POST');
  });

  it.each([
    ['expiry before start', { start_date: addDays(today, 10), expiration_date: addDays(today, 5) }, { expiration_date: 'The expiry date must be later than the start date.' }],
    ['expiry in the past', { expiration_date: addDays(today, -1) }, { expiration_date: 'The expiry date must be a date in the future.' }],
    ['value abc', { promo_value: 'abc' }, { promo_value: 'The value must be a number with at most 2 decimals, like 25 or 25.50.' }],
    ['Percentage 150', { promo_value: '150' }, { promo_value: 'A percentage value must be at most 100.' }],
  ])('%s: response_action errors keyed by block_id, nothing stored', async (_label, changes, errors) => {
    const name = `Bad ${_label}`;
    const view = await openNewModal(name);
    const res = await slack.submit(view, changes);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ response_action: 'errors', errors });
    expect((await listSets(slack.service.core)).some((s) => s.set.name === name)).toBe(false);
  });

  it('a corrected resubmission of the same modal goes through', async () => {
    const view = await openNewModal('Fixed Later');
    const bad = await slack.submit(view, { promo_value: '150' });
    expect(((await bad.json()) as any).response_action).toBe('errors');
    const good = await slack.submit(view, { promo_value: '15' });
    expect(await good.text()).toBe('');
    expect((await listSets(slack.service.core)).find((s) => s.set.name === 'Fixed Later')?.set.promo_value).toBe('15.00');
  });

  it('a taken name comes back on the name block', async () => {
    const view = await openNewModal('partner promo');
    const res = await slack.submit(view);
    expect(await res.json()).toEqual({ response_action: 'errors', errors: { name: 'This name is taken.' } });
  });
});
