import type { AuditEvent } from '../domain/audit.js';
import { pageWindow, type PageWindow } from '../domain/pages.js';
import { countAuditEvents, listAuditEvents } from '../store/audit.js';
import { countBatches, listRecentBatches } from '../store/batches.js';
import type { Core } from './core.js';
import { getSet } from './sets.js';

/**
 * Who created, edited, rotated or archived the set, and who generated which
 * codes from where, newest first. Generations come from the batches
 * themselves (each records its actor), so issuing a code costs no extra write.
 */
export async function setAuditTrail(core: Core, setId: number, limit = 50): Promise<AuditEvent[]> {
  await getSet(core, setId);
  const [events, batches] = await Promise.all([listAuditEvents(core.db, setId, limit), listRecentBatches(core.db, { setId, limit })]);
  const generated: AuditEvent[] = batches.map((batch) => ({
    id: 0,
    set_id: setId,
    action: 'generated',
    actor: batch.created_by,
    detail: { batch_id: batch.id, count: batch.count, kind: batch.kind },
    created_at: batch.created_at,
  }));
  return [...events, ...generated].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id).slice(0, limit);
}

/**
 * One page of the audit trail (its events and the set's batches, merged
 * newest first), for surfaces that cannot show it all at once.
 */
export async function setAuditPage(core: Core, setId: number, page: number, size: number): Promise<{ events: AuditEvent[]; window: PageWindow }> {
  const [events, batches] = await Promise.all([countAuditEvents(core.db, setId), countBatches(core.db, setId)]);
  const window = pageWindow(events + batches, page, size, 'audit events');
  const trail = await setAuditTrail(core, setId, window.offset + size);
  return { events: trail.slice(window.offset, window.offset + size), window };
}
