import { generatePromotions } from '../src/service/generate.js';
import { listPromotions } from '../src/service/promotions.js';
import { createSet } from '../src/service/sets.js';
import { setToken } from '../src/service/set-urls.js';
import type { FreshDatabase } from './bulk.js';
import { runLoad, URL_SECRET, type Throughput } from './http.js';
import { startFloorProcess, startServerProcess, type ServerProcess } from './server.js';

/** How many codes the "random codes" case picks from. */
const POOL = 10_000;

export interface RedeemRates {
  hot: Throughput[];
  random: Throughput[];
}

export interface RedeemFigures {
  /** bench/redeem-floor.ts: the conditional UPDATE and the redemption INSERT, group commit, nothing else. */
  floor: RedeemRates;
  promoset: RedeemRates;
}

/**
 * POST {set URL}/redemptions at 50 connections for `seconds`: one hot code
 * (maxuses 0, so every request counts a use on the same row) and random codes
 * from a pool of 10,000. bench/redeem-floor.ts and promoset each get a fresh
 * database seeded the same way, in turn, alternating which goes first; the
 * load generator runs in a process of its own (bench/load.ts).
 */
export async function benchRedeem(fresh: () => FreshDatabase, seconds: number, runs: number): Promise<RedeemFigures> {
  const figures: RedeemFigures = { floor: { hot: [], random: [] }, promoset: { hot: [], random: [] } };
  const once = async (which: 'floor' | 'promoset') => {
    const db = fresh();
    const core = await db.open(URL_SECRET);
    const set = await createSet(core, { name: `redeem-${Date.now()}`, max_uses: 0 }, 'bench');
    const batch = await generatePromotions(core, set, { amount: POOL }, 'bench');
    const codes = (await listPromotions(core, { batchId: batch.batchId })).map((p) => p.code);
    const path = `/sets/${setToken(core, set)}/redemptions`;
    await core.db.destroy();
    const server: ServerProcess = which === 'floor' ? await startFloorProcess(db.url, 'redeem') : await startServerProcess({ DATABASE_URL: db.url, URL_SECRET });
    try {
      const url = `${server.url}${path}`;
      // A fresh process runs cold (JIT, caches): warm it on other codes before anything is timed.
      await runLoad({ url, method: 'POST', seconds: Math.min(3, seconds), codes: codes.slice(1), pick: 'random' });
      figures[which].hot.push(await runLoad({ url, method: 'POST', seconds, codes, pick: 'hot' }));
      figures[which].random.push(await runLoad({ url, method: 'POST', seconds, codes, pick: 'random' }));
    } finally {
      await server.stop();
      await db.remove();
    }
  };
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? (['floor', 'promoset'] as const) : (['promoset', 'floor'] as const);
    for (const which of order) await once(which);
  }
  return figures;
}
