import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, todayIn } from '../../src/domain/dates.js';
import type { PromoSet } from '../../src/domain/set.js';
import { findPromotionByCode } from '../../src/service/promotions.js';
import { createSet, getSet } from '../../src/service/sets.js';
import { setUrl } from '../../src/service/set-urls.js';
import { ADMIN, OTHER, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

describe('buttons (admin) and the App Home tab', () => {
  let slack: SlackHarness;
  let set: PromoSet;
  const today = todayIn('UTC');

  beforeAll(async () => {
    slack = await startSlackHarness();
    set = await createSet(slack.service.core, { name: 'Buttons', promo_value: '30', start_date: addDays(today, -30), expiration_date: addDays(today, 30) }, 'cli:test');
  });
  afterAll(() => slack.stop());

  it('Generate code replies with a stored code', async () => {
    const { responseUrl } = await slack.press('set_generate_code', String(set.id));
    const reply = await slack.replyTo(responseUrl);
    expect(reply.body.response_type).toBe('ephemeral');
    expect(reply.body.replace_original).toBe(false);
    const code = /```(.*)```/.exec(reply.body.blocks[1].text.text)![1];
    expect(await findPromotionByCode(slack.service.core, code)).toMatchObject({ value: '30.00', set_id: set.id });
  });

  it('Generate codes… opens the Generate codes modal for that set', async () => {
    const { triggerId } = await slack.press('set_generate_codes', String(set.id));
    const view = await slack.openedView(triggerId);
    expect(view.callback_id).toBe('promo_generate_codes');
    expect(JSON.parse(view.private_metadata)).toMatchObject({ setId: set.id });
  });

  it('Edit opens the set modal filled in; saving changes only what was changed (a past start date stays allowed)', async () => {
    const { triggerId } = await slack.press('set_edit', String(set.id));
    const view = await slack.openedView(triggerId);
    expect(view.callback_id).toBe('promo_edit_set');
    const name = view.blocks.find((b: any) => b.block_id === 'name');
    expect(name.element.initial_value).toBe('Buttons');
    const res = await slack.submit(view, { notes: 'edited in Slack', promo_value: '35' });
    expect(await res.text()).toBe('');
    const edited = await getSet(slack.service.core, set.id);
    expect(edited).toMatchObject({ notes: 'edited in Slack', promo_value: '35.00', start_date: addDays(today, -30), api_key: set.api_key });

    const again = await slack.submit(view, { expiration_date: addDays(today, -3) });
    expect(await again.json()).toEqual({ response_action: 'errors', errors: { expiration_date: 'The expiry date must be a date in the future.' } });
    expect((await getSet(slack.service.core, set.id)).expiration_date).toBe(addDays(today, 30));
  });

  it('Rotate URL replies with the new URL; Archive archives', async () => {
    const rotate = await slack.press('set_rotate', String(set.id));
    const rotated = await getSet(slack.service.core, set.id);
    expect(rotated.api_key).not.toBe(set.api_key);
    expect((await slack.replyTo(rotate.responseUrl)).body.text).toContain(setUrl(slack.service.core, rotated));
    const archive = await slack.press('set_archive', String(set.id));
    expect((await slack.replyTo(archive.responseUrl)).body.text).toContain('is archived');
    expect((await getSet(slack.service.core, set.id)).archived_at).not.toBeNull();
  });

  it('App Home lists the sets with counts, recent batches and a New set button (admins)', async () => {
    const live = await createSet(slack.service.core, { name: 'Home Set', promo_code_type: 'Fixed Amount', promo_value: '5' }, 'cli:test');
    await slack.press('set_generate_code', String(live.id));
    await slack.service.slack!.idle();
    const res = await slack.event({ type: 'app_home_opened', user: ADMIN, channel: 'D0ADMIN', tab: 'home', event_ts: '1.0' });
    expect(res.status).toBe(200);
    const publish = await slack.fake.waitFor('views.publish', (c) => c.body.user_id === ADMIN);
    const text = JSON.stringify(publish.body.view);
    expect(publish.body.view.type).toBe('home');
    expect(text).toContain('*Home Set* (id');
    expect(text).toContain('5.00 Fixed Amount · 1 code in 1 batch');
    expect(text).toMatch(/Batch \d+: 1 code from \*Home Set\*/);
    expect(text).toContain('home_new_set');

    await slack.event({ type: 'app_home_opened', user: OTHER, channel: 'D0OTHER', tab: 'home', event_ts: '1.0' });
    const other = await slack.fake.waitFor('views.publish', (c) => c.body.user_id === OTHER);
    expect(JSON.stringify(other.body.view)).not.toContain('home_new_set');
  });

  it('the New set button on App Home opens the New promo set modal', async () => {
    const { triggerId } = await slack.press('home_new_set', '');
    expect((await slack.openedView(triggerId)).callback_id).toBe('promo_new_set');
  });
});
