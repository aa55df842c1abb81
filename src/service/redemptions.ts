import { PromoError } from '../domain/errors.js';
import { toWhmcsPromotion, type PromotionTerms, type WhmcsPromotion } from '../domain/promotion.js';
import { alreadyRedeemedByClient, clientIdRequired, parseRedemptionRequest, promotionNotFound, refusal, refusalReason, type RefusalReason } from '../domain/redemption.js';
import type { PromoSet } from '../domain/set.js';
import { inWriteTransaction, type Db } from '../store/db.js';
import { findBatch, type PromotionRow } from '../store/promotions.js';
import { countUse, findPromotionById, findRedemption, findSetPromotion, insertRedemption, markRolledBack, releaseUse } from '../store/redemptions.js';
import { nowIso, today, type Core } from './core.js';
import { inSharedTransaction } from './shared-transactions.js';
import { recordEvent } from '../store/outbox.js';

/**
 * Validate, redeem and roll back: the checkout's side of a promotion. Every
 * transport (the set URL, Slack, the CLI) reaches these functions, so they
 * all see the same rules and the same counts.
 */

/** A batch's terms never change once written, so they are kept per database after the first read. */
const termsCache = new WeakMap<Db, Map<number, PromotionTerms>>();
const TERMS_CACHE_MAX = 5000;

export async function batchTerms(core: Core, db: Db, batchId: number): Promise<PromotionTerms> {
  let cache = termsCache.get(core.db);
  if (!cache) {
    cache = new Map();
    termsCache.set(core.db, cache);
  }
  const cached = cache.get(batchId);
  if (cached) return cached;
  const batch = await findBatch(db, batchId);
  if (!batch) throw new PromoError('not_found', `There is no batch ${batchId}.`);
  if (cache.size >= TERMS_CACHE_MAX) cache.delete(cache.keys().next().value as number);
  cache.set(batchId, batch.terms);
  return batch.terms;
}

async function whmcsShape(core: Core, db: Db, row: PromotionRow): Promise<WhmcsPromotion> {
  return toWhmcsPromotion(row.id, row.code, row.uses, await batchTerms(core, db, row.batch_id));
}

export interface Validation {
  result: 'success';
  valid: boolean;
  reason: RefusalReason | null;
  promotion: WhmcsPromotion;
}

/** `GET {set URL}/promotions/{code}`: could this code be redeemed now, and why not. Changes nothing. */
export async function validatePromotion(core: Core, set: PromoSet, code: string): Promise<Validation> {
  const row = await findSetPromotion(core.db, set.id, code);
  if (!row) throw promotionNotFound(code);
  const promotion = await whmcsShape(core, core.db, row);
  const reason = refusalReason(promotion, row.uses, row.voided_at !== null, today(core));
  return { result: 'success', valid: reason === null, reason, promotion };
}

export interface RedemptionResult {
  result: 'success';
  redemption_id: number;
  promotion: WhmcsPromotion;
}

/**
 * Count one use of a promotion, atomically (store/redemptions.ts countUse:
 * one conditional UPDATE whose row count decides), and record who redeemed
 * it. A refusal says why, with a sentence a person can act on; it changes nothing.
 */
