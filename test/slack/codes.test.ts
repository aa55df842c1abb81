import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, todayIn } from '../../src/domain/dates.js';
import type { PromoSet } from '../../src/domain/set.js';
import { findPromotionByCode, listPromotions, recentBatches } from '../../src/service/promotions.js';
import { createSet } from '../../src/service/sets.js';
import { ADMIN, CHANNEL, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

/** The CSV's code column (the second), header dropped. */
const csvCodes = (csv: string) => csv.trim().split('\n').slice(1).map((line) => line.split(',')[1]);

describe('/promo codes: the Generate codes modal, messages and CSV uploads', () => {
  let slack: SlackHarness;
  let set: PromoSet;
  const today = todayIn('UTC');

  beforeAll(async () => {
    slack = await startSlackHarness();
    set = await createSet(slack.service.core, { name: 'Bulk Set', promo_value: '15', code_length: '10' }, 'cli:test');
  });
  afterAll(() => slack.stop());

  async function openCodesModal(text: string) {
    const { res, triggerId } = await slack.command(text);
    expect(res.status).toBe(200);
    return slack.openedView(triggerId);
  }

  it('opens a modal with the amount, format, terms and the set in private_metadata', async () => {
    const view = await openCodesModal('codes Bulk Set 500');
    expect(view.callback_id).toBe('promo_generate_codes');
    const inputs = Object.fromEntries(view.blocks.filter((b: any) => b.type === 'input').map((b: any) => [b.block_id, b.element]));
    expect(Object.keys(inputs).sort()).toEqual(['amount', 'client_email', 'client_id', 'clients', 'code_length', 'code_prefix', 'code_type', 'expiry_date', 'notes', 'promo_code_type', 'reason', 'start_date', 'value'].sort());
    expect(inputs.amount.initial_value).toBe('500');
    expect(inputs.code_length.initial_value).toBe('10');
    expect(inputs.value.initial_value).toBe('15.00');
    expect(JSON.parse(view.private_metadata)).toEqual({ setId: set.id, channelId: CHANNEL });
  });

  it('500 codes: progress message, then getUploadURLExternal, the upload and completeUploadExternal with a CSV of 500 distinct stored codes', async () => {
    const view = await openCodesModal('codes Bulk Set 500');
    const res = await slack.submit(view, { code_prefix: 'BULK', notes: 'for the partner' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');

    const complete = await slack.fake.waitFor('files.completeUploadExternal');
    const getUrl = slack.fake.callsOf('files.getUploadURLExternal').at(-1)!;
    const fileId = getUrl.response!.file_id;
    expect(complete.body.files).toEqual([expect.objectContaining({ id: fileId })]);
    expect(complete.body.channel_id).toBe(CHANNEL);
    expect(complete.body.initial_comment).toContain('500 new codes from Bulk Set');

    const upload = slack.fake.callsOf('upload').find((c) => c.path === new URL(getUrl.response!.upload_url).pathname)!;
    expect(upload).toBeDefined();
    expect(Number(getUrl.body.length)).toBe(Buffer.byteLength(upload.file!.text));
    expect(getUrl.body.filename).toMatch(/^Bulk-Set-batch-\d+\.csv$/);
    const codes = csvCodes(upload.file!.text);
    expect(codes).toHaveLength(500);
    expect(new Set(codes.map((c) => c.toLowerCase())).size).toBe(500);
    for (const code of codes) expect(code).toMatch(/^BULK-[23456789BCDFGHJKMNPQRSTWXZ]{10}$/);

    const stored = await listPromotions(slack.service.core, { setId: set.id });
    const storedCodes = new Set(stored.map((p) => p.code));
    expect(codes.every((c) => storedCodes.has(c))).toBe(true);
    expect(stored.find((p) => p.code === codes[0])).toMatchObject({ value: '15.00', notes: 'for the partner' });
    const [batch] = await recentBatches(slack.service.core, { setId: set.id, limit: 1 });
    expect(batch).toMatchObject({ count: 500, created_by: `slack:${ADMIN}` });

    // The progress message was posted first, then updated to done.
    const progress = slack.fake.callsOf('chat.postMessage').find((c) => String(c.body.text).includes('Generating 500 codes'));
    expect(progress?.body.channel).toBe(CHANNEL);
    const done = await slack.fake.waitFor('chat.update', (c) => String(c.body.text).includes(`done, batch ${batch.id}`));
    expect(done.body.ts).toBe(progress!.response!.ts);
  });

  it('up to 20 codes are posted as a message in the channel', async () => {
    const view = await openCodesModal('codes Bulk Set 20');
    const res = await slack.submit(view);
    expect(await res.text()).toBe('');
    const message = await slack.fake.waitFor('chat.postMessage', (c) => String(c.body.text).startsWith('20 new codes from *Bulk Set*'));
    expect(message.body.channel).toBe(CHANNEL);
    const codes = /```([\s\S]*)```/.exec(message.body.blocks[1].text.text)![1].split('\n');
    expect(codes).toHaveLength(20);
    for (const code of codes) expect(await findPromotionByCode(slack.service.core, code)).toBeDefined();
  });

  it('when the app may not post in the channel, the codes go to the requester by DM', async () => {
    const view = await openCodesModal('codes Bulk Set 3');
    slack.fake.failNext('chat.postMessage', 'not_in_channel');
    expect(await (await slack.submit(view)).text()).toBe('');
    const dm = await slack.fake.waitFor('chat.postMessage', (c) => String(c.body.text).startsWith('3 new codes from *Bulk Set*') && c.response?.ok === true);
    expect(dm.body.channel).toBe(`D${ADMIN.slice(1)}`);
    const refused = slack.fake.callsOf('chat.postMessage').filter((c) => String(c.body.text).startsWith('3 new codes') && c.response?.ok === false);
    expect(refused.map((c) => c.body.channel)).toEqual([CHANNEL]);
  });

  it('invalid input comes back inline and generates nothing', async () => {
    const before = (await listPromotions(slack.service.core, { setId: set.id })).length;
    const view = await openCodesModal('codes Bulk Set');
    const cases: [Record<string, unknown>, Record<string, string>][] = [
      [{ amount: '100001' }, { amount: 'The amount must be a whole number from 1 to 100000.' }],
      [{ expiry_date: addDays(today, -1) }, { expiry_date: 'The expiry date must be a date in the future.' }],
      [{ start_date: addDays(today, 9), expiry_date: addDays(today, 3) }, { expiry_date: 'The expiry date must be later than the start date.' }],
      [{ value: 'abc' }, { value: 'The value must be a number with at most 2 decimals, like 25 or 25.50.' }],
      [{ code_length: '3', code_type: 'numeric', amount: '600' }, { amount: 'At most 500 for this code format.' }],
    ];
    for (const [changes, errors] of cases) {
      const res = await slack.submit(view, changes);
      expect(await res.json()).toEqual({ response_action: 'errors', errors });
    }
    expect((await listPromotions(slack.service.core, { setId: set.id })).length).toBe(before);
  });

  it('100,000 codes: acked at once, stored in one batch, uploaded as one CSV', async () => {
    const big = await createSet(slack.service.core, { name: 'Huge', code_length: '12' }, 'cli:test');
    const view = await openCodesModal('codes Huge 100000');
    const res = await slack.submit(view);
    expect(await res.text()).toBe('');
    const complete = await slack.fake.waitFor('files.completeUploadExternal', (c) => String(c.body.initial_comment).includes('from Huge'), 110_000);
    const getUrl = slack.fake.callsOf('files.getUploadURLExternal').find((c) => c.response!.file_id === complete.body.files[0].id)!;
    const upload = slack.fake.callsOf('upload').find((c) => c.path === new URL(getUrl.response!.upload_url).pathname)!;
    const codes = csvCodes(upload.file!.text);
    expect(codes).toHaveLength(100_000);
    expect(new Set(codes).size).toBe(100_000);
    const [batch] = await recentBatches(slack.service.core, { setId: big.id, limit: 5 });
    expect(batch.count).toBe(100_000);
    // Progress was reported while it ran.
    expect(slack.fake.callsOf('chat.update').some((c) => /Generating 100,000 codes .*… \d{1,3}(,\d{3})* of 100,000/.test(String(c.body.text)))).toBe(true);
  });
});
