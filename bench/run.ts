import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { benchBulk, freshSqlite, type FreshDatabase } from './bulk.js';
import { benchCharts } from './charts.js';
import { benchAtScale, benchHttpBulk, benchSetPost, type Throughput } from './http.js';
import { freshPostgres } from './postgres.js';
import { benchRedeem } from './redeem.js';
import { benchSlack } from './slack.js';
import { mb, ms, spread, summarise } from './stats.js';
import { benchWhmcs } from './whmcs.js';

/**
 * npm run bench: the benchmark figures in one run, printed as a table and
 * written to BENCHMARKS.md. BENCH_RUNS (default 5) repeats each timed case;
 * BENCH_SECONDS (default 10) is the throughput window; BENCH_ONLY (comma
 * list of bulk, setpost, scale, redeem, charts) runs a subset and then leaves BENCHMARKS.md alone.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PG_URL = process.env.TEST_DATABASE_URL;
const WHMCS_URL = process.env.TEST_WHMCS_DATABASE_URL;
const SECTIONS = ['bulk', 'setpost', 'scale', 'redeem', 'charts'] as const;
const ONLY = (process.env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean);
for (const name of ONLY) {
  if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`BENCH_ONLY: unknown section "${name}"; use ${SECTIONS.join(', ')}`);
}
const runs = (section: (typeof SECTIONS)[number]) => ONLY.length === 0 || ONLY.includes(section);

const rows: [string, string, string][] = [];
const row = (what: string, figure: string, target = '') => {
  rows.push([what, figure, target]);
  console.log(`${what.padEnd(58)} ${figure.padEnd(44)} ${target}`);
};
const verdict = (ok: boolean, target: string) => `${ok ? 'met' : 'NOT met'}: ${target}`;
const median = (values: number[]) => summarise(values).median;

const loadAtStart = loadavg();
const started = Date.now();

async function main() {
  console.log(`promoset benchmarks: ${RUNS} runs each, ${SECONDS} s throughput windows${PG_URL ? ', PostgreSQL too' : ''}${ONLY.length ? `, only ${ONLY.join(', ')}` : ''}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  const pgFresh: (() => FreshDatabase) | undefined = PG_URL ? () => freshPostgres(PG_URL) : undefined;
  if (runs('bulk')) {
    const bulk = await benchBulk(RUNS, pgFresh);
    row('Bulk 100k: raw better-sqlite3 baseline (prepared INSERT, 1 txn)', spread(bulk.raw));
    row('Bulk 100k: raw better-sqlite3, codes sorted, 2,000-row INSERTs (1 txn)', spread(bulk.rawSortedMultiRow), `${(bulk.rawSortedMultiRow.median / bulk.raw.median).toFixed(2)}× the raw insert`);
    row('Bulk 100k: promoset service (SQLite)', spread(bulk.service), `${(bulk.service.median / bulk.raw.median).toFixed(2)}× the raw insert`);
    if (WHMCS_URL) {
      const whmcs = await benchWhmcs(WHMCS_URL, RUNS);
      row('Bulk 100k into MariaDB tblpromotions: raw multi-row INSERT (1 txn), service rounds', spread(whmcs.raw));
      row('Bulk 100k with the WHMCS sink on (SQLite + MariaDB), service call', spread(whmcs.service), `${(whmcs.service.median / whmcs.raw.median).toFixed(2)}× the raw INSERT`);
      const whmcsRatio = whmcs.http.median / whmcs.httpRaw.median;
      row('Bulk 100k into MariaDB tblpromotions: raw multi-row INSERT (1 txn), HTTP rounds', spread(whmcs.httpRaw));
      row('HTTP bulk 100k as streamed CSV with the WHMCS sink on (SQLite + MariaDB)', spread(whmcs.http), verdict(whmcsRatio <= 1.3, `${whmcsRatio.toFixed(2)}× the raw INSERT (alternating rounds); target ≤ 1.3×`));
    } else {
      console.log('TEST_WHMCS_DATABASE_URL is not set: the WHMCS sink case is skipped.');
    }
    const http = await benchHttpBulk(RUNS, freshSqlite);
    row('HTTP bulk 100k as JSON, end to end', `${spread(http.json)}, peak RSS ${mb(http.jsonPeakRss)}`, `${(http.json.median / bulk.raw.median).toFixed(2)}× the raw insert`);
    const csvRatio = http.csv.median / bulk.raw.median;
    const csvStrict = http.csv.median / bulk.rawSortedMultiRow.median;
    row('HTTP bulk 100k as streamed CSV, end to end', `${spread(http.csv)}, peak RSS ${mb(http.csvPeakRss)}`, verdict(csvRatio <= 1.3 && http.csvPeakRss < 300 * 1024 * 1024, `${csvRatio.toFixed(2)}× the raw insert (${csvStrict.toFixed(2)}× the sorted 2,000-row one); target ≤ 1.3×, RSS < 300 MB`));
    if (pgFresh && bulk.rawCopy && bulk.postgres) {
      row('Bulk 100k: raw COPY into a table like promotions, no foreign keys (PostgreSQL)', spread(bulk.rawCopy));
      row('Bulk 100k: promoset service (PostgreSQL)', spread(bulk.postgres), `${(bulk.postgres.median / bulk.rawCopy.median).toFixed(2)}× the FK-free COPY`);
      const httpPg = await benchHttpBulk(RUNS, pgFresh);
      row('HTTP bulk 100k as JSON (PostgreSQL)', `${spread(httpPg.json)}, peak RSS ${mb(httpPg.jsonPeakRss)}`, `${(httpPg.json.median / bulk.rawCopy.median).toFixed(2)}× the FK-free COPY`);
      const pgRatio = httpPg.csv.median / bulk.rawCopy.median;
      row('HTTP bulk 100k as streamed CSV (PostgreSQL)', `${spread(httpPg.csv)}, peak RSS ${mb(httpPg.csvPeakRss)}`, verdict(pgRatio <= 1.3, `${pgRatio.toFixed(2)}× the FK-free COPY; target ≤ 1.3×`));
    }
  }

  if (runs('setpost')) {
    const targets: Record<string, { share: number; p99: number }> = { SQLite: { share: 0.8, p99: 20 }, PostgreSQL: { share: 0.6, p99: 20 } };
    for (const [label, fresh] of [['SQLite', freshSqlite], ...(pgFresh ? [['PostgreSQL', pgFresh]] : [])] as [string, () => FreshDatabase][]) {
      const { floor, promoset } = await benchSetPost(fresh, SECONDS, RUNS);
      row(`Set-URL POST floor (bench/floor.ts), 50 connections, ${SECONDS} s (${label})`, describe(floor));
      row(`Set-URL POST, promoset, 50 connections, ${SECONDS} s (${label})`, describe(promoset), againstFloor(floor, promoset, targets[label]));
    }
  }

  if (runs('scale')) {
    const scale = await benchAtScale(freshSqlite(), RUNS);
    row(`GetPromotions by code, ${scale.stored.toLocaleString('en-US')} stored (${scale.lookup.samples} lookups)`, `p50 ${ms(scale.lookup.p50)}, p99 ${ms(scale.lookup.p99)}`, verdict(scale.lookup.p50 < 1, 'p50 < 1 ms'));
    row('CSV export of a 100k batch, 1M stored', `${spread(scale.csvExport)}, peak RSS ${mb(scale.csvPeakRss)}`);
    const slack = await benchSlack(scale.fresh, RUNS);
    row('/promo info rendering, 1M stored', spread(slack.info));
    row(`Slack ack of /promo codes during a 100k batch (${slack.ack.samples} acks)`, `p50 ${ms(slack.ack.p50)}, p99 ${ms(slack.ack.p99)}`, verdict(slack.ack.p99 < 100, 'p99 < 100 ms'));
    await scale.fresh.remove();
  }

  if (runs('redeem')) await redemptionRows(pgFresh);

  if (runs('charts')) {
    for (const [label, fresh] of [['SQLite', freshSqlite], ...(pgFresh ? [['PostgreSQL', pgFresh]] : [])] as [string, () => FreshDatabase][]) {
      const charts = await benchCharts(fresh(), RUNS);
      row(`Daily series, 30 days, 1,000,000 codes, nothing kept yet (${label})`, spread(charts.cold));
      row(`Daily series, 30 days, 1,000,000 codes, closed days kept (${label})`, spread(charts.series), verdict(charts.series.median < 50, 'median < 50 ms'));
      if (label === 'SQLite') row('Usage chart PNG (ECharts SVG + resvg), 30 days', `${spread(charts.render)}, ${(charts.pngBytes / 1024).toFixed(0)} KB`, verdict(charts.render.median < 200 && charts.pngBytes < 200 * 1024, '< 200 ms, < 200 KB'));
    }
  }

  if (ONLY.length === 0) writeReport();
}

/** Throughput runs as one cell: median req/s (min–max), median p50 and p99, non-2xx summed. */
function describe(t: Throughput[]): string {
  return `${median(t.map((x) => x.rps)).toFixed(0)} req/s (${Math.min(...t.map((x) => x.rps)).toFixed(0)}–${Math.max(...t.map((x) => x.rps)).toFixed(0)}), p50 ${ms(median(t.map((x) => x.p50)))}, p99 ${ms(median(t.map((x) => x.p99)))}, non-2xx ${t.reduce((n, x) => n + x.non2xx, 0)}`;
}

