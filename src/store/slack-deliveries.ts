import type { Db } from './db.js';

/** True if `key` was new and is now taken; false if some earlier delivery took it. */
export async function insertDeliveryKey(db: Db, key: string, now: string): Promise<boolean> {
  const result = await db.insertInto('slack_deliveries').values({ key, created_at: now }).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function deleteDeliveryKey(db: Db, key: string): Promise<void> {
  await db.deleteFrom('slack_deliveries').where('key', '=', key).execute();
}

export async function deleteDeliveryKeysBefore(db: Db, before: string): Promise<number> {
  const result = await db.deleteFrom('slack_deliveries').where('created_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows ?? 0n);
}
