// A stand-in for one promoset instance, for the multi-process tests: it opens
// the built core on DATABASE_URL and, concurrently, generates bulk batches and
// single promotions of set SET_ID, like an instance serving both kinds of
// request. It prints what it handed out as one JSON line on stdout.
// Plain .mjs over dist/ (npm test builds first) so it runs under bare node.
import { openCore } from '../../dist/src/service/core.js';
import { generatePromotion, generatePromotions } from '../../dist/src/service/generate.js';
import { listPromotions } from '../../dist/src/service/promotions.js';
import { getSet } from '../../dist/src/service/sets.js';

const { DATABASE_URL, SET_ID, BULK_AMOUNTS = '', SINGLES = '0', WORKER = 'w' } = process.env;
const core = await openCore({ databaseUrl: DATABASE_URL, publicUrl: 'http://promo.test' });
const out = { bulk: [], singles: [], errors: [] };
try {
  const set = await getSet(core, Number(SET_ID));
  const bulk = async () => {
    for (const amount of BULK_AMOUNTS.split(',').filter(Boolean).map(Number)) {
      try {
        const result = await generatePromotions(core, set, { amount }, `cli:${WORKER}`);
        const codes = (await listPromotions(core, { batchId: result.batchId })).map((p) => p.code);
        out.bulk.push({ batchId: result.batchId, count: result.count, codes });
      } catch (error) {
        out.errors.push(`bulk ${amount}: ${error?.code ?? ''} ${error?.message ?? error}`);
      }
    }
  };
  const singles = async () => {
    for (let i = 0; i < Number(SINGLES); i++) {
      try {
        const promotion = await generatePromotion(core, set, { notes: `single ${WORKER}-${i}` }, `cli:${WORKER}`);
        out.singles.push(promotion.code);
      } catch (error) {
        out.errors.push(`single: ${error?.code ?? ''} ${error?.message ?? error}`);
      }
    }
  };
  await Promise.all([bulk(), singles()]);
} finally {
  await core.db.destroy();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
