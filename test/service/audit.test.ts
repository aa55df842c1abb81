import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCore, type Core } from '../../src/service/core.js';
import { generatePromotion, generatePromotions } from '../../src/service/generate.js';
import { archiveSet, createSet, rotateSetKey, updateSet } from '../../src/service/sets.js';
import { setAuditTrail } from '../../src/service/set-audit.js';

describe('audit trail', () => {
  let core: Core;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'promoset-audit-'));
    // A clock that ticks a second per reading, so events order by time unambiguously.
    let tick = Date.parse('2026-03-01T09:00:00Z');
    core = await openCore({ databaseUrl: join(dir, 'a.db'), publicUrl: 'http://promo.test', now: () => new Date((tick += 1000)) });
  });
  afterAll(async () => {
    await core.db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records who created, edited, rotated, archived, and who generated codes from where', async () => {
    const set = await createSet(core, { name: 'audited', promo_value: 15 }, 'slack:UALICE');
    await updateSet(core, set.id, { notes: 'for spring', promo_value: 15 }, 'admin-api');
    await generatePromotion(core, set, {}, 'http:203.0.113.7');
    await generatePromotions(core, set, { amount: 3 }, 'cli:bob');
    const rotated = await rotateSetKey(core, set.id, 'slack:UALICE');
    await archiveSet(core, set.id, 'cli:bob');

    const trail = await setAuditTrail(core, set.id);
    const summary = trail.map((e) => [e.action, e.actor]).reverse();
    expect(summary).toEqual([
      ['created', 'slack:UALICE'],
      ['edited', 'admin-api'],
      ['generated', 'http:203.0.113.7'],
      ['generated', 'cli:bob'],
      ['rotated', 'slack:UALICE'],
      ['archived', 'cli:bob'],
    ]);
    // Only the field that really changed is named, and no secret is ever written.
    expect(trail.find((e) => e.action === 'edited')?.detail).toEqual({ fields: ['notes'] });
    expect(trail.find((e) => e.actor === 'cli:bob' && e.action === 'generated')?.detail).toMatchObject({ count: 3, kind: 'bulk' });
    expect(JSON.stringify(trail)).not.toContain(rotated.api_key);
    expect(JSON.stringify(trail)).not.toContain(set.api_key);
  });
});