/** promoset's median req/s as a share of its floor's, and its median p99, against the target. */
function againstFloor(floor: Throughput[], promoset: Throughput[], target: { share: number; p99: number }): string {
  const floorRps = median(floor.map((x) => x.rps));
  const share = median(promoset.map((x) => x.rps)) / floorRps;
  const p99 = median(promoset.map((x) => x.p99));
  const errors = promoset.reduce((n, x) => n + x.non2xx, 0);
  return verdict(share >= target.share && p99 < target.p99 && errors === 0, `${(share * 100).toFixed(0)}% of the floor (${floorRps.toFixed(0)} req/s); target ≥ ${target.share * 100}%, p99 < ${target.p99} ms`);
}

/** Redemptions a second through promoset, against bench/redeem-floor.ts in the same run. */
async function redemptionRows(pgFresh: (() => FreshDatabase) | undefined) {
  const targets: Record<string, { share: number; p99: number }> = { SQLite: { share: 0.7, p99: 20 }, PostgreSQL: { share: 0.6, p99: 30 } };
  for (const [label, fresh] of [['SQLite', freshSqlite], ...(pgFresh ? [['PostgreSQL', pgFresh]] : [])] as [string, () => FreshDatabase][]) {
    const r = await benchRedeem(fresh, SECONDS, RUNS);
    for (const [name, key] of [['one hot code (maxuses 0)', 'hot'], ['random codes of 10,000', 'random']] as const) {
      row(`Redeem floor (bench/redeem-floor.ts), ${name}, 50 connections (${label})`, describe(r.floor[key]));
      row(`Redeem, promoset, ${name}, 50 connections (${label})`, describe(r.promoset[key]), againstFloor(r.floor[key], r.promoset[key], targets[label]));
    }
  }
}

