import { sql } from 'kysely';
import { normaliseCode } from '../domain/codes.js';
import { batchIsSettled } from './batches.js';
import type { Db } from './db.js';

/** Promotion listings and counts: what every read of stored codes goes through. */

/** The columns every read of a promotion takes, in one order: StoredPromotion, mapped by toPromotionRow. */
export const PROMOTION_COLUMNS = ['id', 'whmcs_id', 'code', 'uses', 'set_id', 'batch_id', 'voided_at'] as const;
/** The same, for statements written as text. */
export const PROMOTION_RETURNING = `returning ${PROMOTION_COLUMNS.join(', ')}`;

/** A promotion row as the drivers hand it back (pg may give ids as strings; SQLite gives numbers). */
export interface StoredPromotion { id: number | string; whmcs_id: number | string | null; code: string; uses: number | string; set_id: number | string; batch_id: number | string; voided_at: string | null }

export function toPromotionRow(row: StoredPromotion): PromotionRow {
  const whmcsId = row.whmcs_id === null ? null : Number(row.whmcs_id);
  return { shown_id: whmcsId ?? Number(row.id), row_id: Number(row.id), code: row.code, uses: Number(row.uses), set_id: Number(row.set_id), batch_id: Number(row.batch_id), voided_at: row.voided_at ?? null, whmcs_id: whmcsId };
}

export interface PromotionFilter {
  setId?: number;
  batchId?: number;
  /** Matched case-insensitively, through the unique index. */
  code?: string;
}

/** A stored promotion without its terms: those live on its batch. */
export interface PromotionRow {
  /** The id shown everywhere (API, CSV, Slack): its tblpromotions id when WHMCS holds it, else promoset's own. */
  shown_id: number;
  /** promoset's own row id (promotions.id): the key, and the order listings page through. */
  row_id: number;
  code: string;
  uses: number;
  set_id: number;
  batch_id: number;
  /** When it was voided; null while it may be used. */
  voided_at: string | null;
  /** Its tblpromotions id, when WHMCS holds it (set where the row was read with it). */
  whmcs_id?: number | null;
}

/**
 * One page of promotions in id order, after `afterId`. Keyset paging keeps
 * memory flat for 100k+, and rows stay narrow: callers attach the batch's
 * terms once per batch rather than once per row.
 */
export async function listPromotionRows(db: Db, filter: PromotionFilter, afterId: number, limit: number): Promise<PromotionRow[]> {
  let query = db
    .selectFrom('promotions')
    .select(PROMOTION_COLUMNS)
    .where('id', '>', afterId)
    .where(notPending)
    .orderBy('id')
    .limit(limit);
  if (filter.setId !== undefined) query = query.where('set_id', '=', filter.setId);
  if (filter.batchId !== undefined) query = query.where('batch_id', '=', filter.batchId);
  if (filter.code !== undefined) query = query.where(sql`lower(code)`, '=', normaliseCode(filter.code));
  return (await query.execute()).map(toPromotionRow);
}

/**
 * Hides promotions whose batch is still on its way into WHMCS: no listing,
 * export or lookup shows a code before WHMCS accepts it. Pending batches are
 * few (the ones in flight), found through their own index.
 */
const notPending = sql<boolean>`batch_id not in (select id from batches where whmcs_state = 'pending')`;

/**
 * Promotions ever counted or voided, word for word the predicate of the partial
 * index promotions_touched_idx (migration 009): a query that ANDs this in reads
 * only those rows (SQLite and PostgreSQL both match the index by its predicate).
 * Counts of uses and voids need nothing else: every other promotion adds zero.
 */
export const TOUCHED = sql<boolean>`(promotions.uses <> 0 or promotions.voided_at is not null)`;

export async function countPromotions(db: Db, filter: { setId?: number } = {}): Promise<number> {
  let query = db.selectFrom('promotions').select((eb) => eb.fn.countAll<number | string>().as('n')).where(notPending);
  if (filter.setId !== undefined) query = query.where('set_id', '=', filter.setId);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

/** Codes, batches and uses ("redeemed") per set, for list views. */
export async function countsBySet(db: Db): Promise<Map<number, { promotions: number; batches: number; redeemed: number }>> {
  const [rows, used] = await Promise.all([
    db
      .selectFrom('batches')
      .select((eb) => ['set_id', eb.fn.sum<number | string>('count').as('promotions'), eb.fn.countAll<number | string>().as('batches')])
      .where(batchIsSettled)
      .groupBy('set_id')
      .execute(),
    db
      .selectFrom('promotions')
      .select((eb) => ['set_id', eb.fn.sum<number | string>('uses').as('redeemed')])
      .where(TOUCHED)
      .where('uses', '>', 0)
      .groupBy('set_id')
      .execute(),
  ]);
  const redeemed = new Map(used.map((r) => [Number(r.set_id), Number(r.redeemed)]));
  return new Map(rows.map((r) => [Number(r.set_id), { promotions: Number(r.promotions), batches: Number(r.batches), redeemed: redeemed.get(Number(r.set_id)) ?? 0 }]));
}

/** Uses ("redeemed") per batch, for these batches. */
export async function redeemedByBatch(db: Db, batchIds: number[]): Promise<Map<number, number>> {
  if (batchIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('batches')
    .innerJoin('promotions', (join) => join.onRef('promotions.set_id', '=', 'batches.set_id').onRef('promotions.batch_id', '=', 'batches.id'))
    .select((eb) => ['batches.id', eb.fn.sum<number | string>('promotions.uses').as('redeemed')])
    .where('batches.id', 'in', batchIds)
    .where(TOUCHED)
    .where('promotions.uses', '>', 0)
    .groupBy('batches.id')
    .execute();
  return new Map(rows.map((r) => [Number(r.id), Number(r.redeemed)]));
}

/** One promotion of one set by code, any letter case (through the unique index on lower(code)). */
export async function findSetPromotion(db: Db, setId: number, code: string): Promise<PromotionRow | undefined> {
  const row = await db
    .selectFrom('promotions')
    .select(PROMOTION_COLUMNS)
    .where(sql`lower(code)`, '=', normaliseCode(code))
    .executeTakeFirst();
  if (!row || Number(row.set_id) !== setId) return undefined;
  return toPromotionRow(row);
}

/** Promotions by code in any set, any letter case; codes not found are simply absent. */
export async function findPromotionsByCodes(db: Db, codes: string[]): Promise<PromotionRow[]> {
  const found: PromotionRow[] = [];
  const keys = [...new Set(codes.map(normaliseCode))];
  for (let i = 0; i < keys.length; i += 500) {
    const rows = await db
      .selectFrom('promotions')
      .select(PROMOTION_COLUMNS)
      .where(sql`lower(code)`, 'in', keys.slice(i, i + 500))
      .execute();
    found.push(...rows.map(toPromotionRow));
  }
  return found;
}

export async function findPromotionById(db: Db, id: number): Promise<PromotionRow | undefined> {
  const row = await db.selectFrom('promotions').select(PROMOTION_COLUMNS).where('id', '=', id).executeTakeFirst();
  return row && toPromotionRow(row);
}
