import { PromoError } from '../domain/errors.js';
import type { PromoSet } from '../domain/set.js';
import { insertAuditEvent } from '../store/audit.js';
import { inWriteTransaction } from '../store/transactions.js';
import { countSetEvents, findSetEvent, listSetEvents, requeueEvent, type OutboxEvent } from '../store/outbox.js';
import { nowIso, type Core } from './core.js';
import { getSet } from './sets.js';

/** One delivery as admins see it (never its body: a set.rotated body holds the new URL). */
export interface DeliveryView {
  event_id: string;
  type: string;
  status: OutboxEvent['status'];
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  /** When the next attempt is due; null once delivered or failed. */
  next_attempt_at: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface WebhookOverview {
  set: PromoSet;
  counts: { pending: number; delivered: number; failed: number };
  deliveries: DeliveryView[];
}

function toView(event: OutboxEvent): DeliveryView {
  return {
    event_id: event.event_id,
    type: event.type,
    status: event.status,
    attempts: event.attempts,
    last_status: event.last_status,
    last_error: event.last_error,
    next_attempt_at: event.status === 'pending' ? event.next_attempt_at : null,
    created_at: event.created_at,
    delivered_at: event.delivered_at,
  };
}

const STATUSES = ['pending', 'delivered', 'failed'] as const;

/** Recent deliveries of a set, newest first, with totals by status. `status` narrows the list (e.g. failures). */
export async function webhookOverview(core: Core, setId: number, { limit = 20, status }: { limit?: number; status?: string } = {}): Promise<WebhookOverview> {
  const set = await getSet(core, setId);
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
    throw new PromoError('validation_failed', 'The status must be pending, delivered or failed.', { status: 'Use pending, delivered or failed.' });
  }
  const [counts, events] = await Promise.all([countSetEvents(core.db, setId), listSetEvents(core.db, setId, { limit, status: status as OutboxEvent['status'] | undefined })]);
  return { set, counts, deliveries: events.map(toView) };
}

/** Send one event again now (same id and body, so a receiver that already has it dedupes it). */
export async function resendDelivery(core: Core, setId: number, eventId: string, actor: string): Promise<DeliveryView> {
  const set = await getSet(core, setId);
  if (!set.webhook_url) throw new PromoError('conflict', `The promo set "${set.name}" has no webhook URL; set one before resending.`);
  const event = /^evt_[A-Za-z0-9]{1,64}$/.test(eventId) ? await findSetEvent(core.db, setId, eventId) : undefined;
  if (!event) throw new PromoError('not_found', `The promo set "${set.name}" has no webhook event ${eventId.slice(0, 80)}.`);
  await inWriteTransaction(core.db, async (trx) => {
    await requeueEvent(trx, event.id, nowIso(core));
    await insertAuditEvent(trx, { set_id: setId, action: 'webhook_resent', actor, detail: { event_id: event.event_id, type: event.type }, created_at: nowIso(core) });
  });
  const requeued = await findSetEvent(core.db, setId, eventId);
  return toView(requeued ?? event);
}
