import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { generatePromotions } from '../src/service/generate.js';
import { createSet } from '../src/service/sets.js';
import { setToken } from '../src/service/set-urls.js';
import { BULK, type FreshDatabase } from './bulk.js';
import { startFloorProcess, startServerProcess, type ServerProcess } from './server.js';
import { percentile, summarise, type Sample } from './stats.js';
import type { LoadJob, LoadResult } from './load.js';

export const URL_SECRET = 'bench-url-secret-0123456789abcdef';
export const WHMCS = { WHMCS_API_IDENTIFIER: 'bench-identifier', WHMCS_API_SECRET: 'bench-secret-value' };

/** A set made directly in the database, and a server process on it. */
export async function serverWithSet(fresh: FreshDatabase, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<{ server: ServerProcess; setPath: string; setId: number }> {
  const core = await fresh.open(URL_SECRET);
  const set = await createSet(core, { name: `bench-${Date.now()}`, max_uses: 1 }, 'bench');
  const setPath = `/sets/${setToken(core, set)}`;
  await core.db.destroy();
  const server = await startServerProcess({ DATABASE_URL: fresh.url, URL_SECRET, ...WHMCS, ...env }, nodeArgs);
  return { server, setPath, setId: set.id };
}

interface Fetched {
  status: number;
  bytes: number;
  ms: number;
}

/** One request, body drained and counted but not kept: the client must not be what runs out of memory. */
export function timedRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Fetched> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export interface HttpBulkFigures {
  json: Sample;
  csv: Sample;
  jsonPeakRss: number;
  csvPeakRss: number;
}

/** POST {set URL}/codes for 100,000 codes, end to end, as JSON and as streamed CSV. */
export async function benchHttpBulk(runs: number, fresh: () => FreshDatabase): Promise<HttpBulkFigures> {
  const times = { json: [] as number[], csv: [] as number[] };
  const peaks = { json: 0, csv: 0 };
  for (const format of ['json', 'csv'] as const) {
    for (let i = 0; i < runs; i++) {
      const db = fresh();
      const { server, setPath } = await serverWithSet(db);
      try {
        server.resetPeakRss();
        const res = await timedRequest(`${server.url}${setPath}/codes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(format === 'csv' ? { accept: 'text/csv' } : {}) },
          body: JSON.stringify({ amount: BULK }),
        });
        if (res.status !== 200) throw new Error(`bulk ${format} answered ${res.status}`);
        times[format].push(res.ms);
        peaks[format] = Math.max(peaks[format], server.peakRss());
      } finally {
        await server.stop();
        await db.remove();
      }
    }
  }
  return { json: summarise(times.json), csv: summarise(times.csv), jsonPeakRss: peaks.json, csvPeakRss: peaks.csv };
}

export interface Throughput {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

const LOAD = fileURLToPath(new URL('./load.js', import.meta.url));

/** bench/load.ts in a child process: the load generator shares no event loop with the bench or the server. */
export function runLoad(job: LoadJob): Promise<Throughput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited ${code}`));
      else resolve(JSON.parse(out) as LoadResult);
    });
    child.stdin.end(JSON.stringify(job));
  });
}

export function load(url: string, method: 'GET' | 'POST', seconds: number): Promise<Throughput> {
  return runLoad({ url, method, seconds });
}

export interface SetPostFigures {
  floor: Throughput[];
  promoset: Throughput[];
}

/**
 * Set-URL POSTs at 50 connections for `seconds`: bench/floor.ts (the bare
 * durable server) and promoset, each on a fresh database with the same
 * schema, alternating which goes first so drift in machine load hits both.
 */
export async function benchSetPost(fresh: () => FreshDatabase, seconds: number, runs: number): Promise<SetPostFigures> {
  const figures: SetPostFigures = { floor: [], promoset: [] };
  const floorOnce = async () => {
    const db = fresh();
    const core = await db.open(URL_SECRET);
    const set = await createSet(core, { name: `floor-${Date.now()}`, max_uses: 1 }, 'bench');
    const setPath = `/sets/${setToken(core, set)}`;
    await core.db.destroy();
    const server = await startFloorProcess(db.url);
    try {
      figures.floor.push(await load(`${server.url}${setPath}`, 'POST', seconds));
    } finally {
      await server.stop();
      await db.remove();
    }
  };
  const promosetOnce = async () => {
    const db = fresh();
    const { server, setPath } = await serverWithSet(db);
    try {
      figures.promoset.push(await load(`${server.url}${setPath}`, 'POST', seconds));
    } finally {
      await server.stop();
      await db.remove();
    }
  };
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      await floorOnce();
      await promosetOnce();
    } else {
      await promosetOnce();
      await floorOnce();
    }
  }
  return figures;
}

export interface ScaleFigures {
  stored: number;
  lookup: { p50: number; p99: number; samples: number };
  csvExport: Sample;
  csvPeakRss: number;
}

/** 1,000,000 promotions stored; GetPromotions by code, and re-downloading a 100k batch as CSV. */
export async function benchAtScale(fresh: FreshDatabase, runs: number): Promise<ScaleFigures & { fresh: FreshDatabase; setId: number }> {
  const core = await fresh.open(URL_SECRET);
  const set = await createSet(core, { name: 'at-scale', max_uses: 1 }, 'bench');
  const batchIds: number[] = [];
  for (let i = 0; i < 10; i++) batchIds.push((await generatePromotions(core, set, { amount: BULK }, 'bench')).batchId);
  const sampleCodes = (await core.db.selectFrom('promotions').select('code').where('id', 'in', Array.from({ length: 2000 }, (_, i) => 1 + ((i * 7919) % 1_000_000))).execute()).map((r) => r.code);
  const setPath = `/sets/${setToken(core, set)}`;
  await core.db.destroy();

  const server = await startServerProcess({ DATABASE_URL: fresh.url, URL_SECRET, ...WHMCS });
  try {
    const latencies: number[] = [];
    for (const code of sampleCodes) {
      const body = new URLSearchParams({ action: 'GetPromotions', identifier: WHMCS.WHMCS_API_IDENTIFIER, secret: WHMCS.WHMCS_API_SECRET, responsetype: 'json', code: code.toLowerCase() }).toString();
      const res = await timedRequest(`${server.url}/includes/api.php`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      if (res.status !== 200) throw new Error(`GetPromotions answered ${res.status}`);
      latencies.push(res.ms);
    }
    const exportTimes: number[] = [];
    server.resetPeakRss();
    for (let i = 0; i < runs; i++) {
      const res = await timedRequest(`${server.url}${setPath}/batches/${batchIds[i % batchIds.length]}.csv`);
      if (res.status !== 200) throw new Error(`batch CSV answered ${res.status}`);
      exportTimes.push(res.ms);
    }
    return {
      stored: 1_000_000,
      lookup: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), samples: latencies.length },
      csvExport: summarise(exportTimes),
      csvPeakRss: server.peakRss(),
      fresh,
      setId: set.id,
    };
  } finally {
    await server.stop();
  }
}