export async function redeemPromotion(core: Core, set: PromoSet, input: Record<string, unknown>, actor: string, options: { requestKey?: string } = {}): Promise<RedemptionResult> {
  const { code, clientId } = parseRedemptionRequest(input);
  const day = today(core);
  // Concurrent redemptions share a transaction (group commit), each in its own savepoint.
  return inSharedTransaction(core.db, code.toLowerCase(), async (trx) => {
    const counted = await countUse(trx, set.id, code, day);
    if (!counted) throw await whyRefused(core, trx, set, code, day);
    const terms = await batchTerms(core, trx, counted.batch_id);
    // Throwing after countUse rolls the count back with the transaction.
    if (terms.onceperclient && clientId === null) throw clientIdRequired(counted.code);
    const redemptionId = await insertRedemption(trx, {
      set_id: set.id,
      promotion_id: counted.seq,
      client_id: clientId,
      // The unique (promotion_id, once_key) index is the once-per-client rule, for every instance at once.
      once_key: terms.onceperclient ? clientId : null,
      request_key: options.requestKey ?? null,
      created_by: actor,
      created_at: nowIso(core),
    });
    if (redemptionId === undefined) throw alreadyRedeemedByClient(counted.code, clientId ?? '');
    const promotion = toWhmcsPromotion(counted.id, counted.code, counted.uses, terms);
    // The webhook event is written in this transaction (savepoint), so it exists exactly when the use does.
    // With WHMCS connected, the same count in tblpromotions.uses joins here too.
    await recordEvent(trx, { set, type: 'promotion.redeemed', data: { promotion, redemption_id: redemptionId, client_id: clientId }, createdAt: nowIso(core) });
    return { result: 'success', redemption_id: redemptionId, promotion };
  });
}

/**
 * Nothing was counted: say why. Inside the redemption's transaction; on
 * PostgreSQL a concurrent rollback may have freed a use since, which shows as
 * "no reason", and the count is tried again (a few times, then used up).
 */
async function whyRefused(core: Core, trx: Db, set: PromoSet, code: string, day: string): Promise<PromoError> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const row = await findSetPromotion(trx, set.id, code);
    if (!row) return promotionNotFound(code);
    const terms = await batchTerms(core, trx, row.batch_id);
    const reason = refusalReason(terms, row.uses, row.voided_at !== null, day);
    if (reason !== null) return refusal(reason, row.code, terms);
  }
  const row = await findSetPromotion(trx, set.id, code);
  return row ? refusal('used_up', row.code, await batchTerms(core, trx, row.batch_id)) : promotionNotFound(code);
}

/** The stored outcome of a redemption, for replaying an Idempotency-Key whose reply was lost. */
export async function redemptionResult(core: Core, redemptionId: number): Promise<RedemptionResult | undefined> {
  const redemption = await findRedemption(core.db, redemptionId);
  const row = redemption && (await findPromotionById(core.db, redemption.promotion_id));
  if (!redemption || !row) return undefined;
  return { result: 'success', redemption_id: redemption.id, promotion: await whmcsShape(core, core.db, row) };
}

export interface RollbackResult {
  result: 'success';
  redemption_id: number;
  rolled_back_at: string;
  promotion: WhmcsPromotion;
}

const redemptionNotFound = (id: string) => new PromoError('redemption_not_found', `There is no redemption ${id.slice(0, 20)} in this set. Use the redemption_id the redemption returned.`);

/** `POST {set URL}/redemptions/{id}/rollback`: give the use back, once (an order cancelled, a payment failed). */
export async function rollbackRedemption(core: Core, set: PromoSet, idText: string): Promise<RollbackResult> {
  if (!/^\d{1,12}$/.test(idText)) throw redemptionNotFound(idText);
  const id = Number(idText);
  const now = nowIso(core);
  return inWriteTransaction(core.db, async (trx) => {
    const promotionId = await markRolledBack(trx, id, set.id, now);
    if (promotionId === undefined) {
      const redemption = await findRedemption(trx, id);
      if (!redemption || redemption.set_id !== set.id) throw redemptionNotFound(idText);
      throw new PromoError('redemption_already_rolled_back', `Redemption ${id} was already rolled back on ${redemption.rolled_back_at?.slice(0, 19).replace('T', ' ')} UTC; its use was given back then.`);
    }
    // With WHMCS connected, its tblpromotions.uses is given back here too, in this transaction.
    const row = (await releaseUse(trx, promotionId)) ?? (await findPromotionById(trx, promotionId));
    if (!row) throw redemptionNotFound(idText);
    return { result: 'success', redemption_id: id, rolled_back_at: now, promotion: await whmcsShape(core, trx, row) };
  });
}
