import { expect, it } from 'vitest';
import { generatePromotion } from '../../src/service/generate.js';
import { createSet, updateSet } from '../../src/service/sets.js';
import { setAuditPage, setAuditTrail } from '../../src/service/set-audit.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';

describeEachDialect('audit trail pages', (dialect) => {
  // A clock that ticks a second per reading, so events order by time unambiguously.
  let tick = Date.parse('2026-03-01T09:00:00Z');
  const ctx = useTestCore(dialect, { now: () => new Date((tick += 1000)) });

  it('pages merge audit events and batches newest first: every event on exactly one page, counts from both', async () => {
    const { core } = ctx;
    const set = await createSet(core, { name: 'paged', promo_value: 15 }, 'cli:alice');
    for (let i = 0; i < 7; i++) {
      await updateSet(core, set.id, { notes: `note ${i}` }, 'cli:alice');
      if (i < 5) await generatePromotion(core, set, {}, `http:203.0.113.${i}`);
    }
    const whole = await setAuditTrail(core, set.id, 100);
    expect(whole).toHaveLength(13);

    const paged = [];
    for (let page = 1; page <= 4; page++) {
      const { events, window } = await setAuditPage(core, set.id, page, 4);
      expect(window).toEqual({ page, pages: 4, total: 13, offset: (page - 1) * 4, size: 4 });
      paged.push(...events);
    }
    expect(paged.map((e) => [e.action, e.actor, e.created_at])).toEqual(whole.map((e) => [e.action, e.actor, e.created_at]));
    expect(paged.at(-1)).toMatchObject({ action: 'created', actor: 'cli:alice' });
    await expect(setAuditPage(core, set.id, 5, 4)).rejects.toThrow('There is no page 5: there are 4 pages of audit events (1 to 4).');
  });
});
