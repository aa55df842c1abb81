import SQLite from 'better-sqlite3';
import autocannon from 'autocannon';
import pg from 'pg';
import { generatePromotions } from '../src/service/generate.js';
import { listPromotions } from '../src/service/promotions.js';
import { createSet } from '../src/service/sets.js';
import { setToken } from '../src/service/set-urls.js';
import type { FreshDatabase } from './bulk.js';
import { URL_SECRET } from './http.js';
import { startServerProcess } from './server.js';

/** How many codes the "random codes" case picks from. */
const POOL = 10_000;

export interface Rate {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

export interface RedeemFigures {
  hot: Rate;
  random: Rate;
  /** Bare conditional UPDATEs a second on the same database, same table, no HTTP or service: the floor. */
  bareHot: number;
  bareRandom: number;
}

/**
 * POST {set URL}/redemptions at 50 connections for `seconds`: one hot code
 * (maxuses 0, so every request counts a use on the same row) and random codes
 * from a pool of 10,000. Then the bare conditional UPDATE loop on the same
 * database, for the ratio.
 */
export async function benchRedeem(fresh: FreshDatabase, seconds: number, dialect: 'sqlite' | 'postgres'): Promise<RedeemFigures> {
  const core = await fresh.open(URL_SECRET);
  const set = await createSet(core, { name: `redeem-${Date.now()}`, max_uses: 0 }, 'bench');
  const batch = await generatePromotions(core, set, { amount: POOL }, 'bench');
  const codes = (await listPromotions(core, { batchId: batch.batchId })).map((p) => p.code);
  const path = `/sets/${setToken(core, set)}/redemptions`;
  await core.db.destroy();

  const server = await startServerProcess({ DATABASE_URL: fresh.url, URL_SECRET });
  let hot: Rate;
  let random: Rate;
  try {
    const run = async (pick: () => string, duration = seconds): Promise<Rate> => {
      const result = await autocannon({
        url: server.url,
        connections: 50,
        duration,
        requests: [{
          method: 'POST', path, headers: { 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: JSON.stringify({ code: pick() }) }),
        }],
      });
      return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx + result.errors };
    };
    // A fresh process runs cold (JIT, caches): warm it on other codes before anything is timed.
    await run(() => codes[1 + Math.floor(Math.random() * (codes.length - 1))], Math.min(3, seconds));
    hot = await run(() => codes[0]);
    random = await run(() => codes[Math.floor(Math.random() * codes.length)]);
  } finally {
    await server.stop();
  }
  const bare = dialect === 'sqlite' ? bareSqlite(fresh.url, codes, seconds) : await barePostgres(fresh.url, codes, seconds);
  await fresh.remove();
  return { hot, random, bareHot: bare.hot, bareRandom: bare.random };
}

/** The same guard promoset's countUse applies, as a plain statement on the promotion row. */
const BARE_UPDATE = 'update promotions set uses = uses + 1 where lower(code) = lower($1) and voided_at is null and uses < 1000000000';

function loopSeconds(seconds: number): number {
  return Math.max(1, Math.min(seconds, 3)) * 1000;
}

/** better-sqlite3 alone, one autocommitted conditional UPDATE after another (SQLite has one writer anyway). */
function bareSqlite(file: string, codes: string[], seconds: number): { hot: number; random: number } {
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  const update = sqlite.prepare(BARE_UPDATE.replace('$1', '?'));
  const loop = (pick: () => string) => {
    const until = performance.now() + loopSeconds(seconds);
    let n = 0;
    while (performance.now() < until) {
      if (update.run(pick()).changes !== 1) throw new Error('bare update counted nothing');
      n++;
    }
    return n / (loopSeconds(seconds) / 1000);
  };
  const result = { hot: loop(() => codes[0]), random: loop(() => codes[Math.floor(Math.random() * codes.length)]) };
  sqlite.close();
  return result;
}

/** pg alone: 10 connections (promoset's pool size), each looping the conditional UPDATE. */
async function barePostgres(url: string, codes: string[], seconds: number): Promise<{ hot: number; random: number }> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const loop = async (pick: () => string) => {
    const until = performance.now() + loopSeconds(seconds);
    let n = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (performance.now() < until) {
          const result = await pool.query({ name: 'bare-update', text: BARE_UPDATE, values: [pick()] });
          if (result.rowCount !== 1) throw new Error('bare update counted nothing');
          n++;
        }
      }),
    );
    return n / (loopSeconds(seconds) / 1000);
  };
  try {
    return { hot: await loop(() => codes[0]), random: await loop(() => codes[Math.floor(Math.random() * codes.length)]) };
  } finally {
    await pool.end();
  }
}