/** What the figures cannot say by themselves; kept with the code so every run's report carries it. */
const NOTES = [
  "## Notes",
  "",
  "- **The floors.** Set-URL POST: `bench/floor.ts`, a bare `node:http` server on promoset's own schema (made by its migrations, indexes included) doing only what a set-URL POST must: per request it reads the set row, inserts a batch row and a promotion row, and answers seed 001's JSON after COMMIT. Requests of one event-loop turn share one transaction, one group in flight, as in promoset; a code already stored is drawn again, as in promoset (before this session the floor failed its whole group then: about one run in twelve draws the same 8-character code twice in 190,000). SQLite: better-sqlite3 with promoset's pragmas and three prepared statements. PostgreSQL: `pg`, per group BEGIN, one SELECT of the sets, one multi-row INSERT per table, COMMIT. It checks no token, allowlist, rate limit or idempotency and writes no log: the gap to it is what those cost. Floor and promoset run in turn on fresh databases in the same run (50 connections, autocannon in the bench process), alternating which goes first; their servers log to a file. Bulk, SQLite: the target is set against one prepared INSERT per row in one transaction; the row below it is the fastest raw form found, the same codes sorted and inserted 2,000 rows a statement without RETURNING, the stricter bar. Bulk, PostgreSQL: one `COPY` (pg-copy-streams) of the same rows into the same table and indexes.",
  "- **How to see where the time goes:** `npm run bench:profile -- setpost` (or `bulk`; `PROFILE_DATABASE_URL=postgres://…` for PostgreSQL) runs the case against a server under `node --cpu-prof` and prints the functions by their own samples and by the samples under them, from the first request on. Per-request CPU below comes from the server's `/proc/<pid>/stat` over a 10 s load (no profiler).",
  "- **This session** (2-core Xeon; the SQLite set-URL floor answers 17,000–19,500 req/s here, its main thread about 86% busy: the load generator on the other core is what holds it back).",
  "  - Set-URL POST. Before: 13,510 req/s, 73% of the floor (3 runs). The profile's largest item outside SQLite was the access log: sonic-boom in its string mode appends each line to its pending text and then takes `Buffer.byteLength` of that whole text again, which flattens a growing rope on every line (4.4% of samples, `byteLength` under sonic-boom's `write`). (7) Lines now go in as Buffers (`contentMode: 'buffer'`): 14,850 req/s, 78% of the floor, in two alternating runs each. (8) pino's `time` field formatted once per millisecond, and the group's feasibility check without a promise per member in the usual case: about 1% of samples each, inside run-to-run noise.",
  "  - Bulk CSV, SQLite. Before: 380 ms, 1.34× the per-row insert (5 runs). A profile of that one request: the INSERTs 53% of its CPU, making and sorting the 100,000 codes 17% (70 ms), the streamed answer 9%, GC 10%. (9) Numbered codes (`numberedCodeSource`, `src/domain/codes.ts`): a code is its index in the code space written with the alphabet's characters in character order, so drawing (53-bit words from the CSPRNG, rejection-sampled), removing repeats and sorting work on a Float64Array; 100,000 codes take 15–35 ms instead of about 80 ms. Long codes whose space a double cannot number (over 11 characters of the default alphabet) keep the string path. (10) SQLite's code INSERTs carry no RETURNING: on the same schema, 100,000 codes in 2,000-row INSERTs took 160–180 ms with `returning id, code` and 100–106 ms without (a scratch loop, 3 runs). The ids are the run ending at the last insert rowid when every row went in (one writer holds the lock, each VALUES row takes the next rowid); only a chunk where a code collided is read back. (11) The CSV pieces are joined from an array instead of grown with `+=`, which node:http then had to flatten to measure. Together: the first request to a fresh server in 230–250 ms instead of 325–390 ms (3 servers × 5 requests); in the full run above, the figure against both floors.",
  "  - Tried and dropped: on PostgreSQL, one statement (a data-modifying CTE with `unnest`) for the group's two INSERTs measured no faster than the two (3.6–5.1 ms against 3.8–5.1 ms per group of 40, one client, 3 rounds of 300 groups), so the group keeps the floor's five statements.",
  "- **Earlier sessions' changes** (set-URL POST): sets cached per process and re-checked once per group inside the write transaction (`findSetsAndPromotionBound` + `sameSet`; a changed set fails its member with `set_changed` and the route decides it again from the database), which took the per-request SELECT and HMAC away; `todayIn` once per zone per minute and upgradeconfig once per set object; the group's set read and promotion-id bound in one statement (5 per group on PostgreSQL, as the floor); log redaction by a key lookup (53 µs → under 1 µs a line); the access log written asynchronously; the pending-batch, request-key and tblpromotions-id indexes made partial (migration 010), which speeds the floor up too.",
  "- **What bounds what is left.** SQLite set-URL POST: promoset's main thread is saturated at about 76 µs a request, the floor's at about 51 µs (`/proc` CPU time over 10 s at 50 connections). The SQLite work is about equal (the statements are 40% of promoset's samples; the batch row's 28 bound values alone are about 19%); the rest is what the floor leaves out: the access-log line through pino (about 5% of samples), the HTTP layer (request id, routing, allowlist, body, metrics), the group commit's promises and objects, and GC. PostgreSQL: node's main thread is only 35–50% busy; PostgreSQL (index inserts and each COMMIT's WAL flush), node and the load generator share the 2 cores, and both servers send the same five statements per group, so p99 follows the machine. Bulk CSV, SQLite: above the raw INSERTs are making the codes (15–35 ms), rendering and streaming 100,000 CSV lines (about 40 ms), the batch row, feasibility check and COMMIT, and the first request of a fresh server process. Bulk, PostgreSQL: node is busy about 190 ms of the 1.4 s; the rest is PostgreSQL's COPY, reading the ids back and COMMIT.",
  "- **Bulk.** On SQLite codes go in with multi-row INSERTs (ids as above); on PostgreSQL, when a collision with a stored code is unlikely (expected collisions < 0.05), the batch goes in with one `COPY` in a savepoint, its rows read back for their ids; a taken code rolls the savepoint back and the batch goes in chunk by chunk with `ON CONFLICT DO NOTHING … RETURNING` (`copyCodes` beside `insertCodes` in `src/store/promotions.ts`). The HTTP answer (JSON or CSV) is rendered from what the inserts gave back instead of reading 100,000 rows again. Last session's 400-or-600 ms bimodality of the SQLite CSV did not show on this machine (366–382 ms before this session's changes, 5 runs).",
  "- **WHMCS sink.** One WHMCS transaction takes each 2,000-code chunk as soon as promoset has stored it, so MariaDB inserts while SQLite is still writing; each chunk is looked up (any letter case) on a pool connection just before its INSERT, the next chunk's lookup running beside this chunk's INSERT: first one range probe (is any row between the chunk's least and greatest code?), and the IN list only where the range holds rows; the INSERT text is escaped by promoset with the batch's shared terms escaped once (the raw INSERT binds every value through mysql2, ~1 s of node CPU per 100k rows); WHMCS commits after promoset; ids are recorded by id runs (`whmcs_id = id + offset`), one UPDATE per run. What is left above the raw INSERT: making the codes before the first chunk and recording the ids; into a space WHMCS already holds codes in, the IN lists come back.",
  "- **Redemptions** are one conditional UPDATE (limits, dates, voiding checked in the statement) plus one INSERT of the redemption row; concurrent ones share a transaction (`src/service/shared-transactions.ts`) with no SAVEPOINT per member: a refusal writes nothing (a refused once-per-client repeat gives its counted use back first). On PostgreSQL the set URL's set is read from the database per redemption (one round trip outside the group), which with the group's serial statements bounds it near 1,200 a second here. The SQLite \"bare loop\" is better-sqlite3 running that UPDATE synchronously in one process (no HTTP, JSON, set lookup or redemption row): a floor for the statement, not for a request. PostgreSQL's is 10 pooled connections looping it.",
  "- **Slack acks during a batch**: streamed answers and the INSERT chunks yield to the event loop between pieces and chunks, numbered codes are made and sorted in one step of 15–35 ms (long codes, a slice at a time), and SQLite WAL checkpoints run in a worker thread, so an ack never waits behind a 100k batch. What is left: SQLite's COMMIT of a 100k batch, 22–48 ms in one step.",
  "- **Daily figures and charts** (`bench/charts.ts`): a set with 1,000,000 codes (10 bulk batches of 95,000, 50,000 single-code batches), 100,000 redemptions (5,000 rolled back) and 20,000 voided codes, all within the 30 days. Each figure is an index range count per local day (migration 016), linear in the window's rows: with nothing kept, PostgreSQL took 51-83 ms a series on a loaded machine (EXPLAIN: index-only scans, no heap fetches), so a day that is over is counted once and kept (`daily_usage_days`); today and voided are counted every time. PostgreSQL is vacuumed after seeding, as autovacuum would have done, so index-only scans skip the heap. The chart is drawn warm (the first drawing in a process also loads ECharts and the font, about 160 ms more).",
  "- **`/promo info` at 1M codes**: usage reads `issued` from `batches.count` and redeemed, voided and used up only from promotions ever used or voided (a partial index, migration 009), instead of every promotion of the set.",
  "",
];

