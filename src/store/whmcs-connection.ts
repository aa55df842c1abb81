import { sql } from 'kysely';
import type { Db } from './db.js';

/** The recorded connection (migration 012): which WHMCS database this promoset database writes to. */
export interface WhmcsConnectionRecord {
  host: string;
  database_name: string;
  table_created: string;
  connected_at: string;
  connected_by: string;
}

export interface BackfillJournal {
  from: number;
  to: number;
  /** Codes of that chunk WHMCS already held before the backfill wrote it (lower-cased). */
  held: string[];
}

export async function readWhmcsConnection(db: Db): Promise<WhmcsConnectionRecord | undefined> {
  return db.selectFrom('whmcs_connection').select(['host', 'database_name', 'table_created', 'connected_at', 'connected_by']).where('id', '=', 1).executeTakeFirst();
}

/** Record the first connection; false when another process recorded one first (the caller then reads it). */
export async function insertWhmcsConnection(db: Db, record: WhmcsConnectionRecord): Promise<boolean> {
  const result = await db.insertInto('whmcs_connection').values({ id: 1, ...record }).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function deleteWhmcsConnection(db: Db): Promise<void> {
  await db.deleteFrom('whmcs_connection').where('id', '=', 1).execute();
}

/**
 * tblpromotions ids belong to one WHMCS database: when the connection ends or
 * changes they name nothing any more, so every promotion goes back to "not in
 * WHMCS" (a backfill writes them to the new one, or adopts the rows it holds).
 */
export async function forgetWhmcsIds(db: Db): Promise<number> {
  const result = await db.updateTable('promotions').set({ whmcs_id: null }).where('whmcs_id', 'is not', null).executeTakeFirst();
  await db.updateTable('batches').set({ whmcs_state: null }).where('whmcs_state', '=', 'done').execute();
  return Number(result.numUpdatedRows);
}

export async function countPendingBatches(db: Db): Promise<number> {
  const row = await db.selectFrom('batches').select((eb) => eb.fn.countAll<number | string>().as('n')).where('whmcs_state', '=', 'pending').executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function recordWhmcsConnectionEvent(db: Db, event: { action: string; actor: string; detail: Record<string, unknown>; created_at: string }): Promise<void> {
  await db.insertInto('whmcs_connection_events').values({ ...event, detail: JSON.stringify(event.detail) }).execute();
}

export async function listWhmcsConnectionEvents(db: Db, limit = 20): Promise<{ action: string; actor: string; detail: Record<string, unknown>; created_at: string }[]> {
  const rows = await db.selectFrom('whmcs_connection_events').select(['action', 'actor', 'detail', 'created_at']).orderBy('id', 'desc').limit(limit).execute();
  return rows.map((row) => ({ ...row, detail: JSON.parse(row.detail) as Record<string, unknown> }));
}

export async function readBackfillJournal(db: Db): Promise<BackfillJournal | undefined> {
  const row = await db.selectFrom('whmcs_connection').select(['backfill_from', 'backfill_to', 'backfill_held']).where('id', '=', 1).executeTakeFirst();
  if (!row || row.backfill_from === null || row.backfill_to === null) return undefined;
  return { from: Number(row.backfill_from), to: Number(row.backfill_to), held: JSON.parse(row.backfill_held ?? '[]') as string[] };
}

export async function writeBackfillJournal(db: Db, journal: BackfillJournal | undefined): Promise<void> {
  await db
    .updateTable('whmcs_connection')
    .set({ backfill_from: journal?.from ?? null, backfill_to: journal?.to ?? null, backfill_held: journal ? JSON.stringify(journal.held) : null })
    .where('id', '=', 1)
    .execute();
}

/** A promotion WHMCS does not hold yet: what backfill writes. */
export interface UnpublishedPromotion {
  id: number;
  code: string;
  uses: number;
  batch_id: number;
  voided: boolean;
}

/**
 * Promotions without a tblpromotions id, after `afterId`, in id order (along
 * the primary key); batches on their way into WHMCS are the issuing
 * protocol's, not backfill's.
 */
export async function listUnpublishedPromotions(db: Db, afterId: number, limit: number): Promise<UnpublishedPromotion[]> {
  const rows = await db
    .selectFrom('promotions')
    .select(['id', 'code', 'uses', 'batch_id', 'voided_at'])
    .where('whmcs_id', 'is', null)
    .where('id', '>', afterId)
    .where(sql<boolean>`batch_id not in (select id from batches where whmcs_state = 'pending')`)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ id: Number(row.id), code: row.code, uses: Number(row.uses), batch_id: Number(row.batch_id), voided: row.voided_at !== null }));
}

export async function countUnpublishedPromotions(db: Db): Promise<number> {
  const row = await db
    .selectFrom('promotions')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('whmcs_id', 'is', null)
    .where(sql<boolean>`batch_id not in (select id from batches where whmcs_state = 'pending')`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Batches among `batchIds` whose every promotion WHMCS now holds are 'done', as if issued with WHMCS. */
export async function markBatchesPublished(db: Db, batchIds: number[]): Promise<void> {
  if (batchIds.length === 0) return;
  await db
    .updateTable('batches')
    .set({ whmcs_state: 'done' })
    .where('id', 'in', batchIds)
    .where('whmcs_state', 'is', null)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('promotions').select('id').whereRef('promotions.batch_id', '=', 'batches.id').where('promotions.whmcs_id', 'is', null))))
    .execute();
}

/** Uses of these promotions now (backfill compares them with what it wrote to WHMCS). */
export async function readPromotionUses(db: Db, ids: number[]): Promise<Map<number, number>> {
  const uses = new Map<number, number>();
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await db.selectFrom('promotions').select(['id', 'uses']).where('id', 'in', ids.slice(i, i + 1000)).execute();
    for (const row of rows) uses.set(Number(row.id), Number(row.uses));
  }
  return uses;
}
