import type { Db } from './db.js';
import type { IdempotencyKeysTable } from './schema.js';

export interface IdempotencyRecord {
  setId: number;
  key: string;
  fingerprint: string;
  state: 'pending' | 'done';
  status: number | null;
  body: string | null;
  batchId: number | null;
  format: string | null;
  createdAt: string;
}

function toRecord(row: IdempotencyKeysTable): IdempotencyRecord {
  return {
    setId: Number(row.set_id),
    key: row.key,
    fingerprint: row.fingerprint,
    state: row.state as IdempotencyRecord['state'],
    status: row.status === null ? null : Number(row.status),
    body: row.body,
    batchId: row.batch_id === null ? null : Number(row.batch_id),
    format: row.format,
    createdAt: row.created_at,
  };
}

/** Insert a pending row; false when the key is already taken (by any instance: the primary key decides). */
export async function claimIdempotencyKey(db: Db, claim: { setId: number; key: string; fingerprint: string; format: string | null; now: string }): Promise<boolean> {
  const result = await db
    .insertInto('idempotency_keys')
    .values({ set_id: claim.setId, key: claim.key, fingerprint: claim.fingerprint, state: 'pending', status: null, body: null, batch_id: null, format: claim.format, created_at: claim.now })
    .onConflict((oc) => oc.columns(['set_id', 'key']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function findIdempotencyKey(db: Db, setId: number, key: string): Promise<IdempotencyRecord | undefined> {
  const row = await db.selectFrom('idempotency_keys').selectAll().where('set_id', '=', setId).where('key', '=', key).executeTakeFirst();
  return row && toRecord(row);
}

export async function completeIdempotencyKey(
  db: Db,
  setId: number,
  key: string,
  outcome: { status: number; body?: string; batchId?: number; format?: string },
): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ state: 'done', status: outcome.status, body: outcome.body ?? null, batch_id: outcome.batchId ?? null, format: outcome.format ?? null })
    .where('set_id', '=', setId)
    .where('key', '=', key)
    .execute();
}

/** Forget a claim whose request failed, so the client can fix the request and retry with the same key. */
export async function releaseIdempotencyKey(db: Db, setId: number, key: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('set_id', '=', setId).where('key', '=', key).where('state', '=', 'pending').execute();
}

/** Delete one stale row, only if it is still the row we looked at (another instance may have replaced it). */
export async function deleteIdempotencyKeyIfCreatedAt(db: Db, setId: number, key: string, createdAt: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('set_id', '=', setId).where('key', '=', key).where('created_at', '=', createdAt).execute();
}

export async function deleteIdempotencyKeysBefore(db: Db, cutoff: string): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows ?? 0n);
}

/**
 * Keep at most `keepPerSet` finished keys per set, the newest: a client
 * sending a fresh key with every request (refused ones included) cannot
 * grow the table without bound within the 24 hours keys are kept. Pending
 * claims belong to requests in flight and are left alone.
 */
export async function deleteIdempotencyKeysOverLimit(db: Db, keepPerSet: number): Promise<number> {
  const crowded = await db
    .selectFrom('idempotency_keys')
    .select('set_id')
    .groupBy('set_id')
    .having((eb) => eb.fn.countAll(), '>', keepPerSet)
    .execute();
  let deleted = 0;
  for (const { set_id: setId } of crowded) {
    const boundary = await db
      .selectFrom('idempotency_keys')
      .select('created_at')
      .where('set_id', '=', setId)
      .where('state', '=', 'done')
      .orderBy('created_at', 'desc')
      .offset(keepPerSet)
      .limit(1)
      .executeTakeFirst();
    if (boundary === undefined) continue;
    const result = await db.deleteFrom('idempotency_keys').where('set_id', '=', setId).where('state', '=', 'done').where('created_at', '<=', boundary.created_at).executeTakeFirst();
    deleted += Number(result.numDeletedRows ?? 0n);
  }
  return deleted;
}
