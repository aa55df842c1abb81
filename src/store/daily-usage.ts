import { sql } from 'kysely';
import type { DailyUsage, DayWindow } from '../domain/daily-usage.js';
import type { Db } from './db.js';

/**
 * A set's figures per local day, in ONE statement: each day is a range of UTC
 * instants (the caller computed it for PROMO_TIMEZONE, DST included), and each
 * figure is a count over an index range of that set (migration 016):
 * - issued: sum of batches.count by the batch's created_at (batches_set_created_idx, covering);
 * - redeemed: redemptions by created_at (redemptions_set_created_idx), rolled back or not;
 * - rolled_back: redemptions by rolled_back_at (partial index);
 * - voided: promotions by voided_at (partial index): codes voided that day and still voided.
 * Stored times are ISO text in UTC on both dialects, so the bounds compare as text.
 */
export async function dailyUsageOfSet(db: Db, setId: number, windows: readonly DayWindow[]): Promise<DailyUsage[]> {
  if (windows.length === 0) return [];
  const days = sql.join(windows.map((w) => sql`(${w.date}, ${w.from}, ${w.to})`));
  const { rows } = await sql<{ date: string; issued: number | string | null; redeemed: number | string; voided: number | string; rolled_back: number | string }>`
    with days (date, lo, hi) as (values ${days})
    select d.date,
      (select sum(b.count) from batches b where b.set_id = ${setId} and b.created_at >= d.lo and b.created_at < d.hi) as issued,
      (select count(*) from redemptions r where r.set_id = ${setId} and r.created_at >= d.lo and r.created_at < d.hi) as redeemed,
      (select count(*) from promotions p where p.set_id = ${setId} and p.voided_at >= d.lo and p.voided_at < d.hi) as voided,
      (select count(*) from redemptions r where r.set_id = ${setId} and r.rolled_back_at >= d.lo and r.rolled_back_at < d.hi) as rolled_back
    from days d order by d.date`.execute(db);
  // pg returns sums and counts of bigint as strings.
  return rows.map((row) => ({ date: row.date, issued: Number(row.issued ?? 0), redeemed: Number(row.redeemed), voided: Number(row.voided), rolled_back: Number(row.rolled_back) }));
}

/** The sets a Slack user issued most codes from (App Home's charts), most first. */
export async function setsMostUsedBy(db: Db, createdBy: string, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('batches')
    .innerJoin('promo_sets', 'promo_sets.id', 'batches.set_id')
    .select(['batches.set_id', (eb) => eb.fn.sum<number | string>('batches.count').as('codes')])
    .where('batches.created_by', '=', createdBy)
    .where('promo_sets.archived_at', 'is', null)
    .groupBy('batches.set_id')
    .orderBy('codes', 'desc')
    .orderBy('batches.set_id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((row) => Number(row.set_id));
}
