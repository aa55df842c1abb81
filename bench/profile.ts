import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BULK, freshSqlite } from './bulk.js';
import { generatePromotions } from '../src/service/generate.js';
import { listPromotions } from '../src/service/promotions.js';
import { createSet } from '../src/service/sets.js';
import { setToken } from '../src/service/set-urls.js';
import { load, runLoad, serverWithSet, timedRequest, URL_SECRET } from './http.js';
import { freshPostgres } from './postgres.js';
import { startServerProcess } from './server.js';

/**
 * Where a promoset server's CPU goes under one bench case: the server runs
 * with `node --cpu-prof`, gets the load, and on exit its profile is
 * summarised (functions by their own samples and by samples under them, from
 * the first sample inside the route's handler on, idle left out). The
 * profile itself stays in ./profiles for Chrome DevTools or speedscope.
 *
 *   npm run build && node dist/bench/profile.js setpost     # 50 connections of set-URL POSTs
 *   node dist/bench/profile.js bulk                         # one 100,000-code CSV request
 *   node dist/bench/profile.js redeem                       # 50 connections of redemptions, random codes of 10,000
 *   PROFILE_PICK=hot node dist/bench/profile.js redeem      # the same on one hot code
 *   PROFILE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node dist/bench/profile.js setpost
 *
 * BENCH_SECONDS (10) sets the load's length, PROFILE_TOP (30) the rows printed.
 */
const CASES = {
  setpost: { handler: 'postPromotion' },
  bulk: { handler: 'postCodes' },
  redeem: { handler: 'redeem' },
} as const;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

async function main(): Promise<void> {
  const name = process.argv[2] as keyof typeof CASES;
  if (!(name in CASES)) {
    console.error(`Usage: node dist/bench/profile.js ${Object.keys(CASES).join('|')}  (PROFILE_DATABASE_URL=postgres://… for PostgreSQL)`);
    process.exit(2);
  }
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const pgUrl = process.env.PROFILE_DATABASE_URL;
  const fresh = pgUrl ? freshPostgres(pgUrl) : freshSqlite();
  const dir = resolve('profiles', `${name}-${pgUrl ? 'postgres' : 'sqlite'}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const profiled = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  let codes: string[] = [];
  let redemptionsPath = '';
  if (name === 'redeem') {
    const core = await fresh.open(URL_SECRET);
    const set = await createSet(core, { name: `redeem-${Date.now()}`, max_uses: 0 }, 'bench');
    const batch = await generatePromotions(core, set, { amount: 10_000 }, 'bench');
    codes = (await listPromotions(core, { batchId: batch.batchId })).map((p) => p.code);
    redemptionsPath = `/sets/${setToken(core, set)}/redemptions`;
    await core.db.destroy();
  }
  const { server, setPath } = name === 'redeem' ? { server: await startServerProcess({ DATABASE_URL: fresh.url, URL_SECRET }, profiled), setPath: '' } : await serverWithSet(fresh, {}, profiled);
  try {
    if (name === 'redeem') {
      const pick = process.env.PROFILE_PICK === 'hot' ? 'hot' : 'random';
      const t = await runLoad({ url: `${server.url}${redemptionsPath}`, method: 'POST', seconds, codes, pick });
      console.log(`redemptions (${pick} code${pick === 'hot' ? '' : 's'}) under the profiler: ${t.rps.toFixed(0)} req/s, p50 ${t.p50} ms, p99 ${t.p99} ms, non-2xx ${t.non2xx}`);
    } else if (name === 'setpost') {
      const t = await load(`${server.url}${setPath}`, 'POST', seconds);
      console.log(`set-URL POST under the profiler: ${t.rps.toFixed(0)} req/s, p50 ${t.p50} ms, p99 ${t.p99} ms, non-2xx ${t.non2xx}`);
    } else {
      const res = await timedRequest(`${server.url}${setPath}/codes`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/csv' }, body: JSON.stringify({ amount: BULK }) });
      console.log(`bulk CSV under the profiler: status ${res.status}, ${res.ms.toFixed(0)} ms, ${res.bytes} bytes`);
    }
  } finally {
    await server.stop();
    await fresh.remove();
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile was written to ${dir}`);
  console.log(`profile: ${join(dir, file)}\n`);
  summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, CASES[name].handler, Number(process.env.PROFILE_TOP ?? 30));
}

function summarise(profile: CpuProfile, handler: string, top: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules\/)?/, '')}:${n.callFrame.lineNumber + 1}`;
  const stack = (id: number) => {
    const frames: ProfileNode[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) frames.push(byId.get(at)!);
    return frames;
  };
  const own = new Map<string, number>();
  const under = new Map<string, number>();
  let started = false;
  let counted = 0;
  let microseconds = 0;
  profile.samples.forEach((id, i) => {
    const frames = stack(id);
    // Start-up (module loading, migrations) is not what a request costs.
    started ||= frames.some((f) => f.callFrame.functionName === handler);
    if (!started || frames[0].callFrame.functionName === '(idle)') return;
    counted++;
    microseconds += profile.timeDeltas[i];
    own.set(label(frames[0]), (own.get(label(frames[0])) ?? 0) + 1);
    for (const name of new Set(frames.map(label))) under.set(name, (under.get(name) ?? 0) + 1);
  });
  const rows = (counts: Map<string, number>) =>
    [...counts].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, n]) => `${((100 * n) / counted).toFixed(1).padStart(6)}%  ${name}`).join('\n');
  console.log(`${counted} busy samples (${(microseconds / 1e6).toFixed(2)} s of CPU on the main thread) from the first one in ${handler}`);
  console.log(`\nby own samples:\n${rows(own)}`);
  console.log(`\nby samples under them:\n${rows(under)}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
