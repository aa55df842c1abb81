import { sql } from 'kysely';
import type { FreshDatabase } from './bulk.js';
import { dailyUsage, drawUsageChart } from '../src/service/charts.js';
import { closeCore, today } from '../src/service/core.js';
import { dayWindows } from '../src/domain/daily-usage.js';
import { generatePromotion } from '../src/service/generate.js';
import { createSet } from '../src/service/sets.js';
import { isPostgres } from '../src/store/db.js';
import { summarise, type Sample } from './stats.js';

const CODES = 1_000_000;
const BULK_BATCHES = 10;
const SINGLE_BATCHES = 50_000;
const REDEMPTIONS = 100_000;
const ROLLED_BACK = 5_000;
const VOIDED = 20_000;

export interface ChartBench {
  /** The 30-day daily series of a set with 1,000,000 codes, no day kept yet (every day counted). */
  cold: Sample;
  /** The same once the closed days are kept (today and voided counted). */
  series: Sample;
  /** Drawing the 30-day chart: ECharts SVG + resvg PNG, warm. */
  render: Sample;
  pngBytes: number;
  seedMs: number;
}

/**
 * A set with 1,000,000 codes spread over the last 30 days: 10 bulk batches of
 * 95,000 and 50,000 single-code batches (each its own batch row, as set-URL
 * POSTs make them), 100,000 redemptions (5,000 rolled back) and 20,000 voided
 * codes, all with times over 30 days. Rows go in with set-based SQL (the bench
 * measures reading them, not writing them).
 */
export async function benchCharts(fresh: FreshDatabase, runs: number): Promise<ChartBench> {
  const core = await fresh.open();
  try {
    const seedStart = performance.now();
    const set = await createSet(core, { name: 'Bench 1M', promo_value: '10', api_ip_address: 'any' }, 'bench');
    await generatePromotion(core, set, {}, 'bench'); // a batch row to copy the terms from
    const db = core.db;
    const pg = isPostgres(db);
    // Every time falls within the chart's 30 local days: from the first day's midnight to now.
    const end = Math.floor(core.now().getTime() / 1000);
    const start = Math.floor(Date.parse(dayWindows(core.timeZone, today(core), 30)[0].from) / 1000) + 1;
    const span = end - start - 120;
    /** ISO text (as promoset stores times) of the epoch second `expr`. */
    const iso = (expr: string) => (pg ? `to_char(to_timestamp(${expr}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')` : `strftime('%Y-%m-%dT%H:%M:%fZ', ${expr}, 'unixepoch')`);
    const seq = (n: number) => (pg ? `(select generate_series(0, ${n - 1}) as n) s` : `(with recursive c(n) as (select 0 union all select n + 1 from c where n < ${n - 1}) select n from c) s`);
    const template = (await sql<{ id: number }>`select max(id) as id from batches where set_id = ${set.id}`.execute(db)).rows[0].id;
    const columns = 'set_id, kind, count, prefix_key, code_length, code_alphabet, created_by, created_at, request_key, whmcs_state, type, recurring, value, cycles, appliesto, requires, requiresexisting, startdate, expirationdate, maxuses, lifetimepromo, applyonce, newsignups, existingclient, onceperclient, recurfor, upgrades, upgradeconfig, notes';
    const copy = (kind: string, count: string, createdAt: string) => columns.replace('kind, count', `'${kind}', ${count}`).replace('created_at', createdAt);
    const firstBulk = Number((await sql<{ id: number }>`select coalesce(max(id), 0) + 1 as id from batches`.execute(db)).rows[0].id);
    await sql.raw(`insert into batches (${columns}) select ${copy('bulk', `${(CODES - SINGLE_BATCHES) / BULK_BATCHES}`, iso(`${start} + (s.n * ${Math.floor(span / BULK_BATCHES)})`))} from batches, ${seq(BULK_BATCHES)} where batches.id = ${template} order by s.n`).execute(db);
    const firstSingle = firstBulk + BULK_BATCHES;
    await sql.raw(`insert into batches (${columns}) select ${copy('single', '1', iso(`${start} + (s.n * 51) % ${span}`))} from batches, ${seq(SINGLE_BATCHES)} where batches.id = ${template} order by s.n`).execute(db);
    const firstPromotion = Number((await sql<{ id: number }>`select coalesce(max(id), 0) + 1 as id from promotions`.execute(db)).rows[0].id);
    const bulkShare = CODES - SINGLE_BATCHES;
    await sql.raw(`insert into promotions (set_id, batch_id, code) select ${set.id}, case when s.n < ${bulkShare} then ${firstBulk} + s.n % ${BULK_BATCHES} else ${firstSingle} + s.n - ${bulkShare} end, 'BENCH' || s.n from ${seq(CODES)}`).execute(db);
    await sql.raw(`insert into redemptions (set_id, promotion_id, client_id, once_key, request_key, created_by, created_at, rolled_back_at)
      select ${set.id}, ${firstPromotion} + s.n * 3, null, null, null, 'bench', ${iso(`${start} + (s.n * 25) % ${span}`)},
        case when s.n < ${ROLLED_BACK} then ${iso(`${start} + (s.n * 25) % ${span} + 60`)} else null end
      from ${seq(REDEMPTIONS)}`).execute(db);
    await sql.raw(`update promotions set uses = 1 where id in (select promotion_id from redemptions where set_id = ${set.id} and rolled_back_at is null)`).execute(db);
    await sql.raw(`update promotions set voided_at = ${iso(`${start} + (id % ${span})`)} where set_id = ${set.id} and id >= ${firstPromotion + 1} and id % 50 = 1 and id < ${firstPromotion + VOIDED * 50}`).execute(db);
    // PostgreSQL: VACUUM sets the visibility map, as autovacuum does in a running database, so index-only scans skip the heap.
    await sql.raw(pg ? 'vacuum analyze' : 'analyze').execute(db);
    const seedMs = performance.now() - seedStart;

    const check = await dailyUsage(core, set.id, 30);
    const issued = check.reduce((n, d) => n + d.issued, 0);
    const redeemed = check.reduce((n, d) => n + d.redeemed, 0);
    if (issued < CODES || redeemed !== REDEMPTIONS) throw new Error(`chart bench: the series counts ${issued} issued and ${redeemed} redeemed, expected ${CODES + 1} and ${REDEMPTIONS}`);
    const cold: number[] = [];
    for (let i = 0; i < Math.max(runs * 4, 20); i++) {
      await db.deleteFrom('daily_usage_days').execute();
      const t = performance.now();
      await dailyUsage(core, set.id, 30);
      cold.push(performance.now() - t);
    }
    const times: number[] = [];
    for (let i = 0; i < Math.max(runs * 4, 20); i++) {
      const t = performance.now();
      await dailyUsage(core, set.id, 30);
      times.push(performance.now() - t);
    }
    drawUsageChart(set.name, check); // warm: the first drawing loads fonts and code
    const renders: number[] = [];
    let pngBytes = 0;
    for (let i = 0; i < Math.max(runs * 2, 10); i++) {
      const t = performance.now();
      pngBytes = drawUsageChart(set.name, check).png.length;
      renders.push(performance.now() - t);
    }
    return { cold: summarise(cold), series: summarise(times), render: summarise(renders), pngBytes, seedMs };
  } finally {
    await closeCore(core);
    await fresh.remove();
  }
}
