import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { createSet } from '../../src/service/sets.js';
import { insertAuditEvent } from '../../src/store/audit.js';
import { ADMIN, OTHER, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

const SETS = 500;
const AUDIT_EVENTS = 2000;

/**
 * A 100-character name: a numbered head, then emoji (two UTF-16 units each)
 * and characters mrkdwn escapes (&, <, >), shifted by `i` so that a cut at
 * any length lands inside a surrogate pair or an escaped entity for some set.
 */
function longName(i: number): string {
  const head = `Set ${String(i).padStart(3, '0')} ${'x'.repeat(i % 4)}`;
  let name = head;
  const filler = ['🎉', '&', 'é', '<', '>', 'a', '🧾'];
  for (let k = 0; name.length < 100; k++) name += filler[k % filler.length];
  return name.slice(0, 99).replace(/[\uD800-\uDBFF]$/, 'z').padEnd(100, 'q');
}

const longNotes = (i: number) => `Notes for ${i}: ` + 'terms & conditions <apply> 🎟️ '.repeat(40).slice(0, 1000 - 14 - String(i).length);

/** A lone surrogate anywhere in a payload's strings: text cut inside an emoji. */
function loneSurrogates(value: unknown, found: string[] = []): string[] {
  if (typeof value === 'string') {
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)) found.push(value.slice(0, 80));
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) loneSurrogates(v, found);
  }
  return found;
}

