import { createHash } from 'node:crypto';
import { PromoError } from '../domain/errors.js';
import type { Core } from './core.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  deleteIdempotencyKeyIfCreatedAt,
  deleteIdempotencyKeysBefore,
  findIdempotencyKey,
  releaseIdempotencyKey,
  type IdempotencyRecord,
} from '../store/idempotency.js';
import { findBatchIdByRequestKey } from '../store/batches.js';
import { findRedemptionIdByRequestKey } from '../store/redemptions.js';
import { redemptionResult } from './redemptions.js';

const KEEP_MS = 24 * 60 * 60 * 1000;
/** A claim still pending after this long belongs to a request that died (crash, kill); it may be taken over. */
const ABANDONED_MS = 10 * 60 * 1000;
export const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

export type IdempotencyOutcome =
  /** `requestKey` goes on the batch the request makes (GenerationOptions.requestKey). */
  | { kind: 'new'; setId: number; key: string; requestKey: string }
  | { kind: 'replay'; record: IdempotencyRecord };

/** One claim of one key: a key reused after it expired names a different request. */
export function requestKeyFor(setId: number, key: string, claimedAt: string): string {
  return `idempotency:${setId}:${claimedAt}:${key}`;
}

let lastPurge = 0;

/**
 * Idempotency-Key for the writes of a set URL (single codes, bulk, redemptions):
 * a use case, not HTTP plumbing, since it reads three repositories and replays
 * a redemption's result. The header's value comes from the transport.
 */

/**
 * Handle the Idempotency-Key header of a POST to a set URL. No header: null,
 * proceed as usual. A new key: claimed (a pending row), proceed, then
 * `finish` or `abandon`. A known key: the stored outcome, to be replayed.
 * A key whose first request is still running: 409, never a second batch.
 */
export async function beginIdempotent(core: Core, header: string | string[] | undefined, setId: number, request: (string | Buffer)[], format: string | null = null): Promise<IdempotencyOutcome | null> {
  if (header === undefined) return null;
  const key = Array.isArray(header) ? header[0] : header;
  if (!KEY_PATTERN.test(key)) {
    throw new PromoError('bad_request', 'The Idempotency-Key header must be 1 to 200 visible ASCII characters (a UUID is ideal).');
  }
  const now = core.now();
  await purgeExpired(core, now);
  const fingerprint = requestFingerprint(request);

  for (let attempt = 0; attempt < 3; attempt++) {
    if (await claimIdempotencyKey(core.db, { setId, key, fingerprint, format, now: now.toISOString() })) {
      return { kind: 'new', setId, key, requestKey: requestKeyFor(setId, key, now.toISOString()) };
    }
    let record = await findIdempotencyKey(core.db, setId, key);
    if (record === undefined) continue; // released in between: claim again
    if (record.state === 'pending' && record.fingerprint === fingerprint) record = await recoverCommitted(core, record);
    const age = now.getTime() - Date.parse(record.createdAt);
    if (age >= KEEP_MS || (record.state === 'pending' && age >= ABANDONED_MS)) {
      await deleteIdempotencyKeyIfCreatedAt(core.db, setId, key, record.createdAt);
      continue;
    }
    if (record.fingerprint !== fingerprint) {
      throw new PromoError('conflict', 'This Idempotency-Key was already used for a different request to this set. Use a new key for a new request.');
    }
    if (record.state === 'pending') {
      throw new PromoError('conflict', 'A request with this Idempotency-Key is still being processed. Retry in a moment to get its response; nothing new will be created.', {}, { retryAfterSeconds: 1 });
    }
    return { kind: 'replay', record };
  }
  throw new PromoError('conflict', 'This Idempotency-Key is being used by several requests at once. Retry in a moment.');
}

/**
 * A pending claim whose batch has committed is done, whatever became of the
 * request that made it (still streaming its reply, or killed right after
 * COMMIT): the batch carries the claim's request key, written in its own transaction.
 */
async function recoverCommitted(core: Core, record: IdempotencyRecord): Promise<IdempotencyRecord> {
  const requestKey = requestKeyFor(record.setId, record.key, record.createdAt);
  const batchId = await findBatchIdByRequestKey(core.db, requestKey);
  if (batchId === undefined) return recoverRedemption(core, record, requestKey);
  const done = { status: 200, batchId, format: record.format ?? undefined };
  await completeIdempotencyKey(core.db, record.setId, record.key, done);
  return { ...record, state: 'done', status: 200, batchId };
}

/** The same for a redemption: its row carries the claim's request key; the reply is rendered from it. */
async function recoverRedemption(core: Core, record: IdempotencyRecord, requestKey: string): Promise<IdempotencyRecord> {
  const redemptionId = await findRedemptionIdByRequestKey(core.db, requestKey);
  const result = redemptionId === undefined ? undefined : await redemptionResult(core, redemptionId);
  if (result === undefined) return record;
  const body = JSON.stringify(result);
  await completeIdempotencyKey(core.db, record.setId, record.key, { status: 200, body });
  return { ...record, state: 'done', status: 200, body };
}

/** What a key is bound to: the kind of request, its query format and its exact body bytes. */
export function requestFingerprint(request: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of request) hash.update(part).update('\n');
  return hash.digest('hex');
}

export async function finishIdempotent(core: Core, claim: IdempotencyOutcome | null, outcome: { status: number; body?: string; batchId?: number; format?: string }): Promise<void> {
  if (claim?.kind === 'new') await completeIdempotencyKey(core.db, claim.setId, claim.key, outcome);
}

/** The request failed (4xx): forget the claim so a corrected retry with the same key can run. */
export async function abandonIdempotent(core: Core, claim: IdempotencyOutcome | null): Promise<void> {
  if (claim?.kind === 'new') await releaseIdempotencyKey(core.db, claim.setId, claim.key);
}

/** Expired keys are deleted at most once a minute per process, off the table's created_at index. */
async function purgeExpired(core: Core, now: Date): Promise<void> {
  if (now.getTime() - lastPurge < 60_000) return;
  lastPurge = now.getTime();
  await deleteIdempotencyKeysBefore(core.db, new Date(now.getTime() - KEEP_MS).toISOString());
}
