import { toWhmcsPromotion, type PromotionTerms, type WhmcsPromotion } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import { MAX_INLINE_PROMOTIONS } from '../domain/webhooks.js';
import type { Db } from '../store/db.js';
import { outboxRow, recordEvent } from '../store/outbox.js';
import { batchesOfSetsWithWebhooks, findBatch } from '../store/batches.js';
import { listPromotionRows } from '../store/promotions.js';
import { findSetById } from '../store/sets.js';
import type { Core } from './core.js';
import { setUrl } from './set-urls.js';

/**
 * `promotions.issued` events, built by the generation use cases inside their
 * transactions. Sets without a webhook_url cost nothing here: no query, no row.
 */

/** The batch CSV (bulk.ts serves it under the set URL), for batches too big to inline. */
export function batchCsvUrl(core: Core, set: PromoSet, batchId: number): string {
  return `${setUrl(core, set)}/batches/${batchId}.csv`;
}

function issuedData(core: Core, set: PromoSet, batchId: number, count: number, promotions: WhmcsPromotion[] | undefined) {
  return promotions !== undefined
    ? { batch_id: batchId, count, promotions }
    : { batch_id: batchId, count, csv_url: batchCsvUrl(core, set, batchId) };
}

/** For a bulk batch, after its codes are inserted in `trx`. */
export async function recordBatchIssued(trx: Db, core: Core, set: PromoSet, batchId: number, count: number, terms: PromotionTerms): Promise<void> {
  if (!set.webhook_url) return;
  const promotions = count <= MAX_INLINE_PROMOTIONS
    ? (await listPromotionRows(trx, { batchId }, 0, MAX_INLINE_PROMOTIONS)).map((row) => toWhmcsPromotion(row.shown_id, row.code, row.uses, terms))
    : undefined;
  await recordEvent(trx, { set, type: 'promotions.issued', data: issuedData(core, set, batchId, count, promotions), createdAt: core.now().toISOString() });
}

/** For one code of a group commit: the outbox row, which the group writes with the others in one INSERT. */
export function singleIssuedRow(core: Core, set: PromoSet, batchId: number, promotion: WhmcsPromotion) {
  return outboxRow(set.id, 'promotions.issued', issuedData(core, set, batchId, 1, [promotion]), core.now().toISOString());
}

/**
 * With WHMCS connected, `promotions.issued` is written when the batches'
 * codes reach WHMCS (billing.ts: its last step, or crash repair), not when
 * promoset first stores them: no receiver hears of a code WHMCS may still
 * refuse, and the event carries the tblpromotions ids the replies show.
 */
export async function recordIssuedAfterBilling(trx: Db, core: Core, batchIds: number[]): Promise<void> {
  for (const batchId of await batchesOfSetsWithWebhooks(trx, batchIds)) {
    const batch = await findBatch(trx, batchId);
    const set = batch && (await findSetById(trx, batch.set_id));
    if (batch && set) await recordBatchIssued(trx, core, set, batchId, batch.count, batch.terms);
  }
}