describe('Slack surfaces at scale stay within Block Kit limits and say what they left out', () => {
  let slack: SlackHarness;
  const sets: PromoSet[] = [];
  let audited: PromoSet;

  beforeAll(async () => {
    slack = await startSlackHarness();
    const { core } = slack.service;
    for (let i = 1; i <= SETS; i++) {
      const set = await createSet(core, { name: `Set ${i}`, api_ip_address: 'any', promo_value: '10', notes: longNotes(i), applies_to: Array.from({ length: 60 }, (_, k) => String(1000 + k)).join(',') }, 'cli:scale-test');
      // Names up to 80 characters are accepted today; rows from before (or after) that limit can be longer.
      const name = longName(i);
      await core.db.updateTable('promo_sets').set({ name, name_key: name.toLowerCase() }).where('id', '=', set.id).execute();
      sets.push({ ...set, name });
    }
    audited = sets[0];
    await core.db.transaction().execute(async (trx) => {
      for (let k = 0; k < AUDIT_EVENTS - 1; k++) {
        // One a second after the set's creation, as a busy set would collect them.
        const created_at = new Date(Date.parse(audited.created_at) + (k + 1) * 1000).toISOString();
        const event = k % 3 === 0
          ? { action: 'edited' as const, actor: `http:2001:db8:${k.toString(16)}::1`, detail: { fields: ['name', 'notes', 'applies_to', 'requires', 'cycles', 'start_date', 'expiration_date', 'max_uses', 'code_prefix', 'code_length'] } }
          : k % 3 === 1
            ? { action: 'rotated' as const, actor: `slack:U${String(k).padStart(8, '0')}`, detail: {} }
            : { action: 'edited' as const, actor: `cli:${'operator-with-a-long-name-'.repeat(6)}${k}`, detail: { fields: ['notes'] } };
        await insertAuditEvent(trx, { set_id: audited.id, created_at, ...event });
      }
    });
  }, 300_000);
  afterAll(() => slack.stop());

  async function ask(text: string, user = ADMIN) {
    const { res, responseUrl } = await slack.command(text, { user });
    expect(res.status).toBe(200);
    return (await slack.replyTo(responseUrl)).body;
  }
  const blocksText = (body: any) => JSON.stringify(body.blocks);

  it('/promo list shows 100 sets a page, says how to see the rest, and every set is on exactly one page', async () => {
    const first = await ask('list');
    expect(first.blocks.length).toBeLessThanOrEqual(50);
    expect(blocksText(first)).toContain(`*Promo sets* 1–100 of ${SETS} (page 1 of 5)`);
    expect(blocksText(first)).toContain('Showing sets 1–100 of 500. Next: `/promo list page 2`.');

    const seen: number[] = [];
    for (let page = 1; page <= 5; page++) {
      const body = page === 1 ? first : await ask(`list page ${page}`);
      for (const match of blocksText(body).matchAll(/• \*(\d+)\* /g)) seen.push(Number(match[1]));
    }
    expect(seen).toEqual(sets.map((s) => s.id));
    const last = await ask('list page 5');
    expect(blocksText(last)).toContain('Showing sets 401–500 of 500. Any page');
    // Each name is shortened at 80 characters with …, never inside an emoji or an &amp;.
    const shown = /• \*\d+\* ([^:]+…):/.exec(blocksText(first))?.[1];
    expect(shown).toBeDefined();
  });

  it.each([
    ['list page 6', 'There is no page 6: there are 5 pages of sets (1 to 5).'],
    ['list page 0', '"0" is not a page number; pages are numbered from 1, like `page 2`.'],
    ['list page two', '"two" is not a page number; pages are numbered from 1, like `page 2`.'],
    ['list page', 'Give a page number after "page", like `page 2`.'],
    // A name cut for the message is cut between emoji, not inside one.
    [`info ${'🎉'.repeat(45)}`, `There is no promo set "${'🎉'.repeat(39)}…".`],
    ['list everything', '`/promo list` takes only a page, like `/promo list page 2`; for one set use `/promo info everything`.'],
  ])('%s is refused with a sentence', async (text, message) => {
    expect((await ask(text)).text).toBe(`:warning: ${message}`);
  });

  it('App Home shows the 40 newest sets and where to find the other 460', async () => {
    const res = await slack.event({ type: 'app_home_opened', user: ADMIN, channel: 'D0ADMIN', tab: 'home', event_ts: '1.0' });
    expect(res.status).toBe(200);
    const publish = await slack.fake.waitFor('views.publish', (c) => c.body.user_id === ADMIN);
    expect(publish.response?.ok).toBe(true);
    const view = publish.body.view;
    expect(view.blocks.length).toBeLessThanOrEqual(100);
    const text = JSON.stringify(view.blocks);
    expect(text).toContain(`(id ${sets[SETS - 1].id})`);
    expect(text).not.toContain(`(id ${sets[SETS - 41].id})`);
    expect(text).toContain('Showing the 40 newest of 500 sets. `/promo list` shows them all, 100 a page');
  });

  it('/promo info on a set with a long name, notes and product list shortens them and says where they are whole', async () => {
    for (const user of [ADMIN, OTHER]) {
      const body = await ask(`info ${sets[6].id}`, user);
      const text = blocksText(body);
      expect(text).toContain('Notes for 7: terms &amp; conditions');
      expect(text).toContain('…');
      expect(text).toContain(`\`promoset sets show ${sets[6].id}\` or \`GET /api/sets/${sets[6].id}\` shows them in full`);
    }
  });

  it('/promo audit on a set with 2,000 events pages them 50 at a time, newest first, with errors for bad pages', async () => {
    const first = await ask(`audit ${audited.id}`);
    expect(blocksText(first)).toContain(`events 1–50 of 2,000 newest first`);
    expect(blocksText(first)).toContain(`Older: \`/promo audit ${audited.id} page 2\``);
    const firstLines = blocksText(first).match(/• \d{4}-[^•]*/g)!;
    expect(firstLines).toHaveLength(50);
    // Newest first: the 1,999th event (k = 1998) leads.
    expect(firstLines[0]).toContain('by `http:2001:db8:7ce::1`');
    expect(firstLines[1]).toContain('edited notes by `cli:operator-with-a-long-name-');
    expect(firstLines[2]).toContain('rotated by <@U00001996>');
    const last = await ask(`audit ${audited.id} page 40`);
    const lines = blocksText(last).match(/• \d{4}-[^•]*/g)!;
    expect(lines).toHaveLength(50);
    // Page 40 ends with the oldest event: the set's creation, after the first edit.
    expect(lines.at(-1)).toContain('created by `cli:scale-test`');
    expect(lines.at(-2)).toContain('edited name, notes, applies_to, requires, cycles, start_date, expiration_date, max_uses, code_prefix, code_length by `http:2001:db8:0::1`');
    expect((await ask(`audit ${audited.id} page 41`)).text).toBe(':warning: There is no page 41: there are 40 pages of audit events (1 to 40).');
    // By name too (a set's long name, quoted).
    const byName = await ask(`audit "${audited.name}" page 2`);
    expect(blocksText(byName)).toContain('events 51–100 of 2,000');
  });

  it('edit, codes and code on a set with a 100-character name stay within the limits', async () => {
    const set = sets[10];
    const edit = await slack.command(`edit ${set.id}`);
    const view = await slack.openedView(edit.triggerId);
    expect(view.blocks.find((b: any) => b.block_id === 'name').element.initial_value).toBe(set.name);
    const codes = await slack.command(`codes ${set.id} 5`);
    await slack.openedView(codes.triggerId);
    const one = await ask(`code ${set.id}`);
    expect(one.text).toMatch(/^A new code from \*Set 011 /);
    // A name pasted far too long opens the form anyway (cut at Slack's 3,000), and submitting it says what is wrong.
    const pasted = await slack.command(`new ${'Very long name '.repeat(250)}`);
    const form = await slack.openedView(pasted.triggerId);
    expect(form.blocks[0].element.initial_value).toHaveLength(3000);
    const refused = await slack.submit(form);
    expect(await refused.json()).toEqual({ response_action: 'errors', errors: { name: 'The name is required and must be at most 80 characters.' } });
  });

  it('no payload sent to Slack cut a character in half or an entity short, and none broke a limit', () => {
    const bodies = slack.fake.calls.map((c) => c.body);
    expect(bodies.length).toBeGreaterThan(15);
    expect(loneSurrogates(bodies)).toEqual([]);
    expect(JSON.stringify(bodies)).not.toMatch(/&(a|am|amp|l|lt|g|gt)?…/);
    expect(slack.fake.violations).toEqual([]);
  });
});
