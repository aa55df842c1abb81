import { toWhmcsPromotion, type PromotionTerms } from '../domain/promotion.js';
import type { Batch } from '../domain/batch.js';
import type { Core } from './core.js';
import { eachPromotionRow } from './promotions.js';

/**
 * A renderer of one batch's promotions as WHMCS JSON. The shared terms are
 * serialized once, from the real toWhmcsPromotion object (so key order and
 * escaping are exactly JSON.stringify's); each row then only fills in id, code
 * and uses.
 */
export function whmcsJsonRenderer(terms: PromotionTerms): (id: number, code: string, uses: number) => string {
  const sample = JSON.stringify(toWhmcsPromotion(0, '', 0, terms));
  const usesMarker = ',"uses":0';
  const middle = sample.slice(sample.indexOf(',"type":'), sample.indexOf(usesMarker));
  const tail = sample.slice(sample.indexOf(usesMarker) + usesMarker.length);
  return (id, code, uses) => `{"id":${id},"code":${JSON.stringify(code)}${middle},"uses":${uses}${tail}`;
}

/** The batch's promotions as the elements of a JSON array (no brackets), a page per piece. */
export async function* batchJsonElements(core: Core, batch: Batch): AsyncGenerator<string> {
  const render = whmcsJsonRenderer(batch.terms);
  let first = true;
  for await (const page of eachPromotionRow(core, { batchId: batch.id })) {
    let piece = '';
    for (const row of page) {
      piece += (first ? '' : ',') + render(row.shown_id, row.code, row.uses);
      first = false;
    }
    yield piece;
  }
}
