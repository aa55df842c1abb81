import { sql } from 'kysely';
import type { Usage } from '../domain/usage.js';
import type { Db } from './db.js';
import { TOUCHED } from './promotions.js';

/** Usage statistics: issued, redeemed, voided and used-up counts per batch or per set. */

/**
 * Usage of each of these batches. Issued is the batch row's count (every path
 * that adds or drops a batch's promotions keeps it equal to their number, as
 * feasibility already relies on); the rest comes from its touched promotions
 * alone (TOUCHED), through the partial index, so a 100k batch costs what its
 * redeemed and voided codes cost, not 100k rows. Batches still pending in
 * WHMCS count, as they did when usage scanned every promotion.
 */
export async function usageByBatch(db: Db, batchIds: number[]): Promise<Map<number, Usage>> {
  if (batchIds.length === 0) return new Map();
  const [issued, touched] = await Promise.all([
    db.selectFrom('batches').select(['id', 'count']).where('id', 'in', batchIds).execute(),
    touchedSums(db)
      .select('batches.id')
      .where('batches.id', 'in', batchIds)
      .groupBy('batches.id')
      .execute(),
  ]);
  const sums = new Map(touched.map((r) => [Number(r.id), r]));
  return new Map(issued.map((r) => [Number(r.id), usageOf(Number(r.count), sums.get(Number(r.id)))]));
}

/** Usage per set (one set, or all), read like usageByBatch: issued from batches, the rest from touched promotions. */
export async function usageBySet(db: Db, setId?: number): Promise<Map<number, Usage>> {
  let issuedQuery = db.selectFrom('batches').select((eb) => ['set_id', eb.fn.sum<number | string>('count').as('issued')]).groupBy('set_id');
  let touchedQuery = touchedSums(db).select('promotions.set_id').groupBy('promotions.set_id');
  if (setId !== undefined) {
    issuedQuery = issuedQuery.where('set_id', '=', setId);
    touchedQuery = touchedQuery.where('promotions.set_id', '=', setId);
  }
  const [issued, touched] = await Promise.all([issuedQuery.execute(), touchedQuery.execute()]);
  const sums = new Map(touched.map((r) => [Number(r.set_id), r]));
  return new Map(issued.map((r) => [Number(r.set_id), usageOf(Number(r.issued), sums.get(Number(r.set_id)))]));
}

/**
 * Redeemed, voided and used-up sums over touched promotions joined to their
 * batch; the caller adds its grouping and filter. Untouched promotions add
 * nothing to any of the three (uses 0, not voided, so not used up either),
 * which is why leaving them out keeps the figures exact. The join repeats
 * set_id so both index columns are bound when driven from batches.
 */
function touchedSums(db: Db) {
  return db
    .selectFrom('batches')
    .innerJoin('promotions', (join) => join.onRef('promotions.set_id', '=', 'batches.set_id').onRef('promotions.batch_id', '=', 'batches.id'))
    .where(TOUCHED)
    .select([
      sql<number | string>`sum(promotions.uses)`.as('redeemed'),
      sql<number | string>`sum(case when promotions.voided_at is null then 0 else 1 end)`.as('voided'),
      sql<number | string>`sum(case when batches.maxuses > 0 and promotions.uses >= batches.maxuses then 1 else 0 end)`.as('used_up'),
    ]);
}

function usageOf(issued: number, sums: { redeemed: number | string; voided: number | string; used_up: number | string } | undefined): Usage {
  return sums ? { issued, redeemed: Number(sums.redeemed), voided: Number(sums.voided), usedUp: Number(sums.used_up) } : { issued, redeemed: 0, voided: 0, usedUp: 0 };
}
