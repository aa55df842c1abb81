import { PromoError } from '../domain/errors.js';
import type { WhmcsPromotion } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import { inWriteTransaction } from '../store/transactions.js';
import { type Db } from '../store/db.js';
import { findRedemption, markRolledBack, releaseUse } from '../store/redemptions.js';
import { findPromotionById } from '../store/promotions.js';
import { prepareUseChange, type PreparedUseChange } from '../whmcs/xa.js';
import { newXid, settleAfterFailure, underCommitDecision } from './whmcs-two-phase.js';
import { billingUnavailable } from './billing.js';
import { assertBillingReady } from './whmcs-connection.js';
import { nowIso, type Core } from './core.js';
import { whmcsShape } from './redemptions.js';

/**
 * Rolling a redemption back: the use given back once, in promoset and (with
 * WHMCS connected) in tblpromotions, under the same two-phase commit as the
 * redemption itself (whmcs-two-phase.ts).
 */

export interface RollbackResult {
  result: 'success';
  redemption_id: number;
  rolled_back_at: string;
  promotion: WhmcsPromotion;
}

const redemptionNotFound = (id: string) => new PromoError('redemption_not_found', `There is no redemption ${id.slice(0, 20)} in this set. Use the redemption_id the redemption returned.`);

/**
 * `POST {set URL}/redemptions/{id}/rollback`: give the use back, once (an order
 * cancelled, a payment failed). With WHMCS connected, the same two-phase
 * commit as a redemption (whmcs-two-phase.ts): WHMCS prepares `uses - 1`,
 * promoset marks the redemption rolled back with the decision, then XA
 * COMMIT. WHMCS unreachable → 503, nothing changed; a refusal (already rolled
 * back) or a failure in promoset → XA ROLLBACK, WHMCS unchanged.
 */
export async function rollbackRedemption(core: Core, set: PromoSet, idText: string): Promise<RollbackResult> {
  if (!/^\d{1,12}$/.test(idText)) throw redemptionNotFound(idText);
  await assertBillingReady(core, 'the redemption was not rolled back');
  const id = Number(idText);
  const now = nowIso(core);
  const change = await prepareGiveBack(core, set, id, idText);
  if (change) await core.faults?.('rollback.prepared');
  let result: RollbackResult;
  try {
    result = await inWriteTransaction(core.db, async (trx) => {
      const markRolledBackHere = async (): Promise<RollbackResult> => {
        const promotionId = await markRolledBack(trx, id, set.id, now);
        if (promotionId === undefined) throw await whyNotRolledBack(trx, set, id, idText);
        const row = (await releaseUse(trx, promotionId)) ?? (await findPromotionById(trx, promotionId));
        if (!row) throw redemptionNotFound(idText);
        // With WHMCS, the reply shows its count right after giving the use back.
        return { result: 'success', redemption_id: id, rolled_back_at: now, promotion: await whmcsShape(core, trx, change ? { ...row, uses: change.uses } : row) };
      };
      return change ? underCommitDecision(core, trx, change.xid, markRolledBackHere, () => id) : markRolledBackHere();
    });
  } catch (error) {
    if (change && (await settleAfterFailure(core, change, error))?.decision === 'commit') {
      // promoset's COMMIT went through after all: the rollback stands.
      const done = await rolledBackResult(core, id, change.uses).catch(() => undefined);
      if (done) return done;
    }
    throw error;
  }
  if (change) {
    await core.faults?.('rollback.committed');
    await change.commit(); // false: the decision is written, repair commits it
  }
  return result;
}

/**
 * Phase one of a rollback with WHMCS: the redemption's code, read first (a
 * redemption's promotion never changes), gives one use back, prepared.
 * Undefined without WHMCS, for a code WHMCS does not hold, or when WHMCS's
 * uses is 0 already (reset by hand: nothing to give back there).
 */
async function prepareGiveBack(core: Core, set: PromoSet, id: number, idText: string): Promise<PreparedUseChange | undefined> {
  const whmcs = core.whmcs;
  if (!whmcs) return undefined;
  const redemption = await findRedemption(core.db, id);
  if (!redemption || redemption.set_id !== set.id) throw redemptionNotFound(idText);
  if (redemption.rolled_back_at !== null) throw alreadyRolledBack(id, redemption.rolled_back_at);
  const row = await findPromotionById(core.db, redemption.promotion_id);
  if (row?.whmcs_id == null) return undefined;
  try {
    return await prepareUseChange(whmcs.db, row.whmcs_id, 'give back', await newXid(core));
  } catch (error) {
    throw billingUnavailable('the redemption was not rolled back', error);
  }
}

async function whyNotRolledBack(db: Db, set: PromoSet, id: number, idText: string): Promise<PromoError> {
  const redemption = await findRedemption(db, id);
  if (!redemption || redemption.set_id !== set.id) return redemptionNotFound(idText);
  return alreadyRolledBack(id, redemption.rolled_back_at ?? '');
}

const alreadyRolledBack = (id: number, at: string) => new PromoError('redemption_already_rolled_back', `Redemption ${id} was already rolled back on ${at.slice(0, 19).replace('T', ' ')} UTC; its use was given back then.`);

async function rolledBackResult(core: Core, id: number, whmcsUses: number): Promise<RollbackResult | undefined> {
  const redemption = await findRedemption(core.db, id);
  const row = redemption && (await findPromotionById(core.db, redemption.promotion_id));
  if (!redemption?.rolled_back_at || !row) return undefined;
  return { result: 'success', redemption_id: id, rolled_back_at: redemption.rolled_back_at, promotion: await whmcsShape(core, core.db, { ...row, uses: whmcsUses }) };
}
