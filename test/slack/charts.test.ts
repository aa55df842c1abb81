import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { generatePromotions } from '../../src/service/generate.js';
import { listPromotions } from '../../src/service/promotions.js';
import { redeemPromotion } from '../../src/service/redemptions.js';
import { createSet } from '../../src/service/sets.js';
import { CHART_LAYOUT } from '../../src/charts/usage-chart.js';
import { checkPayload } from '../support/block-kit-limits.js';
import { decodePng, distinctColours, redeemedPixelsOfDay } from '../support/png.js';
import { ADMIN, CHANNEL, OTHER, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

/**
 * Pictures in Slack over signed HTTP-mode requests: /promo info's chart, its
 * redraw rule, /promo report (chart + CSV), App Home's charts, and
 * /promo digest's refusals. The clock is injected: days and the 10-minute
 * redraw rule move with it, never with wall time.
 */
describe('Slack charts (HTTP mode)', () => {
  let slack: SlackHarness;
  let set: PromoSet;
  let clock = new Date('2026-12-02T10:00:00Z');
  const core = () => slack.service.core;
  const reply = async (text: string, user = ADMIN) => {
    const { res, responseUrl } = await slack.command(text, { user });
    expect(res.status).toBe(200);
    return (await slack.replyTo(responseUrl)).body;
  };
  const imageOf = (body: { blocks?: any[] }) => (body.blocks ?? []).find((b) => b.type === 'image');
  const uploadsSoFar = () => slack.fake.callsOf('files.getUploadURLExternal').length;

  beforeAll(async () => {
    slack = await startSlackHarness({}, { now: () => clock });
    set = await createSet(core(), { name: 'Winter Sale', promo_value: '10', max_uses: 0 }, `slack:${ADMIN}`);
    // Day one: 10 codes issued and all 10 redeemed.
    const batch = await generatePromotions(core(), set, { amount: 10 }, `slack:${ADMIN}`);
    for (const promotion of await listPromotions(core(), { batchId: batch.batchId })) await redeemPromotion(core(), set, { code: promotion.code }, 'test');
    // Day two: nothing.
    clock = new Date('2026-12-03T10:00:00Z');
  });
  afterAll(() => slack.stop());

  it('/promo info shows the 30-day chart as an image block whose slack_file is the uploaded PNG', async () => {
    const body = await reply('info Winter Sale');
    const image = imageOf(body);
    expect(image).toBeDefined();
    expect(image.slack_file).toEqual({ id: expect.stringMatching(/^F\d+$/) });
    expect(checkPayload('chat.postMessage', { channel: CHANNEL, text: 'x', blocks: [image] }) ?? []).toEqual([]);
    expect(image.alt_text).toContain('Winter Sale');
    expect(image.alt_text).toContain('10 issued and 10 redeemed in total');
    expect(image.alt_text).toContain('2026-12-02: 10 issued, 10 redeemed');

    // Uploaded through files.getUploadURLExternal + files.completeUploadExternal.
    const fileId = image.slack_file.id as string;
    expect(slack.fake.uploads.get(fileId)?.filename).toMatch(/^Winter-Sale-usage-30d\.png$/);
    const complete = slack.fake.callsOf('files.completeUploadExternal').find((c) => JSON.stringify(c.body.files).includes(fileId));
    expect(complete).toBeDefined();
    const bytes = slack.fake.uploadedBytes(fileId)!;
    expect(bytes.length).toBe(slack.fake.uploads.get(fileId)!.length);
    expect(bytes.length).toBeLessThan(200 * 1024);

    const png = decodePng(bytes);
    expect([png.width, png.height]).toEqual([CHART_LAYOUT.width, CHART_LAYOUT.height]);
    expect(distinctColours(png)).toBeGreaterThan(10);
    // Day 29 of 30 is 2026-12-02 (10 redeemed), day 30 is today (none).
    const yesterday = redeemedPixelsOfDay(png, 28, 30);
    const today = redeemedPixelsOfDay(png, 29, 30);
    expect(yesterday).toBeGreaterThan(1000);
    expect(today).toBe(0);
  });

  it('is drawn again only when its figures changed, and at most every 10 minutes', async () => {
    const before = uploadsSoFar();
    const first = imageOf(await reply('info Winter Sale')).slack_file.id;
    expect(uploadsSoFar()).toBe(before); // same figures: the stored file

    const more = await generatePromotions(core(), set, { amount: 3 }, `slack:${ADMIN}`);
    clock = new Date('2026-12-03T10:05:00Z');
    expect(imageOf(await reply('info Winter Sale')).slack_file.id).toBe(first); // changed, but drawn 5 minutes ago
    expect(uploadsSoFar()).toBe(before);

    clock = new Date('2026-12-03T10:11:00Z');
    const redrawn = imageOf(await reply('info Winter Sale'));
    expect(redrawn.slack_file.id).not.toBe(first);
    expect(redrawn.alt_text).toContain('13 issued and 10 redeemed in total');
    expect(uploadsSoFar()).toBe(before + 1);
    expect(more.count).toBe(3);
  });

  it('/promo report <set> posts the chart and uploads a CSV of daily figures; 90d gives 90 days', async () => {
    const body = await reply('report Winter Sale');
    expect(body.text).toContain('Winter Sale, last 30 days (2026-11-04 to 2026-12-03): 13 codes issued, 10 redeemed, 0 voided, 0 rolled back');
    expect(imageOf(body).slack_file.id).toMatch(/^F\d+$/);
    const csvUpload = slack.fake.calls.filter((c) => c.method === 'upload' && c.file?.text.startsWith('date,')).at(-1)!;
    const lines = csvUpload.file!.text.trim().split('\n');
    expect(lines[0]).toBe('date,issued,redeemed,voided,rolled_back');
    expect(lines).toHaveLength(31);
    expect(lines.at(-2)).toBe('2026-12-02,10,10,0,0');
    expect(lines.at(-1)).toBe('2026-12-03,3,0,0,0');
    const shared = slack.fake.callsOf('files.completeUploadExternal').at(-1)!;
    expect(shared.body.channel_id).toBe(CHANNEL);

    const ninety = await reply('report Winter Sale 90d');
    expect(ninety.text).toContain('last 90 days (2026-09-05 to 2026-12-03)');
    const csv90 = slack.fake.calls.filter((c) => c.method === 'upload' && c.file?.text.startsWith('date,')).at(-1)!;
    expect(csv90.file!.text.trim().split('\n')).toHaveLength(91);
  });

  it('bad input to /promo report gets a sentence: a window of 7x, an unknown set; a quiet set gets an empty chart', async () => {
    expect((await reply('report Winter Sale 7x')).text).toContain('"7x" is not a report window: use 30d or 90d');
    expect((await reply('report No Such Set')).text).toMatch(/no promo set|No promo set|not found/i);
    // A name that ends in a number is a name, not a window.
    await createSet(core(), { name: 'Sale 2026', promo_value: '5' }, 'cli:test');
    expect((await reply('report Sale 2026')).text).toContain('Sale 2026 had no activity in the last 30 days');
    await createSet(core(), { name: 'Quiet One', promo_value: '5' }, 'cli:test');
    const quiet = await reply('report Quiet One');
    expect(quiet.text).toContain('Quiet One had no activity in the last 30 days');
    const image = imageOf(quiet);
    expect(image.alt_text).toContain('no activity, 0 issued and 0 redeemed');
    const png = decodePng(slack.fake.uploadedBytes(image.slack_file.id)!);
    expect(distinctColours(png)).toBeGreaterThan(5);
  });

  it('App Home shows charts of the sets the person issued most codes from', async () => {
    await slack.event({ type: 'app_home_opened', user: ADMIN, channel: 'D0ADMIN', tab: 'home' });
    const publish = await slack.fake.waitFor('views.publish', (c) => c.body.user_id === ADMIN);
    const images = (publish.body.view.blocks as any[]).filter((b) => b.type === 'image');
    expect(images).toHaveLength(1);
    expect(images[0].alt_text).toContain('Winter Sale');
    expect(images[0].slack_file.id).toMatch(/^F\d+$/);
  });

  it('/promo digest: managers only; a channel promoset is not in, or plain #text, gets a sentence; a good one is confirmed there', async () => {
    expect((await reply(`digest <#${CHANNEL}|promos> daily`, OTHER)).text).toContain('Only managers of every set may schedule digests.');
    slack.fake.failNext('chat.postMessage', 'not_in_channel');
    const refused = (await reply('digest <#C0OUTSIDE|secret> daily')).text;
    expect(refused).toContain('promoset is not in <#C0OUTSIDE>');
    expect(refused).toContain('/invite @promoset');
    expect((await reply('digest #promos daily')).text).toContain('pick the channel from the list');
    expect((await reply(`digest <#${CHANNEL}|promos> hourly`)).text).toContain('`/promo digest #channel daily`, `weekly` (Mondays) or `off`');

    const ok = (await reply(`digest <#${CHANNEL}|promos> daily`)).text;
    expect(ok).toContain(`<#${CHANNEL}> gets a daily promo digest every day at 09:00 UTC`);
    const confirmation = await slack.fake.waitFor('chat.postMessage', (c) => c.body.channel === CHANNEL && String(c.body.text).includes('scheduled a daily promo digest'));
    expect(confirmation.response?.ok).toBe(true);

    // The first digest comes at the next 09:00, not at once.
    expect(await slack.service.slack!.digests.tick()).toEqual([]);
    clock = new Date('2026-12-04T09:00:30Z');
    expect(await slack.service.slack!.digests.tick()).toEqual([CHANNEL]);
    const digest = await slack.fake.waitFor('chat.postMessage', (c) => c.body.channel === CHANNEL && String(c.body.text).startsWith('Daily promo digest 2026-12-04'));
    const blocks = digest.body.blocks as any[];
    expect(blocks[0].text.text).toBe('Daily promo digest, 2026-12-04');
    expect(JSON.stringify(blocks)).toContain('Winter Sale');
    expect(blocks.find((b) => b.type === 'image').slack_file.id).toMatch(/^F\d+$/);
    expect(await slack.service.slack!.digests.tick()).toEqual([]);

    expect((await reply(`digest <#${CHANNEL}|promos> off`)).text).toContain('is off');
  });
});
