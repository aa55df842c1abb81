import type { Db } from './db.js';

export interface ChartImage {
  key: string;
  dataHash: string | null;
  fileId: string | null;
  drawnAt: string | null;
  leaseUntil: string | null;
}

export async function findChartImage(db: Db, key: string): Promise<ChartImage | undefined> {
  const row = await db.selectFrom('chart_images').selectAll().where('key', '=', key).executeTakeFirst();
  return row && { key: row.key, dataHash: row.data_hash, fileId: row.file_id, drawnAt: row.drawn_at, leaseUntil: row.lease_until };
}

/**
 * Take the right to draw `key` until `leaseUntil`: true for exactly one caller
 * across instances while no lease is live. The row is created on first use
 * (its primary key decides between two first drawers).
 */
export async function claimChartDrawing(db: Db, key: string, now: string, leaseUntil: string): Promise<boolean> {
  const inserted = await db.insertInto('chart_images').values({ key, data_hash: null, file_id: null, drawn_at: null, lease_until: leaseUntil })
    .onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
  const updated = await db.updateTable('chart_images').set({ lease_until: leaseUntil })
    .where('key', '=', key)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0;
}

export async function recordChartDrawn(db: Db, key: string, dataHash: string, fileId: string, drawnAt: string): Promise<void> {
  await db.updateTable('chart_images').set({ data_hash: dataHash, file_id: fileId, drawn_at: drawnAt, lease_until: null }).where('key', '=', key).execute();
}

export async function releaseChartDrawing(db: Db, key: string): Promise<void> {
  await db.updateTable('chart_images').set({ lease_until: null }).where('key', '=', key).execute();
}
