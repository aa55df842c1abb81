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
  '## Notes',
  '',
  "- **The floors** do only the durable work the user needs, the best plain way, and none of promoset's overheads (no token, allowlist, rate limit, idempotency, WHMCS gate, webhook event or log). Each runs in the same run as promoset, on fresh databases made by promoset's own migrations (indexes included), alternating which goes first, with the load generator (autocannon, `bench/load.ts`) in a process of its own. Set-URL POST: `bench/floor.ts`, node:http; per request it reads the set row, inserts a batch row and a promotion row and answers seed 001's JSON after COMMIT; requests of one event-loop turn share one transaction (better-sqlite3 prepared statements; on PostgreSQL one statement per group, a function of the floor's own: the set rows it read checked by updated_at, then the batch rows and codes, as promoset's is). Redemptions: `bench/redeem-floor.ts`, node:http, promoset's conditional UPDATE and the redemption INSERT per request, group commit; on PostgreSQL a group is one statement (a function of the floor's own, the same UPDATE and INSERT per member), as promoset's is. Bulk, SQLite: one prepared INSERT per row in one transaction (the target's bar), and below it the fastest raw form found (codes sorted, 2,000-row INSERTs without RETURNING). Bulk, PostgreSQL: one `COPY` of the same rows into a table like `promotions`, with its unique and lookup indexes and no foreign keys. WHMCS: a raw multi-row INSERT of the very rows promoset wrote, 2,000 a statement bound by mysql2 (`conn.query(… values ?)`), in one transaction, into a fresh `tblpromotions`; rounds alternate with promoset's.",
  '- **Where the time goes:** `npm run bench:profile -- setpost` (or `redeem`, `bulk`; `PROFILE_DATABASE_URL=postgres://…` for PostgreSQL; `PROFILE_PICK=hot` for the hot-code redemption) runs the case against a server under `node --cpu-prof` and prints the functions by own samples and by samples under them.',
  "- **PostgreSQL bulk: no foreign keys on `promotions`** (migration 018). A COPY paid two per-row foreign-key checks, about half its time (1,121–1,286 ms with them, 441–480 ms without, measured for issue 23). Integrity holds by construction instead: a promotion is written only in the transaction that writes its batch row, or (a code WHMCS already held, replaced) after locking its pending batch row; sets are never deleted; a batch is deleted only with its codes, after locking its row. `test/store/promotion-integrity.test.ts` covers every path that writes or deletes them, the delete-versus-replace race included. COPY's ids come from the batch's two id ends (the sequence hands them out in input order; when no other writer drew meanwhile they are one run), so nothing is read back.",
  "- **WHMCS sink.** One WHMCS transaction takes each 2,000-code chunk as soon as promoset has stored it, so MariaDB inserts while promoset is still writing. Each chunk is first checked for codes WHMCS already holds (any letter case): one range probe (any row between the chunk's least and greatest code?), and an IN list only where the range holds rows. The INSERT text is escaped by promoset with mysql2's `escape`, a batch's shared terms once. WHMCS commits after promoset. Its ids are recorded by id runs, a chunk's as soon as MariaDB has inserted it and promoset's batch is committed (the batch is still pending, so nothing shows them): recorded all at once after WHMCS's commit, 100,000 took 160–200 ms of the request (2026-12-07); now 65–80 ms pass from WHMCS's commit to the batch being done. Caveat: a raw INSERT that built its text the same way measured 12–25% faster than the mysql2-bound one used as the floor; against that, promoset would be about 1.4–1.5×. Into a code space WHMCS already fills, the IN lists come back (a second 100k batch into a space holding 100k: 3.9–4.2 s).",
  "- **Redemptions, SQLite.** A group's members are counted and recorded by one step (`src/store/redemptions-sqlite.ts`, the contract of PostgreSQL's `promoset_redeem`): the cached sets checked once against their rows, then per member in lock order the conditional UPDATE and the INSERT, as direct better-sqlite3 statements (prepared once, `src/store/sqlite-direct.ts`) with no promise between them; BEGIN/COMMIT run directly too, only while the transaction holds the connection. Each request's access line is built by hand (`logger.access`, `src/log.ts`), and lines of 5 ms go out in one write. The WAL starts over every 1,000 pages, checkpointed by the main connection's COMMIT as SQLite does by default and as the floors do (on the event loop: ~3 ms when the frames rewrite the same pages, 17–29 ms for 1,000 distinct pages); only a big transaction's checkpoint (2,000+ rows) is left to a worker thread (`src/store/sqlite-tuning.ts`). With only the worker checkpointing (before 2026-12-07), a checkpoint beside the writer never caught up with it and the WAL never started over under steady load: 500–560 MB after the 13 s hot-code run, 1.4 GB after the random-code run that follows it, every page lookup searching it; random codes after a hot-code run went at 11,900–14,100 req/s, now 14,800 (the floor's 19,000–21,700), the WAL at 4 MB. What bounds what is left (the server's CPU from /proc, 50 connections, alternating with the floor, on the faster 2-core AMD EPYC machine of 2026-12-07's second session): on one hot code the floor's event loop spends 32–33 µs a request, promoset's 50–52 µs (61–64 µs before the access line was built by hand); on random codes 40–46 against 61. Without any database work (an experiment on a patched build, not kept), node:http answering the floor's JSON took 24 µs a request, and promoset's route answering a fixed reply after its token, allowlist, body and fields, request id, access log and metrics took 43–53 µs; the access line through `info()` was 4.1–4.4 µs of that, timed in the server, and 1.5 µs built by hand (that route went from 21,000 to 24,000 req/s). So 70% of the floor on one hot code needs at most ~47 µs a request in all, ~15 µs of it SQLite's statements and COMMIT (as in the floor): promoset's HTTP layer would have to come within ~8 µs of bare node:http. What is left of it is spread thinly (dispatch and routing, metrics at ~1 µs, the token and set cache, body and fields, promise hops, GC), no item above ~3% of samples. Tried and measured no better: a 64 MB young generation (`--max-semi-space-size`: half the scavenges, no faster). The machine's speed swings within minutes, and promoset's rate with it, so one run's ratios move by several points.",
  "- **Redemptions, PostgreSQL.** A group whose sets have no webhook is one autocommit statement: `promoset_redeem(…, alone)` (migration 020; the cached sets checked against their rows, then per member in lock order the conditional `UPDATE … FROM batches` and the INSERT, a hot code counted once per member), sent to the pool as a named statement (parsed and planned once per connection). A bound code's use is given back in that statement and redeemed again in a transaction of its own, where its customer is checked before COMMIT; refusals are explained after the statement (nothing was written for them). A group with a webhook set keeps BEGIN, the function, the event rows and COMMIT, so an event exists exactly when its use does. An unanswered statement (connection lost) fails its members with 503 `outcome_unknown` rather than running them again. The floor's function does the same UPDATE and INSERT the same way, also as one statement. What bounds what is left: the database time per group (about 3.5–4.3 ms for 25 members against the floor's 2.6–3.6 ms, one group in flight; two in flight measured slower for both), now overlapped with the replies (next note), and the HTTP layer's CPU per request; p99 follows machine load, as the floor's does. Before the overlap, a full run measured 66% and 64% of the floor (p99 29 and 27 ms); with it, two full runs on 2026-12-07 measured 87% and 90% (p99 24 and 20 ms), then 85% and 84% (p99 29 and 27 ms); a later build on that machine, 76% and 79% (p99 27 and 27 ms); this file's run, on the faster machine of the day's second session, 79% and 105% (p99 12 and 11 ms).",
  "- **Group commits on PostgreSQL overlap** (`src/service/group-queue.ts`). When a group's statement returns, the requests that waited meanwhile are sent as the next group at once, and the returned group's replies are built and sent in the next turn, while PostgreSQL works on the new group; nothing is answered before its COMMIT. Before, replies and round trips took turns. Measured on set-URL POSTs (2-core AMD EPYC, 2026-12-07), timing the statement in the server and reading `pg_stat_user_functions`: promoset_issue ran 1.9 ms a group of ~25 in PostgreSQL, as the floor's function did (1.7–1.9 ms), but promoset's groups came every 6.8 ms (the floor's every 4.0 ms); overlapped, every 3.1 ms. SQLite keeps the old order: its statements run on the event loop, so there is nothing to overlap.",
  "- **Slack acks during a batch** (SQLite, 1M codes stored): streamed answers and INSERT chunks yield to the event loop; a batch's code numbers are drawn and sorted in one step (15–45 ms on the 2-core AMD EPYC machine of 2026-12-07) and rendered as codes 5,000 at a time (in one go that step took 40–110 ms); the batch's WAL checkpoint runs in a worker thread (a COMMIT of 2,000+ rows leaves it there, `src/store/sqlite-tuning.ts`). The worker's TRUNCATE (it holds the write lock while it shortens the file: 170–190 ms for an 85 MB WAL, and the next write, an ack's, waited for it on the event loop: the 176–179 ms p99s of earlier runs) now runs only after a second with no writes, and never waits. `BENCH_ONLY=scale`, four runs each, same machine and hour: before, p99 66, 179, 68 and 176 ms; after, 78, 50, 43 and 67 ms. What is left: the batch's COMMIT, one synchronous step of 25–55 ms (strace: SQLite re-reads and rewrites the frames it spilled during the transaction, about 8,000 page reads and 8,700 writes for 100k codes into 1M), then the batch's first reply pieces and a scavenge; an ack that arrives at its start waits for them.",
  "- **Daily figures and charts** (`bench/charts.ts`): a set with 1,000,000 codes, 100,000 redemptions (5,000 rolled back) and 20,000 voided codes within the 30 days; each figure is an index range count per local day (migration 016), and a day that is over is counted once and kept (`daily_usage_days`). The chart is drawn warm. `/promo info` at 1M codes reads `issued` from `batches.count` and the rest only from promotions ever used or voided (a partial index, migration 009).",
  '',
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
