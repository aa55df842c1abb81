import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { findBinding } from '../../src/store/bindings.js';
import { findPromotionByCode, listPromotions, recentBatches } from '../../src/service/promotions.js';
import { createSet } from '../../src/service/sets.js';
import { ADMIN, OTHER, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

const replyText = (call: { body: Record<string, any> }) => `${call.body.text}\n${JSON.stringify(call.body.blocks ?? [])}`;

/** Issue 21 from Slack: `/promo code <set> client=…`, the generate modal's binding inputs, `/promo codes-for`, `/promo info`. */
describe('binding codes to a customer from Slack (signed requests, fake Web API)', () => {
  let slack: SlackHarness;
  let set: PromoSet;

  beforeAll(async () => {
    slack = await startSlackHarness();
    set = await createSet(slack.service.core, { name: 'Apology', promo_value: '20', max_uses: '2' }, 'cli:test');
  });
  afterAll(() => slack.stop());

  async function ask(text: string, user = ADMIN) {
    const { res, responseUrl } = await slack.command(text, { user });
    expect(res.status).toBe(200);
    return replyText(await slack.replyTo(responseUrl));
  }
  const seqOf = async (code: string) => Number((await slack.service.core.db.selectFrom('promotions').select('id').where('code', '=', code).executeTakeFirstOrThrow()).id);

  it('/promo code <set> client=42,ann@example.com binds the code, and the reply says so and what max uses 2 means', async () => {
    const text = await ask('code Apology client=42,Ann@Example.com');
    const code = /A new code from \*Apology\*: (\S+)/.exec(text)![1];
    expect(await findBinding(slack.service.core.db, await seqOf(code))).toEqual({ client_id: 42, client_email: 'Ann@Example.com' });
    expect(text).toContain(`${code} → client 42 (Ann@Example.com)`);
    expect(text).toContain('A bound code of this set can be used up to 2 times, and every use must be by the bound customer.');
  });

  it('client_email= alone, and clear refusals for a bad client id or e-mail (nothing issued)', async () => {
    const text = await ask('code Apology client_email=zoe@example.com');
    expect(text).toContain('→ zoe@example.com');
    const before = (await listPromotions(slack.service.core, { setId: set.id })).length;
    expect(await ask('code Apology client=0')).toContain('The client_id must be a WHMCS client id: a whole number from 1 up, such as 42.');
    expect(await ask('code Apology client=ann@')).toContain('The client_email must be an e-mail address such as name@example.com.');
    expect(await ask('code Apology client=4,5')).toContain('client= names the client id twice');
    expect((await listPromotions(slack.service.core, { setId: set.id })).length).toBe(before);
  });

  it('the generate modal binds a batch: one code per customer of the list, the amount ignored', async () => {
    const { triggerId } = await slack.command('codes Apology 5');
    const view = await slack.openedView(triggerId);
    const res = await slack.submit(view, { clients: '42\nann@example.com\n43,bob@example.com' });
    expect(res.status).toBe(200);
    const posted = await slack.fake.waitFor('chat.postMessage', (call) => String(call.body.text).includes('3 new codes from *Apology*'));
    const [batch] = await recentBatches(slack.service.core, { setId: set.id, limit: 1 });
    expect(batch.count).toBe(3);
    const codes = (await listPromotions(slack.service.core, { batchId: batch.id })).map((p) => p.code);
    const bindings = await Promise.all(codes.map(async (c) => findBinding(slack.service.core.db, await seqOf(c))));
    expect(bindings).toEqual([{ client_id: 42, client_email: null }, { client_id: null, client_email: 'ann@example.com' }, { client_id: 43, client_email: 'bob@example.com' }]);
    expect(replyText(posted)).toContain(`${codes[2]} → client 43 (bob@example.com)`);
  });

  it('the modal shows a bad customer list inline, under its input', async () => {
    const { triggerId } = await slack.command('codes Apology');
    const view = await slack.openedView(triggerId);
    const res = await slack.submit(view, { client_id: 'abc' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ response_action: 'errors', errors: { client_id: 'The client_id must be a WHMCS client id: a whole number from 1 up, such as 42.' } });
  });

  it('/promo codes-for <e-mail|client id> lists the customer\'s codes; /promo info counts the bound codes; others may not look', async () => {
    const byEmail = await ask('codes-for ANN@example.com');
    expect(byEmail).toContain('Codes bound to ANN@example.com');
    const byId = await ask('codes-for 42');
    const code = (await findPromotionByCode(slack.service.core, /`([A-Z0-9-]+)`/.exec(byId)![1]))!;
    expect(code.set_id).toBe(set.id);
    expect(await ask('codes-for 999')).toContain('No codes are bound to client 999.');
    expect(await ask('codes-for someone')).toContain('Name the customer by WHMCS client id (such as 42) or e-mail address.');
    expect(await ask('info Apology')).toMatch(/5 codes bound to a customer/);
    expect(await ask('codes-for 42', OTHER)).toContain("Only managers of every set may look up a customer's codes.");
  });
});
