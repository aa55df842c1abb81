import { PROMOTION_CSV_HEADER, promotionCsvLine, toWhmcsPromotion, type PromotionTerms } from '../domain/promotion.js';
import { listBatchCodesPage, type Batch, type BatchCode } from '../store/promotions.js';
import type { Core } from './core.js';

const PAGE = 5000;

/**
 * A batch's codes a page at a time. All codes of a batch share its terms, so
 * only (id, code, uses) is read per row: this is the fast path for streaming
 * a 100,000-code batch back to a client.
 */
export async function* eachBatchCodePage(core: Core, batchId: number): AsyncGenerator<BatchCode[]> {
  let afterId = 0;
  for (;;) {
    const page = await listBatchCodesPage(core.db, batchId, afterId, PAGE);
    if (page.length > 0) yield page;
    if (page.length < PAGE) return;
    afterId = page[page.length - 1].id;
  }
}

/** The batch as CSV (the same columns as promotionsCsv), a page per piece. */
export async function* batchCsv(core: Core, batch: Batch): AsyncGenerator<string> {
  yield PROMOTION_CSV_HEADER;
  for await (const page of eachBatchCodePage(core, batch.id)) {
    let piece = '';
    for (const row of page) piece += promotionCsvLine(row.id, row.code, row.uses, batch.terms);
    yield piece;
  }
}

/**
 * A renderer of one batch's promotions as WHMCS JSON. The shared terms are
 * serialized once, from the real toWhmcsPromotion object (so key order and
 * escaping are exactly JSON.stringify's); each row then only fills in id, code
 * and uses.
 */
export function whmcsJsonRenderer(terms: PromotionTerms): (row: BatchCode) => string {
  const sample = JSON.stringify(toWhmcsPromotion(0, '', 0, terms));
  const usesMarker = ',"uses":0';
  const middle = sample.slice(sample.indexOf(',"type":'), sample.indexOf(usesMarker));
  const tail = sample.slice(sample.indexOf(usesMarker) + usesMarker.length);
  return (row) => `{"id":${row.id},"code":${JSON.stringify(row.code)}${middle},"uses":${row.uses}${tail}`;
}

/** The batch's promotions as the elements of a JSON array (no brackets), a page per piece. */
export async function* batchJsonElements(core: Core, batch: Batch): AsyncGenerator<string> {
  const render = whmcsJsonRenderer(batch.terms);
  let first = true;
  for await (const page of eachBatchCodePage(core, batch.id)) {
    let piece = '';
    for (const row of page) {
      piece += (first ? '' : ',') + render(row);
      first = false;
    }
    yield piece;
  }
}