function writeReport() {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# Benchmarks',
    '',
    `Produced by \`npm run bench\`${[PG_URL && ' with `TEST_DATABASE_URL` set (PostgreSQL rows)', WHMCS_URL && ' with `TEST_WHMCS_DATABASE_URL` set (the WHMCS sink rows)'].filter(Boolean).join(' and')} on ${new Date().toISOString().slice(0, 10)}.`,
    `Machine: ${cpus().length} × ${cpu}, ${mb(totalmem())} RAM; Node ${process.version}; ${RUNS} runs per timed case (median, then min–max), ${SECONDS} s throughput windows.`,
    `Load average (1/5/15 min) ${loadAtStart.map((l) => l.toFixed(2)).join(' / ')} at the start, ${loadavg().map((l) => l.toFixed(2)).join(' / ')} at the end; the run took ${((Date.now() - started) / 60_000).toFixed(1)} min.`,
    'The server runs in its own process (as `promoset serve`), the load generator (autocannon, bench/load.ts) in a third, for floors and promoset alike. Peak RSS is the server process\'s kernel high-water mark (VmHWM).',
    '',
    '| case | figure | against the target |',
    '|---|---|---|',
    ...rows.map(([what, figure, target]) => `| ${what} | ${figure} | ${target} |`),
    '',
    'Reproduce: `npm run bench` (SQLite only) or `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test TEST_WHMCS_DATABASE_URL=mysql://root@127.0.0.1:3306/test npm run bench` (adds PostgreSQL and the WHMCS sink). `BENCH_RUNS` (default 5) and `BENCH_SECONDS` (default 10) shorten or lengthen it; `BENCH_ONLY=setpost,bulk` (sections: bulk, setpost, scale, redeem, charts) runs a part and prints it without rewriting this file.',
    '',
    ...NOTES,
  ];
  writeFileSync('BENCHMARKS.md', lines.join('\n'));
  console.log('\nWrote BENCHMARKS.md');
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
