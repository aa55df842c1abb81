import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { PromoError } from '../domain/errors.js';
import { EVENT_ID_HEADER, retryDelaySeconds, SIGNATURE_HEADER, signWebhook, type WebhookSettings } from '../domain/webhooks.js';
import type { Logger } from '../log.js';
import { webhookDeliveries } from '../metrics.js';
import { claimDueEvents, nextDueAt, onOutboxWrite, recordAttempt, type AttemptResult, type OutboxEvent } from '../store/outbox.js';
import type { Db } from '../store/db.js';
import { findSetById } from '../store/sets.js';

/**
 * What the dispatcher needs, passed in by main.ts: it is a worker beside the
 * service, not part of it, so it reads the store itself and gets the one
 * check of a webhook target (service/webhook-target.ts) as a function.
 */
export interface DispatcherDeps {
  db: Db;
  now: () => Date;
  webhooks: WebhookSettings;
  /** Resolve a webhook host and refuse private addresses unless allowed; throws a PromoError saying why. */
  resolveHost: (hostname: string, allowPrivate: boolean) => Promise<{ address: string; family: 4 | 6 }>;
}

/**
 * The outbox dispatcher: claims due events (a lease, so only one instance
 * sends each and a dead instance's events are taken again), signs, POSTs,
 * and records the outcome with exponential backoff for 24 hours. It shares
 * nothing with request handling but the database, so a slow or failing
 * receiver never holds up the HTTP API.
 */
export interface DispatcherOptions {
  /** How often to look for events written by other instances (ms). */
  pollMs?: number;
  /** Per-delivery timeout (ms); DESIGN.md says 10 s. */
  timeoutMs?: number;
  /** Events claimed (and sent in parallel) at a time. */
  batchSize?: number;
}

export interface WebhookDispatcher {
  /** Look for due events now. */
  wake(): void;
  /** Stop claiming; wait for deliveries in flight (each bounded by the timeout). */
  stop(): Promise<void>;
}

const MAX_ERROR_LENGTH = 300;

export function startWebhookDispatcher(deps: DispatcherDeps, logger: Logger, options: DispatcherOptions = {}): WebhookDispatcher {
  const pollMs = options.pollMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const batchSize = options.batchSize ?? 20;
  // A lease outlives one delivery attempt (timeout) with room to record it.
  const leaseMs = timeoutMs + 5000;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  // After a local write, keep looking briefly: on PostgreSQL the event is only visible once its transaction commits.
  let eagerUntil = 0;

  const schedule = (delayMs: number) => {
    if (stopping) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, Math.max(0, delayMs));
  };

  const run = () => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch((error: unknown) => {
        // The database may be briefly unavailable; try again at the next poll.
        logger.warn('webhook dispatcher pass failed', { error: error instanceof Error ? error.message : String(error) });
        return pollMs;
      })
      .then((delay) => {
        running = undefined;
        if (again) {
          again = false;
          schedule(0);
        } else {
          schedule(delay);
        }
      });
  };

  /** Deliver everything due; returns how long to sleep. */
  const pass = async (): Promise<number> => {
    while (!stopping) {
      const now = deps.now();
      const due = await nextDueAt(deps.db, now.toISOString());
      if (due === undefined || due > now.toISOString()) {
        const untilDue = due === undefined ? pollMs : Math.min(pollMs, Date.parse(due) - now.getTime());
        return Date.now() < eagerUntil ? Math.min(untilDue, 50) : untilDue;
      }
      const events = await claimDueEvents(deps.db, { now: now.toISOString(), leaseUntil: new Date(now.getTime() + leaseMs).toISOString(), limit: batchSize });
      if (events.length === 0) return Math.min(pollMs, 50);
      await Promise.all(events.map((event) => deliverAndRecord(event)));
    }
    return pollMs;
  };

  const deliverAndRecord = async (event: OutboxEvent): Promise<void> => {
    const outcome = await deliver(deps, event, timeoutMs);
    const at = deps.now();
    const attempts = event.attempts + 1;
    let result: AttemptResult;
    if (outcome.ok) {
      result = { id: event.id, attempts, outcome: 'delivered', at: at.toISOString(), status: outcome.status };
    } else {
      const windowEnd = Date.parse(event.retry_until);
      const next = Math.min(at.getTime() + retryDelaySeconds(deps.webhooks.retryBaseSeconds, attempts) * 1000, windowEnd);
      const givingUp = outcome.final || at.getTime() >= windowEnd;
      result = {
        id: event.id, attempts, outcome: givingUp ? 'failed' : 'retry', at: at.toISOString(), status: outcome.status,
        error: outcome.error.slice(0, MAX_ERROR_LENGTH), nextAttemptAt: givingUp ? undefined : new Date(next).toISOString(),
      };
      logger.warn(givingUp ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry', {
        eventId: event.event_id, setId: event.set_id, type: event.type, attempts, error: result.error, nextAttemptAt: result.nextAttemptAt,
      });
    }
    await recordAttempt(deps.db, result);
    webhookDeliveries.inc({ outcome: result.outcome });
  };

  const unsubscribe = onOutboxWrite(() => {
    eagerUntil = Date.now() + 2000;
    if (running) again = true;
    else schedule(0);
  });
  schedule(0);

  return {
    wake: () => schedule(0),
    async stop() {
      stopping = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}

type Outcome = { ok: true; status: number } | { ok: false; status?: number; error: string; final?: boolean };

/** One attempt: resolve and check the target, sign with the set's current secret, POST, read the status. */
async function deliver(deps: DispatcherDeps, event: OutboxEvent, timeoutMs: number): Promise<Outcome> {
  const set = await findSetById(deps.db, event.set_id);
  if (!set?.webhook_url || !set.webhook_secret) return { ok: false, error: 'The set no longer has a webhook URL.', final: true };
  const url = new URL(set.webhook_url);
  let target;
  try {
    target = await deps.resolveHost(url.hostname, deps.webhooks.allowPrivateNetworks);
  } catch (error) {
    return { ok: false, error: error instanceof PromoError ? error.message : String(error) };
  }
  // Connect to exactly the address just checked, whatever DNS says a moment later.
  const pinned: LookupFunction = (_host, opts, callback) => {
    if ((opts as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
  const timestamp = Math.floor(deps.now().getTime() / 1000);
  const body = Buffer.from(event.body);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(outcome);
    };
    const request = transport.request(url, {
      method: 'POST',
      lookup: pinned,
      agent: false,
      headers: {
        'content-type': 'application/json',
        'content-length': body.length,
        'user-agent': 'promoset-webhooks/1',
        [EVENT_ID_HEADER]: event.event_id,
        [SIGNATURE_HEADER]: signWebhook(set.webhook_secret!, event.body, timestamp),
      },
    }, (response) => {
      const status = response.statusCode ?? 0;
      // The body is not needed; drain it so the socket closes cleanly.
      response.resume();
      response.on('end', () => finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `The receiver answered HTTP ${status}.` }));
      response.on('error', () => finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `The receiver answered HTTP ${status}.` }));
    });
    const deadline = setTimeout(() => {
      finish({ ok: false, error: `No answer within ${timeoutMs / 1000} s.` });
      request.destroy();
    }, timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) => finish({ ok: false, error: `Could not reach the receiver (${error.code ?? error.message}).` }));
    request.end(body);
  });
}
