import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { generatePromotion, generatePromotions } from '../../src/service/generate.js';
import { listPromotions } from '../../src/service/promotions.js';
import { redeemPromotion, validatePromotion } from '../../src/service/redemptions.js';
import { createSet } from '../../src/service/sets.js';
import { setAuditTrail } from '../../src/service/set-audit.js';
import { ADMIN, OTHER, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

describe('Slack: /promo void, /promo unvoid, the Void batch button, and usage in info and App Home', () => {
  let slack: SlackHarness;
  let set: PromoSet;
  const core = () => slack.service.core;
  const reason = async (code: string) => (await validatePromotion(core(), set, code)).reason;
  const replyText = async (text: string, user = ADMIN) => {
    const { res, responseUrl } = await slack.command(text, { user });
    expect(res.status).toBe(200);
    return (await slack.replyTo(responseUrl)).body.text as string;
  };

  beforeAll(async () => {
    slack = await startSlackHarness();
    set = await createSet(core(), { name: 'Voidable', promo_value: '10', max_uses: 2 }, 'cli:test');
  });
  afterAll(() => slack.stop());

  it('/promo void CODE voids it (any letter case), /promo unvoid CODE restores it; both are audited with the Slack user', async () => {
    const promotion = await generatePromotion(core(), set, {}, 'test');
    expect(await replyText(`void ${promotion.code.toLowerCase()}`)).toContain(`Code ${promotion.code}: 1 code voided`);
    expect(await reason(promotion.code)).toBe('voided');
    await expect(redeemPromotion(core(), set, { code: promotion.code }, 'test')).rejects.toMatchObject({ code: 'promotion_voided' });
    expect(await replyText(`void ${promotion.code}`)).toContain('1 code already voided');
    expect(await replyText(`unvoid ${promotion.code}`)).toContain(`Code ${promotion.code}: 1 code restored`);
    expect(await reason(promotion.code)).toBeNull();
    const trail = await setAuditTrail(core(), set.id);
    expect(trail.filter((e) => e.action.endsWith('voided')).map((e) => [e.action, e.actor, e.detail])).toEqual([
      ['unvoided', `slack:${ADMIN}`, { codes: [promotion.code], count: 1 }],
      ['voided', `slack:${ADMIN}`, { codes: [promotion.code], count: 1 }],
    ]);
  });

  it('/promo void batch N voids the whole batch; unknown codes and batches get a clear sentence and change nothing', async () => {
    const batch = await generatePromotions(core(), set, { amount: 300 }, 'test');
    const codes = (await listPromotions(core(), { batchId: batch.batchId })).map((p) => p.code);
    expect(await replyText(`void batch ${batch.batchId}`)).toContain(`Batch ${batch.batchId}: 300 codes voided`);
    expect(await reason(codes[299])).toBe('voided');
    expect(await replyText(`unvoid batch ${batch.batchId}`)).toContain('300 codes restored');
    expect(await reason(codes[0])).toBeNull();
    expect(await replyText(`void ${codes[0]} NOSUCHCODE`)).toContain('There is no promotion NOSUCHCODE; nothing was changed.');
    expect(await reason(codes[0])).toBeNull();
    expect(await replyText('void batch 999999')).toContain('There is no batch 999999');
    expect(await replyText('void batch x')).toContain('/promo void batch 12');
    expect(await replyText('void')).toContain('Name the codes');
  });

  it('non-admins may not void or unvoid, by command or button; nothing changes', async () => {
    const promotion = await generatePromotion(core(), set, {}, 'test');
    expect(await replyText(`void ${promotion.code}`, OTHER)).toContain(' may void codes.');
    const { responseUrl } = await slack.press('codes_void', `code:${promotion.code}`, { user: OTHER });
    expect((await slack.replyTo(responseUrl)).body.text).toContain(' may void codes.');
    expect(await reason(promotion.code)).toBeNull();
    await core().db.updateTable('promotions').set({ voided_at: '2026-01-01T00:00:00.000Z' }).where('code', '=', promotion.code).execute();
    expect(await replyText(`unvoid ${promotion.code}`, OTHER)).toContain(' may unvoid codes.');
    expect(await reason(promotion.code)).toBe('voided');
  });

  it('the codes message carries a Void batch button with a confirm dialog; pressing it voids the batch', async () => {
    const { triggerId } = await slack.command('codes Voidable 5');
    const view = await slack.openedView(triggerId);
    expect(await (await slack.submit(view)).text()).toBe('');
    const message = await slack.fake.waitFor('chat.postMessage', (c) => JSON.stringify(c.body).includes('5 new codes from *Voidable*'));
    const actions = message.body.blocks.find((b: any) => b.type === 'actions');
    const button = actions.elements[0];
    expect(button).toMatchObject({ action_id: 'codes_void', text: { text: 'Void batch' }, style: 'danger', confirm: { title: { text: 'Void the whole batch?' } } });
    const batchId = Number(/^batch:(\d+)$/.exec(button.value)![1]);
    const codes = (await listPromotions(core(), { batchId })).map((p) => p.code);
    expect(codes).toHaveLength(5);
    const { responseUrl } = await slack.press('codes_void', button.value);
    expect((await slack.replyTo(responseUrl)).body.text).toContain(`Batch ${batchId}: 5 codes voided`);
    for (const code of codes) expect(await reason(code)).toBe('voided');
  });

  it('a batch sent as CSV ends with a progress message that carries the Void batch button', async () => {
    const { triggerId } = await slack.command('codes Voidable 25');
    const view = await slack.openedView(triggerId);
    expect(await (await slack.submit(view)).text()).toBe('');
    const done = await slack.fake.waitFor('chat.update', (c) => String(c.body.text).includes('25 codes from *Voidable*: done'));
    const button = done.body.blocks.find((b: any) => b.type === 'actions').elements[0];
    expect(button).toMatchObject({ action_id: 'codes_void', text: { text: 'Void batch' }, confirm: { text: { text: expect.stringContaining('All 25 codes of this batch stop working') } } });
    const batchId = Number(/^batch:(\d+)$/.exec(button.value)![1]);
    const { responseUrl } = await slack.press('codes_void', button.value);
    expect((await slack.replyTo(responseUrl)).body.text).toContain(`Batch ${batchId}: 25 codes voided`);
  });

  it('/promo info and App Home show issued, redeemed, voided and used up, per set and per recent batch', async () => {
    const fresh = await createSet(core(), { name: 'Usage Shown', promo_value: '5', max_uses: 2 }, 'cli:test');
    const batch = await generatePromotions(core(), fresh, { amount: 4 }, 'test');
    const [a, b] = await listPromotions(core(), { batchId: batch.batchId });
    await redeemPromotion(core(), fresh, { code: a.code }, 'test');
    await redeemPromotion(core(), fresh, { code: a.code }, 'test');
    await redeemPromotion(core(), fresh, { code: b.code }, 'test');
    await replyText(`void ${b.code}`);

    const { responseUrl } = await slack.command('info Usage Shown', { user: OTHER });
    const info = JSON.stringify((await slack.replyTo(responseUrl)).body);
    expect(info).toContain('4 codes in 1 batch: 4 issued · 3 redeemed · 1 voided · 1 used up');
    expect(info).toContain(`Batch ${batch.batchId} (`);

    await slack.event({ type: 'app_home_opened', user: ADMIN, channel: 'D0ADMIN', tab: 'home', event_ts: '1.0' });
    const publish = await slack.fake.waitFor('views.publish', (c) => JSON.stringify(c.body.view).includes('Usage Shown'));
    const home = JSON.stringify(publish.body.view);
    expect(home).toContain('*Usage Shown* (id');
    expect(home).toContain('4 issued · 3 redeemed · 1 voided · 1 used up');
  });
});
