import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dailyUsage, drawUsageChart } from '../src/service/charts.js';
import { closeCore, openCore } from '../src/service/core.js';
import { generatePromotions } from '../src/service/generate.js';
import { listPromotions } from '../src/service/promotions.js';
import { redeemPromotion } from '../src/service/redemptions.js';
import { createSet } from '../src/service/sets.js';

/**
 * npm run chart:example: the README's chart, made by promoset itself. A
 * throwaway SQLite database and a fixed clock walk 30 days of a campaign
 * (codes issued in batches, redeemed over the days after), then the same
 * query and renderer as Slack's charts write docs/chart-example.png.
 */
const OUT = process.argv[2] ?? 'docs/chart-example.png';
const END = Date.parse('2026-12-04T12:00:00Z');
const DAY = 86_400_000;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'promoset-chart-example-'));
  let clock = new Date(END - 29 * DAY);
  const core = await openCore({ databaseUrl: join(dir, 'example.db'), publicUrl: 'http://example.invalid', urlSecret: 'chart-example-secret-0123', now: () => clock });
  try {
    const set = await createSet(core, { name: 'Winter Sale', promo_value: '20', api_ip_address: 'any' }, 'cli:example');
    const unused: string[] = [];
    for (let day = 0; day < 30; day++) {
      clock = new Date(END - (29 - day) * DAY);
      // Batches on campaign days; redemptions follow them and fade.
      const issue = [0, 7, 14, 21].includes(day) ? 40 + day * 2 : day % 3 === 1 ? 6 : 0;
      if (issue > 0) {
        const batch = await generatePromotions(core, set, { amount: issue }, 'cli:example');
        unused.push(...(await listPromotions(core, { batchId: batch.batchId })).map((p) => p.code));
      }
      const redeem = Math.min(unused.length, Math.round(4 + 8 * Math.abs(Math.sin(day / 2.2)) + (day % 7 === 1 ? 6 : 0)));
      for (const code of unused.splice(0, redeem)) await redeemPromotion(core, set, { code }, 'cli:example');
    }
    const series = await dailyUsage(core, set.id, 30);
    const chart = drawUsageChart(set.name, series);
    mkdirSync(join(OUT, '..'), { recursive: true });
    writeFileSync(OUT, chart.png);
    console.log(`Wrote ${OUT} (${chart.width}×${chart.height}, ${(chart.png.length / 1024).toFixed(0)} KB): ${chart.title}`);
    console.log(`Alt text: ${chart.altText}`);
  } finally {
    await closeCore(core);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
