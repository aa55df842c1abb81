import { sql, type Selectable } from 'kysely';
import { customAlphabet } from 'nanoid';
import { RETRY_WINDOW_MS, type WebhookEventBody, type WebhookEventType } from '../domain/webhooks.js';
import { inWriteTransaction } from './transactions.js';
import { isPostgres, type Db } from './db.js';
import type { WebhookEventsTable } from './schema.js';

/**
 * The webhook outbox. Use cases call recordEvent (or insertEvents) with their
 * own transaction handle, so an event exists exactly when its change
 * committed; the dispatcher (src/webhooks/dispatcher.ts) delivers it later.
 *
 * Sets without a webhook_url write nothing: pass the set you already hold
 * (`set: { id, webhook_url }`) to skip even the lookup.
 */

const eventSuffix = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 24);
export const newEventId = (): string => `evt_${eventSuffix()}`;

export interface EventInput {
  /** The set as the caller holds it (no lookup), or just its id (looked up in `db`). */
  set?: { id: number; webhook_url: string | null };
  setId?: number;
  type: WebhookEventType;
  data: Record<string, unknown>;
  /** ISO time of the change; defaults to now. */
  createdAt?: string;
}

/** A webhook_events row as read, its type and status narrowed. */
export type OutboxEvent = Omit<Selectable<WebhookEventsTable>, 'type' | 'status'> & { type: WebhookEventType; status: 'pending' | 'delivered' | 'failed' };

type Listener = () => void;
const listeners = new Set<Listener>();

/** The dispatcher of this process subscribes, to deliver soon after a commit instead of at its next poll. */
export function onOutboxWrite(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function announce(): void {
  for (const listener of listeners) listener();
}

/** Build an event's row; the body is fixed now so every retry sends the same bytes. */
export function outboxRow(setId: number, type: WebhookEventType, data: Record<string, unknown>, createdAt = new Date().toISOString()) {
  const eventId = newEventId();
  const body: WebhookEventBody = { id: eventId, type, created_at: createdAt, set_id: setId, data };
  const retryUntil = new Date(Date.parse(createdAt) + RETRY_WINDOW_MS).toISOString();
  return { event_id: eventId, set_id: setId, type, body: JSON.stringify(body), created_at: createdAt, status: 'pending', next_attempt_at: createdAt, retry_until: retryUntil };
}

/**
 * Record one event in `db` (pass the caller's transaction). Returns the event
 * id, or undefined when the set has no webhook_url (nothing is written).
 */
export async function recordEvent(db: Db, input: EventInput): Promise<string | undefined> {
  let set = input.set;
  if (set === undefined) {
    if (input.setId === undefined) throw new Error('recordEvent needs set or setId');
    const row = await db.selectFrom('promo_sets').select(['id', 'webhook_url']).where('id', '=', input.setId).executeTakeFirst();
    if (!row) return undefined;
    set = { id: Number(row.id), webhook_url: row.webhook_url };
  }
  if (!set.webhook_url) return undefined;
  const row = outboxRow(set.id, input.type, input.data, input.createdAt);
  await db.insertInto('webhook_events').values(row).execute();
  announce();
  return row.event_id;
}

/** Several events in one INSERT (a group commit's issued events). */
export async function insertEvents(db: Db, rows: ReturnType<typeof outboxRow>[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto('webhook_events').values(rows).execute();
  announce();
}

function toOutboxEvent(row: Record<string, unknown>): OutboxEvent {
  return {
    ...(row as unknown as OutboxEvent),
    id: Number(row.id),
    set_id: Number(row.set_id),
    attempts: Number(row.attempts),
    last_status: row.last_status === null ? null : Number(row.last_status),
  };
}

/**
 * Take up to `limit` due events for this dispatcher: pending, due, and not
 * leased by another live one. A lease expires, so events held by a process
 * that died (kill -9) are taken again. PostgreSQL: FOR UPDATE SKIP LOCKED, so
 * instances claiming at once take different rows; SQLite: one short write transaction.
 */
export async function claimDueEvents(db: Db, { now, leaseUntil, limit }: { now: string; leaseUntil: string; limit: number }): Promise<OutboxEvent[]> {
  if (isPostgres(db)) {
    const { rows } = await sql<Record<string, unknown>>`
      update webhook_events set lease_until = ${leaseUntil}
      where id in (
        select id from webhook_events
        where status = 'pending' and next_attempt_at <= ${now} and (lease_until is null or lease_until < ${now})
        order by next_attempt_at, id
        limit ${limit}
        for update skip locked
      )
      returning *`.execute(db);
    return rows.map(toOutboxEvent).sort((a, b) => a.id - b.id);
  }
  return inWriteTransaction(db, async (trx) => {
    const due = await trx
      .selectFrom('webhook_events')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    if (due.length === 0) return [];
    const rows = await trx.updateTable('webhook_events').set({ lease_until: leaseUntil }).where('id', 'in', due.map((r) => r.id)).returningAll().execute();
    return rows.map((r) => toOutboxEvent(r)).sort((a, b) => a.id - b.id);
  });
}

/**
 * When the next event not leased by a live dispatcher falls due (a read, so
 * an idle dispatcher never takes SQLite's write lock). A leased event counts
 * from when its lease runs out.
 */
export async function nextDueAt(db: Db, now: string): Promise<string | undefined> {
  const [free, leased] = await Promise.all([
    db.selectFrom('webhook_events').select((eb) => eb.fn.min('next_attempt_at').as('next'))
      .where('status', '=', 'pending').where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)])).executeTakeFirst(),
    db.selectFrom('webhook_events').select((eb) => eb.fn.min('lease_until').as('next'))
      .where('status', '=', 'pending').where('lease_until', '>=', now).executeTakeFirst(),
  ]);
  const times = [free?.next, leased?.next].filter((t): t is string => typeof t === 'string');
  return times.sort()[0];
}

