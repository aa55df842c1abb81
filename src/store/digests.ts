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
