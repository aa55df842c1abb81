import { sql } from 'kysely';
import { TOUCHED } from './promotions.js';
import type { Db } from './db.js';

export type DigestFrequency = 'daily' | 'weekly';

export interface DigestSubscription {
  channelId: string;
  frequency: DigestFrequency;
  createdBy: string;
  lastPeriod: string | null;
}

export async function upsertDigest(db: Db, channelId: string, frequency: DigestFrequency, createdBy: string, now: string, lastPeriod: string | null): Promise<void> {
  await db.insertInto('digest_subscriptions')
    .values({ channel_id: channelId, frequency, created_by: createdBy, created_at: now, last_period: lastPeriod, lease_owner: null, lease_until: null })
    .onConflict((oc) => oc.column('channel_id').doUpdateSet({ frequency, created_by: createdBy, created_at: now, last_period: lastPeriod }))
    .execute();
}

/** True when a subscription was removed. */
export async function deleteDigest(db: Db, channelId: string): Promise<boolean> {
  const result = await db.deleteFrom('digest_subscriptions').where('channel_id', '=', channelId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function listDigests(db: Db): Promise<DigestSubscription[]> {
  const rows = await db.selectFrom('digest_subscriptions').selectAll().orderBy('channel_id').execute();
  return rows.map((row) => ({ channelId: row.channel_id, frequency: row.frequency as DigestFrequency, createdBy: row.created_by, lastPeriod: row.last_period }));
}

/**
 * The lease: the one instance whose UPDATE matches sends `period` to the
 * channel. It matches only while the period is not sent yet and no other
 * instance holds a live lease (a crashed sender's lease runs out).
 */
export async function claimDigest(db: Db, channelId: string, period: string, owner: string, now: string, leaseUntil: string): Promise<boolean> {
  const result = await db.updateTable('digest_subscriptions')
    .set({ lease_owner: owner, lease_until: leaseUntil })
    .where('channel_id', '=', channelId)
    .where((eb) => eb.or([eb('last_period', 'is', null), eb('last_period', '<', period)]))
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Sent (or given up for this period): record it and let go of the lease. */
export async function finishDigest(db: Db, channelId: string, period: string, owner: string): Promise<void> {
  await db.updateTable('digest_subscriptions').set({ last_period: period, lease_owner: null, lease_until: null })
    .where('channel_id', '=', channelId).where('lease_owner', '=', owner).execute();
}

/** Sending failed for a reason that may pass (Slack down): let the next tick try again. */
export async function releaseDigest(db: Db, channelId: string, owner: string): Promise<void> {
  await db.updateTable('digest_subscriptions').set({ lease_owner: null, lease_until: null })
    .where('channel_id', '=', channelId).where('lease_owner', '=', owner).execute();
}

/** Codes of `setIds` at 90% or more of their batch's maxuses (not voided), fullest first. */
export async function codesNearMaxUses(db: Db, setIds: number[], limit: number): Promise<{ setId: number; code: string; uses: number; maxUses: number }[]> {
  if (setIds.length === 0) return [];
  // The TOUCHED predicate, verbatim, so the partial index promotions_touched_idx (migration 009) serves it.
  const { rows } = await sql<{ set_id: number; code: string; uses: number; maxuses: number }>`
    select promotions.set_id, promotions.code, promotions.uses, b.maxuses
    from promotions join batches b on b.id = promotions.batch_id
    where promotions.set_id in (${sql.join(setIds)}) and ${TOUCHED}
      and promotions.voided_at is null and b.maxuses > 0 and promotions.uses * 10 >= b.maxuses * 9
    order by promotions.uses * 1.0 / b.maxuses desc, promotions.id
    limit ${limit}`.execute(db);
  return rows.map((r) => ({ setId: Number(r.set_id), code: r.code, uses: Number(r.uses), maxUses: Number(r.maxuses) }));
}

/** Bulk batches of `setIds` made between `oldest` and `newest` (ISO) none of whose codes stands redeemed (or voided). */
export async function batchesWithoutRedemption(db: Db, setIds: number[], oldest: string, newest: string, limit: number): Promise<{ setId: number; batchId: number; count: number; createdAt: string }[]> {
  if (setIds.length === 0) return [];
  const { rows } = await sql<{ set_id: number; id: number; count: number; created_at: string }>`
    select b.set_id, b.id, b.count, b.created_at from batches b
    where b.set_id in (${sql.join(setIds)}) and b.kind = 'bulk' and b.created_at >= ${oldest} and b.created_at < ${newest}
      and not exists (select 1 from promotions where promotions.set_id = b.set_id and promotions.batch_id = b.id and ${TOUCHED})
    order by b.created_at, b.id
    limit ${limit}`.execute(db);
  return rows.map((r) => ({ setId: Number(r.set_id), batchId: Number(r.id), count: Number(r.count), createdAt: r.created_at }));
}
