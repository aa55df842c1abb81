import { assertAsciiCode } from '../domain/codes.js';
import { PromoError } from '../domain/errors.js';
import { PROMOTION_CSV_HEADER, promotionCsvLine, toWhmcsPromotion, type PromotionTerms, type WhmcsPromotion } from '../domain/promotion.js';
import { findBatch, listRecentBatches } from '../store/batches.js';
import { findPromotionsByCodes, listPromotionRows, redeemedByBatch, type PromotionFilter, type PromotionRow } from '../store/promotions.js';
import { type Batch } from '../domain/batch.js';
import { bindingsInRange, listBatchBindings } from '../store/bindings.js';
import type { Core } from './core.js';
import { connectionRecord, shownId } from './whmcs-connection.js';

const PAGE = 10_000;

/** Rows in id order, a page at a time, so 100k+ never sit in memory at once. */
export async function* eachPromotionRow(core: Core, filter: PromotionFilter): AsyncGenerator<PromotionRow[]> {
  let afterId = 0;
  await connectionRecord(core); // the id rule depends on it (whmcs-connection.ts)
  for (;;) {
    const page = await listPromotionRows(core.db, filter, afterId, PAGE);
    for (const row of page) row.shown_id = shownId(core, row);
    if (page.length > 0) yield page;
    if (page.length < PAGE) return;
    afterId = page[page.length - 1].row_id;
    // SQLite reads are synchronous: let other requests (Slack acks) in between pages.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Terms by batch id, fetched once per batch however many of its promotions pass by. */
function termsLookup(core: Core): (batchId: number) => Promise<PromotionTerms> {
  const cache = new Map<number, PromotionTerms>();
  return async (batchId) => {
    let terms = cache.get(batchId);
    if (!terms) {
      terms = (await getBatch(core, batchId)).terms;
      cache.set(batchId, terms);
    }
    return terms;
  };
}

export interface PromotionRecord extends WhmcsPromotion {
  set_id: number;
  batch_id: number;
}

/** Promotions in WHMCS's shape, in id order, a page at a time. */
export async function* eachPromotion(core: Core, filter: PromotionFilter): AsyncGenerator<PromotionRecord> {
  const termsOf = termsLookup(core);
  for await (const page of eachPromotionRow(core, filter)) {
    for (const row of page) {
      yield { ...toWhmcsPromotion(row.shown_id, row.code, row.uses, await termsOf(row.batch_id)), set_id: row.set_id, batch_id: row.batch_id };
    }
  }
}

export async function listPromotions(core: Core, filter: PromotionFilter): Promise<WhmcsPromotion[]> {
  const all: WhmcsPromotion[] = [];
  for await (const { set_id: _s, batch_id: _b, ...promotion } of eachPromotion(core, filter)) all.push(promotion);
  return all;
}

/** A code's ids: the one every reply shows (GetPromotions' id) and its tblpromotions id when WHMCS holds it. */
export async function promotionIds(core: Core, code: string): Promise<{ id: number; whmcs_id: number | null } | undefined> {
  const [row] = await findPromotionsByCodes(core.db, [code]);
  return row && { id: row.shown_id, whmcs_id: row.whmcs_id ?? null };
}

/** Case-insensitive, as codes are unique case-insensitively. */
export async function findPromotionByCode(core: Core, code: string): Promise<PromotionRecord | undefined> {
  for await (const promotion of eachPromotion(core, { code: assertAsciiCode(code) })) return promotion;
  return undefined;
}

export async function getBatch(core: Core, batchId: number, setId?: number): Promise<Batch> {
  const batch = await findBatch(core.db, batchId);
  // A batch of another set answers exactly like a missing one.
  if (!batch || (setId !== undefined && batch.set_id !== setId)) throw new PromoError('not_found', `There is no batch ${batchId} in this set.`);
  return batch;
}

/** CSV text of promotions, a page per piece, for streaming to a response or a file. */
export async function* promotionsCsv(core: Core, filter: PromotionFilter): AsyncGenerator<string> {
  yield PROMOTION_CSV_HEADER;
  const termsOf = termsLookup(core);
  for await (const page of eachPromotionRow(core, filter)) {
    const bindings = await bindingsInRange(core.db, page[0].row_id, page[page.length - 1].row_id);
    let piece = '';
    for (const row of page) piece += promotionCsvLine(row.shown_id, row.code, row.uses, await termsOf(row.batch_id), row.voided_at !== null, bindings.get(row.row_id));
    yield piece;
  }
}

export interface BoundCode {
  code: string;
  client_id: number | null;
  client_email: string | null;
}

/** A batch's bound codes (empty when none is bound), for replies that show the binding. */
export async function batchBindings(core: Core, batch: Pick<Batch, 'id' | 'set_id'>): Promise<BoundCode[]> {
  return (await listBatchBindings(core.db, batch.set_id, batch.id)).map(({ code, binding }) => ({ code, ...binding }));
}

/** The latest batches, newest first (App Home, CLI). */
export async function recentBatches(core: Core, options: { setId?: number; kind?: Batch['kind']; limit?: number } = {}): Promise<Batch[]> {
  const batches = await listRecentBatches(core.db, options);
  const redeemed = await redeemedByBatch(core.db, batches.map((b) => b.id));
  return batches.map((batch) => ({ ...batch, redeemed: redeemed.get(batch.id) ?? 0 }));
}
