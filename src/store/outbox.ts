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

export interface FairClaim {
  now: string;
  leaseUntil: string;
  /** Events to take in all (this dispatcher's free slots). */
  limit: number;
  /** Deliveries in flight per receiver, across every instance (a failing receiver gets one). */
  perReceiver: number;
  /** Round-robin: receivers after this set id come first, then the rest from the start. */
  after: number;
}

const isDue = (now: string) => sql<boolean>`status = 'pending' and next_attempt_at <= ${now} and (lease_until is null or lease_until < ${now})`;

/**
 * Take due events fairly: round-robin across receivers (a set's webhook URL),
 * at most `perReceiver` in flight for each across all instances, so one
 * receiver's backlog (100,000 events) or a receiver that hangs never holds
 * another's events behind it. Each receiver's row is locked while its events
 * are claimed (PostgreSQL: FOR UPDATE SKIP LOCKED, so instances claiming at
 * once take different receivers, and the in-flight count they read is
 * exact; SQLite: one short write transaction). The claim is a lease, so
 * events held by a process that died (kill -9) are taken again.
 */
export async function claimDueEvents(db: Db, claim: FairClaim): Promise<OutboxEvent[]> {
  if (claim.limit <= 0) return [];
  // Receivers with pending events, outside the transaction (a read: an idle SQLite dispatcher takes no write
  // lock). One index seek per receiver (webhook_events_receiver_due_idx), however many events each holds: a
  // GROUP BY read all of a 100,000-event backlog on every pass. Whether any is due is for the claim to see.
  const { rows: pending } = await sql<{ set_id: number | string | null }>`
    with recursive receivers(set_id) as (
      select min(set_id) from webhook_events where status = 'pending'
      union all
      select (select min(set_id) from webhook_events where status = 'pending' and set_id > receivers.set_id)
      from receivers where receivers.set_id is not null
    )
    select set_id from receivers where set_id is not null`.execute(db);
  if (pending.length === 0) return [];
  const ids = pending.map((r) => Number(r.set_id)).sort((a, b) => a - b);
  const turn = [...ids.filter((id) => id > claim.after), ...ids.filter((id) => id <= claim.after)].slice(0, claim.limit);
  // A receiver's row is made the first time it has events (a write only then, not on every pass).
  const known = new Set((await db.selectFrom('webhook_receivers').select('set_id').where('set_id', 'in', turn).execute()).map((r) => Number(r.set_id)));
  const unknown = turn.filter((id) => !known.has(id));
  if (unknown.length > 0) await db.insertInto('webhook_receivers').values(unknown.map((setId) => ({ set_id: setId }))).onConflict((oc) => oc.column('set_id').doNothing()).execute();
  const take = async (trx: Db): Promise<OutboxEvent[]> => {
    let receivers = trx.selectFrom('webhook_receivers').select(['set_id', 'failures']).where('set_id', 'in', turn);
    if (isPostgres(trx)) receivers = receivers.forUpdate().skipLocked();
    const free = new Map((await receivers.execute()).map((r) => [Number(r.set_id), Number(r.failures)] as const));
    if (free.size === 0) return [];
    const busy = new Map((await trx.selectFrom('webhook_events').select(['set_id', (eb) => eb.fn.countAll().as('n')])
      .where('status', '=', 'pending').where('lease_until', '>=', claim.now).where('set_id', 'in', [...free.keys()]).groupBy('set_id').execute())
      .map((r) => [Number(r.set_id), Number(r.n)] as const));
    const claimed: OutboxEvent[] = [];
    // One round: every receiver gets its share before any gets more.
    for (const setId of turn) {
      const failures = free.get(setId);
      if (failures === undefined) continue; // another instance is claiming this receiver's events right now
      const cap = failures > 0 ? 1 : claim.perReceiver;
      const room = Math.min(cap - (busy.get(setId) ?? 0), claim.limit - claimed.length);
      if (room <= 0) continue;
      const { rows } = await sql<Record<string, unknown>>`
        update webhook_events set lease_until = ${claim.leaseUntil}
        where id in (
          select id from webhook_events where set_id = ${setId} and ${isDue(claim.now)}
          order by next_attempt_at, id limit ${room}
        )
        returning *`.execute(trx);
      claimed.push(...rows.map(toOutboxEvent));
      if (claimed.length >= claim.limit) break;
    }
    return claimed;
  };
  return isPostgres(db) ? db.transaction().execute(take) : inWriteTransaction(db, take);
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
export async function recordAttempt(db: Db, setId: number, result: AttemptResult): Promise<void> {
  await inWriteTransaction(db, async (trx) => {
    // The receiver's health: a success ends its probation, a failure extends it.
    await trx.updateTable('webhook_receivers')
      .set((eb) => ({ failures: result.outcome === 'delivered' ? 0 : eb('failures', '+', 1) }))
      .where('set_id', '=', setId)
      .execute();
    await trx
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
    .execute();
  });
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
