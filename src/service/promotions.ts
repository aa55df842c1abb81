import { PromoError } from '../domain/errors.js';
import { PROMOTION_CSV_HEADER, promotionCsvLine, type WhmcsPromotion } from '../domain/promotion.js';
import { findBatch, listPromotionsPage, listRecentBatches, type Batch, type PromotionFilter, type PromotionRecord } from '../store/promotions.js';
import type { Core } from './core.js';

const PAGE = 5000;

/** Promotions in id order, a page at a time, so 100k+ never sit in memory at once. */
export async function* eachPromotion(core: Core, filter: PromotionFilter): AsyncGenerator<PromotionRecord> {
  let afterId = 0;
  for (;;) {
    const page = await listPromotionsPage(core.db, filter, afterId, PAGE);
    yield* page;
    if (page.length < PAGE) return;
    afterId = page[page.length - 1].id;
  }
}

export async function listPromotions(core: Core, filter: PromotionFilter): Promise<WhmcsPromotion[]> {
  const all: WhmcsPromotion[] = [];
  for await (const { set_id: _s, batch_id: _b, ...promotion } of eachPromotion(core, filter)) all.push(promotion);
  return all;
}

/** Case-insensitive, as codes are unique case-insensitively. */
export async function findPromotionByCode(core: Core, code: string): Promise<PromotionRecord | undefined> {
  const [promotion] = await listPromotionsPage(core.db, { code }, 0, 1);
  return promotion;
}

export async function getBatch(core: Core, batchId: number, setId?: number): Promise<Batch> {
  const batch = await findBatch(core.db, batchId);
  // A batch of another set answers exactly like a missing one.
  if (!batch || (setId !== undefined && batch.set_id !== setId)) throw new PromoError('not_found', `There is no batch ${batchId} in this set.`);
  return batch;
}

/** CSV text of promotions, in pieces of about a page, for streaming to a response or a file. */
export async function* promotionsCsv(core: Core, filter: PromotionFilter): AsyncGenerator<string> {
  yield PROMOTION_CSV_HEADER;
  let piece = '';
  let rows = 0;
  for await (const p of eachPromotion(core, filter)) {
    piece += promotionCsvLine(p.id, p.code, p.uses, p);
    if (++rows % PAGE === 0) {
      yield piece;
      piece = '';
    }
  }
  if (piece) yield piece;
}

/** The latest batches, newest first (App Home, CLI). */
export async function recentBatches(core: Core, options: { setId?: number; kind?: Batch['kind']; limit?: number } = {}): Promise<Batch[]> {
  return listRecentBatches(core.db, options);
}