export interface AttemptResult {
  id: number;
  attempts: number;
  outcome: 'delivered' | 'retry' | 'failed';
  at: string;
  nextAttemptAt?: string;
  status?: number;
  error?: string;
}

/** In a write transaction: on SQLite that waits for another process's write lock without freezing the event loop. */
export async function recordAttempt(db: Db, result: AttemptResult): Promise<void> {
  await inWriteTransaction(db, (trx) => trx
    .updateTable('webhook_events')
    .set({
      status: result.outcome === 'retry' ? 'pending' : result.outcome,
      attempts: result.attempts,
      lease_until: null,
      last_status: result.status ?? null,
      last_error: result.error ?? null,
      ...(result.outcome === 'delivered' ? { delivered_at: result.at } : {}),
      ...(result.nextAttemptAt ? { next_attempt_at: result.nextAttemptAt } : {}),
    })
    .where('id', '=', result.id)
    .where('status', '=', 'pending')
    .execute());
}

/** Newest first: what /promo webhooks and the admin API show. */
export async function listSetEvents(db: Db, setId: number, { limit = 20, status }: { limit?: number; status?: OutboxEvent['status'] } = {}): Promise<OutboxEvent[]> {
  let query = db.selectFrom('webhook_events').selectAll().where('set_id', '=', setId);
  if (status) query = query.where('status', '=', status);
  const rows = await query.orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => toOutboxEvent(r));
}

export async function countSetEvents(db: Db, setId: number): Promise<Record<OutboxEvent['status'], number>> {
  const rows = await db.selectFrom('webhook_events').select(['status', (eb) => eb.fn.countAll().as('n')]).where('set_id', '=', setId).groupBy('status').execute();
  const counts = { pending: 0, delivered: 0, failed: 0 };
  for (const row of rows) counts[row.status as OutboxEvent['status']] = Number(row.n);
  return counts;
}

export async function findSetEvent(db: Db, setId: number, eventId: string): Promise<OutboxEvent | undefined> {
  const row = await db.selectFrom('webhook_events').selectAll().where('set_id', '=', setId).where('event_id', '=', eventId).executeTakeFirst();
  return row && toOutboxEvent(row);
}

/** Queue an event again (same id and body, so receivers dedupe it): due now, attempts from zero, retried for another 24 hours. */
export async function requeueEvent(db: Db, id: number, now: string): Promise<void> {
  const retryUntil = new Date(Date.parse(now) + RETRY_WINDOW_MS).toISOString();
  await db.updateTable('webhook_events').set({ status: 'pending', attempts: 0, next_attempt_at: now, retry_until: retryUntil, lease_until: null, delivered_at: null }).where('id', '=', id).execute();
  announce();
}
