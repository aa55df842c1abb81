import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, todayIn } from '../../src/domain/dates.js';
import type { PromoSet } from '../../src/domain/set.js';
import { generatePromotion } from '../../src/service/generate.js';
import { findPromotionByCode, listPromotions } from '../../src/service/promotions.js';
import { createSet, getSet } from '../../src/service/sets.js';
import { setUrl } from '../../src/service/set-urls.js';
import { ADMIN, OTHER, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

const replyText = (call: { body: Record<string, any> }) => `${call.body.text}\n${JSON.stringify(call.body.blocks ?? [])}`;

describe('/promo commands', () => {
  let slack: SlackHarness;
  let set: PromoSet;
  const today = todayIn('UTC');

  beforeAll(async () => {
    slack = await startSlackHarness();
    set = await createSet(slack.service.core, {
      name: 'Black Friday', promo_code_type: 'Percentage', promo_value: '25.5', cycles: 'Annually,Monthly', applies_to: '12,40,18',
      expiration_date: addDays(today, 60), max_uses: '11', notes: 'seasonal', upgrades: 1, upgrade_value: '11', config_option_upgrades: '11,13',
    }, 'cli:test');
  });
  afterAll(() => slack.stop());

  async function ask(text: string, user = ADMIN) {
    const { res, responseUrl } = await slack.command(text, { user });
    expect(res.status).toBe(200);
    const reply = await slack.replyTo(responseUrl);
    expect(reply.body.response_type).toBe('ephemeral');
    return replyText(reply);
  }

  it.each(['', 'help', 'frobnicate'])('"/promo %s" answers with the usage', async (text) => {
    const reply = await ask(text);
    expect(reply).toContain('/promo new [name]');
    expect(reply).toContain('/promo codes <set> [amount]');
    if (text === 'frobnicate') expect(reply).toContain("I don't know `frobnicate`");
  });

  it('info by id and by name (any case) shows the fields and, for an admin, the URL and api_key', async () => {
    for (const ref of [String(set.id), 'black friday', 'BLACK FRIDAY']) {
      const reply = await ask(`info ${ref}`);
      expect(reply).toContain('*Black Friday* (set');
      expect(reply).toContain('25.50% (Percentage)');
      expect(reply).toContain('Annually, Monthly');
      expect(reply).toContain('12, 40, 18');
      expect(reply).toContain(addDays(today, 60));
      expect(reply).toContain('seasonal');
      expect(reply).toContain(set.api_key);
      expect(reply).toContain(setUrl(slack.service.core, set));
      for (const button of ['set_generate_code', 'set_generate_codes', 'set_edit', 'set_rotate', 'set_archive']) expect(reply).toContain(button);
    }
  });

  it('a non-admin sees the fields but no URL or api_key', async () => {
    const reply = await ask('info Black Friday', OTHER);
    expect(reply).toContain('25.50% (Percentage)');
    expect(reply).not.toContain(set.api_key);
    expect(reply).not.toContain('/sets/');
    expect(reply).toContain('managers of this set only');
    expect(reply).not.toContain('set_rotate');
  });

  it('an unknown set gets a friendly error suggesting close names', async () => {
    const reply = await ask('info Black Fridya');
    expect(reply).toContain('There is no promo set \\"Black Fridya\\". Did you mean \\"Black Friday\\"?');
  });

  it('list shows one line per set', async () => {
    const reply = await ask('list', OTHER);
    expect(reply).toMatch(new RegExp(`\\*${set.id}\\* Black Friday: 25.50%, \\d+ codes?`));
  });

  it('/promo code gives the same promotion the set URL POST gives for the same overrides', async () => {
    const expiry = addDays(today, 20);
    const reply = await ask(`code Black Friday value=50 type=“Fixed Amount” start=${today} expiry=${expiry} name=puqcloud.com notes="TEST FOR DOCUMENTATION"`);
    const code = /puqcloud\.com-[A-Z0-9]+/.exec(reply)?.[0];
    expect(code).toBeDefined();
    const fromSlack = await findPromotionByCode(slack.service.core, code!);
    expect(fromSlack).toBeDefined();

    const fromUrl = await generatePromotion(slack.service.core, await getSet(slack.service.core, set.id), {
      name: 'puqcloud.com', value: '50', promo_code_type: 'Fixed Amount', start_date: today, expiry_date: expiry, notes: 'TEST FOR DOCUMENTATION',
    }, 'http:127.0.0.1');
    const { id: _a, code: _b, set_id: _c, batch_id: _d, ...slackTerms } = fromSlack!;
    const { id: _e, code: urlCode, ...urlTerms } = fromUrl;
    expect(slackTerms).toEqual(urlTerms);
    expect(slackTerms).toMatchObject({ type: 'Fixed Amount', value: '50.00', startdate: today, expirationdate: expiry, notes: 'TEST FOR DOCUMENTATION', appliesto: '12,40,18', maxuses: 11 });
    expect(urlCode).toMatch(/^puqcloud\.com-/);
    const batch = (await listPromotions(slack.service.core, { code: code! }))[0];
    expect(batch.code).toBe(code);
  });

  it('/promo code with a bad override says what is wrong and stores nothing', async () => {
    const before = (await listPromotions(slack.service.core, { setId: set.id })).length;
    const reply = await ask('code Black Friday type=Percentage value=150');
    expect(reply).toContain('A percentage value must be at most 100.');
    const past = await ask(`code Black Friday expiry=${addDays(today, -2)}`);
    expect(past).toContain('The expiry date must be a date in the future.');
    const unknown = await ask('code Black Friday colour=red');
    expect(unknown).toContain('Unknown option \\"colour\\"');
    expect((await listPromotions(slack.service.core, { setId: set.id })).length).toBe(before);
  });

  it('a non-admin may not generate, create, edit, rotate or archive', async () => {
    const before = await getSet(slack.service.core, set.id);
    const count = (await listPromotions(slack.service.core, { setId: set.id })).length;
    for (const text of ['code Black Friday', 'codes Black Friday 5', 'new Sneaky', 'edit Black Friday', 'rotate Black Friday', 'archive Black Friday']) {
      const reply = await ask(text, OTHER);
      expect(reply).toContain(' may ');
    }
    expect(await getSet(slack.service.core, set.id)).toEqual(before);
    expect((await listPromotions(slack.service.core, { setId: set.id })).length).toBe(count);
    expect(slack.fake.callsOf('views.open').filter((c) => String(c.body.trigger_id ?? '').length > 0 && JSON.stringify(c.body).includes('Sneaky'))).toHaveLength(0);
  });

  it('rotate gives a new URL and archive stops the set', async () => {
    const other = await createSet(slack.service.core, { name: 'Rotating' }, 'cli:test');
    const oldUrl = setUrl(slack.service.core, other);
    const rotated = await ask('rotate Rotating');
    const fresh = await getSet(slack.service.core, other.id);
    expect(fresh.api_key).not.toBe(other.api_key);
    expect(rotated).toContain(setUrl(slack.service.core, fresh));
    expect(rotated).not.toContain(oldUrl);
    const archived = await ask('archive rotating');
    expect(archived).toContain('is archived');
    expect((await getSet(slack.service.core, other.id)).archived_at).not.toBeNull();
    expect(await ask('code Rotating')).toContain('is archived; it no longer issues codes.');
  });

  it('audit lists who did what, for admins only', async () => {
    const audited = await createSet(slack.service.core, { name: 'Audited' }, 'slack:UCREATOR');
    await ask('code Audited');
    await ask('rotate Audited');
    const trail = await ask('audit audited');
    expect(trail).toContain('Audit trail of *Audited*');
    expect(trail).toMatch(/rotated by <@UADMIN/);
    expect(trail).toMatch(/generated 1 code \(batch \d+\) by <@UADMIN/);
    expect(trail).toContain('created by <@UCREATOR>');
    expect(trail).not.toContain((await getSet(slack.service.core, audited.id)).api_key);
    expect(await ask('audit Audited', OTHER)).toContain(' may see audit trails');
  });
});
