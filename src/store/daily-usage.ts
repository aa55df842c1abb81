import { sql } from 'kysely';
import type { DailyUsage, DayWindow } from '../domain/daily-usage.js';
import type { Db } from './db.js';

/**
 * A set's figures per local day. Each day is a range of UTC instants (the
 * caller computed it for PROMO_TIMEZONE, DST included), and each figure is a
 * count over an index range of that set (migration 016):
 * - issued: sum of batches.count by the batch's created_at (batches_set_created_idx, covering);
 * - redeemed: redemptions by created_at (redemptions_set_created_idx), rolled back or not;
 * - rolled_back: redemptions by rolled_back_at (partial index);
 * - voided: promotions by voided_at (partial index): codes voided that day and still voided.
 * Stored times are ISO text in UTC on both dialects, so the bounds compare as text.
 *
 * Counting is linear in the rows of the window (100,000 redemptions in 30 days
 * cost PostgreSQL 40-80 ms on a busy machine), but issued, redeemed and
 * rolled_back of a day that is over never change: those are kept in
 * daily_usage_days once the day ended before `closedBefore`, so a series
 * counts only the days not kept yet and today. Voided is counted live for
 * every day (restoring a code takes it back); its partial index is small.
 */
export async function dailyUsageOfSet(db: Db, setId: number, timeZone: string, windows: readonly DayWindow[], closedBefore: string): Promise<DailyUsage[]> {
  if (windows.length === 0) return [];
  const kept = new Map(
    (await db.selectFrom('daily_usage_days').select(['date', 'issued', 'redeemed', 'rolled_back'])
      .where('set_id', '=', setId).where('time_zone', '=', timeZone)
      .where('date', '>=', windows[0].date).where('date', '<=', windows[windows.length - 1].date)
      .execute()).map((row) => [row.date, row]),
  );
  // m = '1': this day's counts are needed (not kept); voided is counted for every day.
  const days = sql.join(windows.map((w) => sql`(${w.date}, ${w.from}, ${w.to}, ${kept.has(w.date) ? '0' : '1'})`));
  const { rows } = await sql<{ date: string; issued: number | string | null; redeemed: number | string | null; voided: number | string; rolled_back: number | string | null }>`
    with days (date, lo, hi, m) as (values ${days})
    select d.date,
      case when d.m = '1' then (select sum(b.count) from batches b where b.set_id = ${setId} and b.created_at >= d.lo and b.created_at < d.hi) end as issued,
      case when d.m = '1' then (select count(*) from redemptions r where r.set_id = ${setId} and r.created_at >= d.lo and r.created_at < d.hi) end as redeemed,
      (select count(*) from promotions p where p.set_id = ${setId} and p.voided_at >= d.lo and p.voided_at < d.hi) as voided,
      case when d.m = '1' then (select count(*) from redemptions r where r.set_id = ${setId} and r.rolled_back_at >= d.lo and r.rolled_back_at < d.hi) end as rolled_back
    from days d order by d.date`.execute(db);
  // pg returns sums and counts of bigint as strings.
  const series = rows.map((row): DailyUsage => {
    const known = kept.get(row.date);
    return {
      date: row.date,
      issued: known ? Number(known.issued) : Number(row.issued ?? 0),
      redeemed: known ? Number(known.redeemed) : Number(row.redeemed ?? 0),
      voided: Number(row.voided),
      rolled_back: known ? Number(known.rolled_back) : Number(row.rolled_back ?? 0),
    };
  });
  const closing = windows.filter((w) => !kept.has(w.date) && w.to <= closedBefore).map((w) => w.date);
  if (closing.length > 0) {
    const byDate = new Map(series.map((d) => [d.date, d]));
    await db.insertInto('daily_usage_days')
      .values(closing.map((date) => ({ set_id: setId, time_zone: timeZone, date, issued: byDate.get(date)!.issued, redeemed: byDate.get(date)!.redeemed, rolled_back: byDate.get(date)!.rolled_back })))
      .onConflict((oc) => oc.columns(['set_id', 'time_zone', 'date']).doNothing())
      .execute();
  }
  return series;
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
