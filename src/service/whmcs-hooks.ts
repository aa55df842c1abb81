import { bindingMismatch, bindingRefusal } from '../domain/binding.js';
import { PromoError } from '../domain/errors.js';
import { toWhmcsPromotion } from '../domain/promotion.js';
import { refusal } from '../domain/redemption.js';
import { parseHookCall, type HookCall } from '../domain/whmcs-hooks.js';
import { findBinding } from '../store/bindings.js';
import type { Db } from '../store/db.js';
import { inWriteTransaction } from '../store/transactions.js';
import { recordEvent } from '../store/outbox.js';
import { findPromotionById, findPromotionsByCodes, type PromotionRow } from '../store/promotions.js';
import { findRedemption, insertRedemption, markRolledBack, releaseUse } from '../store/redemptions.js';
import { addPromotionUse, cancelOrderCode, claimOrderCode, listOrderCodes, setOrderRedemption, setPromotionUses, WHOLE_ORDER } from '../store/whmcs-orders.js';
import { readUses, restoreWhmcsUse, rollbackWhmcsUse } from '../whmcs/promotions.js';
import { billingUnavailable } from './billing.js';
import { nowIso, type Core } from './core.js';
import { batchTerms } from './redemptions.js';

/**
 * The WHMCS addon's calls (POST /whmcs/hooks): checkout validation, and the
 * order's life (checked out, cancelled, marked fraud, deleted). The
 * protocol, written down once:
 *
 * - WHMCS's checkout has already counted the use in tblpromotions when
 *   `checkout` arrives. promoset never counts it there again: it records the
 *   redemption (and its `promotion.redeemed` event) and COPIES WHMCS's `uses`
 *   onto its own row, exactly as the 30-second uses sync does. Copying, not
 *   adding, is what makes the hook and the sync agree whichever runs first.
 *   A code WHMCS does not hold for promoset (issued before the connection,
 *   or no WHMCS connection) is counted +1 in promoset, its only counter.
 * - `cancel`/`fraud`/`delete` roll the order's redemptions back once, and
 *   give the use back in tblpromotions with the guarded decrement (uses > 0:
 *   only while WHMCS still counts it), then copy the result.
 * - Every (order, code) is one row of whmcs_orders, under a unique index:
 *   a replayed call finds its row and changes nothing; two concurrent calls
 *   cannot both write. A cancel that arrives before its checkout leaves its
 *   rows (or a whole-order marker) `cancelled`; the late checkout then
 *   records no redemption and only gives back the use WHMCS counted.
 * - WHMCS is written inside promoset's transaction and undone if promoset's
 *   commit fails (as rollbackRedemption does); a re-run transaction never
 *   writes WHMCS twice (`released` outlives the attempts).
 */

export interface HookCodeOutcome {
  code: string;
  /** recorded, already_recorded, cancelled_before_checkout, not_promoset (a code promoset did not issue), rolled_back, already_rolled_back, noted */
  outcome: string;
  redemption_id: number | null;
  /** promoset's count for the code after this call; null for a code promoset did not issue. */
  uses: number | null;
}

export interface HookReply {
  result: 'success';
  event: string;
  allowed?: boolean;
  message?: string | null;
  order_id?: number;
  codes?: HookCodeOutcome[];
}

export async function handleWhmcsHook(core: Core, input: Record<string, unknown>): Promise<HookReply> {
  const call = parseHookCall(input);
  switch (call.event) {
    case 'validate_checkout':
      return validateCheckout(core, call);
    case 'checkout':
      return { result: 'success', event: call.event, order_id: call.orderId!, codes: await recordCheckout(core, call) };
    default:
      return { result: 'success', event: call.event, order_id: call.orderId!, codes: await rollBackOrder(core, call) };
  }
}

/**
 * `ShoppingCartValidateCheckout`: may this customer use the code in the cart?
 * Only promoset's own rules WHMCS cannot know are judged here (the binding,
 * a void); dates and uses are WHMCS's to check on its own row. A code
 * promoset did not issue is allowed: it is not promoset's to refuse.
 */
async function validateCheckout(core: Core, call: HookCall): Promise<HookReply> {
  const reply = (allowed: boolean, message: string | null): HookReply => ({ result: 'success', event: call.event, allowed, message });
  for (const code of call.codes) {
    const [row] = await findPromotionsByCodes(core.db, [code]);
    if (!row) continue;
    if (row.voided_at !== null) return reply(false, refusal('voided', row.code, await batchTerms(core, core.db, row.batch_id)).message);
    const binding = await findBinding(core.db, row.row_id);
    const customer = { clientId: call.clientId === null ? null : String(call.clientId), clientEmail: call.clientEmail };
    const mismatch = bindingMismatch(binding ?? null, customer);
    if (mismatch && binding) return reply(false, bindingRefusal(mismatch, row.code, binding).message);
  }
  return reply(true, null);
}

/** WHMCS's uses for a code it holds; undefined when WHMCS is not connected or does not hold it. */
async function whmcsCount(core: Core, row: PromotionRow | undefined): Promise<number | undefined> {
  if (!row || !core.whmcs || row.whmcs_id == null) return undefined;
  try {
    return (await readUses(core.whmcs.db, [row.whmcs_id])).get(row.whmcs_id);
  } catch {
    throw billingUnavailable('the order was not recorded; the addon will log it and the uses sync will catch up');
  }
}

/** Gives uses back in WHMCS at most once per call, however often a transaction re-runs; undoes them if promoset's side fails. */
class WhmcsReleases {
  /** WHMCS's uses after each release, by (order, code): a re-run of the transaction reads it instead of writing again. */
  private readonly done = new Map<string, number | undefined>();
  /** Rows given a use back, to count it again if promoset's side fails. */
  private readonly undo: number[] = [];
  constructor(private readonly core: Core) {}

  /** Guarded decrement (only while WHMCS counts a use); returns WHMCS's uses after it, or undefined when there was none to give back. */
  async release(key: string, whmcsId: number): Promise<number | undefined> {
    if (this.done.has(key)) return this.done.get(key);
    let uses: number | undefined;
    try {
      uses = await rollbackWhmcsUse(this.core.whmcs!.db, whmcsId);
    } catch {
      throw billingUnavailable('the order was not rolled back; the addon will log it, and a repeat of the call will do it');
    }
    this.done.set(key, uses);
    if (uses !== undefined) this.undo.push(whmcsId);
    return uses;
  }

  async restore(): Promise<void> {
    for (const whmcsId of this.undo) await restoreWhmcsUse(this.core.whmcs!.db, whmcsId).catch(() => {});
  }
}

async function recordCheckout(core: Core, call: HookCall): Promise<HookCodeOutcome[]> {
  const orderId = call.orderId!;
  const outcomes: HookCodeOutcome[] = [];
  for (const code of call.codes) {
    const [row] = await findPromotionsByCodes(core.db, [code]);
    const counted = await whmcsCount(core, row);
    const releases = new WhmcsReleases(core);
    try {
      outcomes.push(await inWriteTransaction(core.db, (trx) => recordOne(core, trx, call, orderId, code, row, counted, releases)));
    } catch (error) {
      await releases.restore();
      throw error;
    }
  }
  return outcomes;
}

async function recordOne(core: Core, trx: Db, call: HookCall, orderId: number, code: string, row: PromotionRow | undefined, whmcsUses: number | undefined, releases: WhmcsReleases): Promise<HookCodeOutcome> {
  const now = nowIso(core);
  const existing = await listOrderCodes(trx, orderId);
  const same = existing.find((r) => r.code_key === code);
  const shown = row?.code ?? code;
  if (same) return { code: shown, outcome: same.state === 'placed' ? 'already_recorded' : 'cancelled_before_checkout', redemption_id: same.redemption_id, uses: await currentUses(trx, row) };
  const orderCancelled = existing.some((r) => r.state === 'cancelled');
  const claimed = await claimOrderCode(trx, {
    order_id: orderId, code_key: code, promotion_id: row?.row_id ?? null, redemption_id: null, state: orderCancelled ? 'cancelled' : 'placed',
    client_id: call.clientId, invoice_id: call.invoiceId, created_at: now, updated_at: now,
  });
  // Another call for this (order, code) committed first: it did the work.
  if (claimed === undefined) return { code: shown, outcome: 'already_recorded', redemption_id: null, uses: await currentUses(trx, row) };
  if (!row) return { code: shown, outcome: 'not_promoset', redemption_id: null, uses: null };
  if (orderCancelled) {
    // The cancel came first: WHMCS counted this checkout's use, and nothing stands for it. Give it back.
    let uses = whmcsUses;
    if (core.whmcs && row.whmcs_id != null) uses = await releases.release(`${orderId}:${code}`, row.whmcs_id) ?? whmcsUses;
    if (uses !== undefined) await setPromotionUses(trx, row.row_id, uses);
    return { code: row.code, outcome: 'cancelled_before_checkout', redemption_id: null, uses: await currentUses(trx, row) };
  }
  if (whmcsUses !== undefined) await setPromotionUses(trx, row.row_id, whmcsUses);
  else if (!(core.whmcs && row.whmcs_id != null)) await addPromotionUse(trx, row.row_id);
  const clientId = call.clientId === null ? null : String(call.clientId);
  const redemptionId = await insertRedemption(trx, {
    set_id: row.set_id, promotion_id: row.row_id, client_id: clientId, once_key: null, request_key: `whmcs-order:${orderId}:${code}`,
    created_by: `whmcs:order:${orderId}`, created_at: now,
  });
  if (redemptionId === undefined) throw new PromoError('conflict', 'The redemption could not be recorded; send the call again.');
  await setOrderRedemption(trx, claimed, redemptionId);
  const stored = (await findPromotionById(trx, row.row_id))!;
  const promotion = toWhmcsPromotion(stored.shown_id, stored.code, stored.uses, await batchTerms(core, trx, stored.batch_id));
  await recordEvent(trx, { setId: row.set_id, type: 'promotion.redeemed', data: { promotion, redemption_id: redemptionId, client_id: clientId, order_id: orderId, invoice_id: call.invoiceId }, createdAt: now });
  return { code: row.code, outcome: 'recorded', redemption_id: redemptionId, uses: stored.uses };
}

async function currentUses(db: Db, row: PromotionRow | undefined): Promise<number | null> {
  if (!row) return null;
  return (await findPromotionById(db, row.row_id))?.uses ?? null;
}

/**
 * `cancel`, `fraud`, `delete`: every standing code of the order is rolled
 * back once (CancelOrder then DeleteOrder gives one use back, not two). Codes
 * the call names that promoset has not seen for this order yet (the checkout
 * call is late or lost) are marked cancelled now, and the use WHMCS counted
 * at checkout is given back then; with no codes named, the whole order is marked.
 */
async function rollBackOrder(core: Core, call: HookCall): Promise<HookCodeOutcome[]> {
  const orderId = call.orderId!;
  const known = await findPromotionsByCodes(core.db, call.codes);
  const byCode = new Map(known.map((row) => [row.code.toLowerCase(), row]));
  const releases = new WhmcsReleases(core);
  try {
    return await inWriteTransaction(core.db, async (trx) => {
      const now = nowIso(core);
      const outcomes: HookCodeOutcome[] = [];
      const existing = await listOrderCodes(trx, orderId);
      for (const entry of existing) {
        if (entry.code_key === WHOLE_ORDER) continue;
        const row = entry.promotion_id === null ? undefined : await findPromotionById(trx, entry.promotion_id);
        const shown = row?.code ?? entry.code_key;
        if (entry.state === 'cancelled' || !(await cancelOrderCode(trx, entry.id, now))) {
          outcomes.push({ code: shown, outcome: 'already_rolled_back', redemption_id: entry.redemption_id, uses: row?.uses ?? null });
          continue;
        }
        if (entry.redemption_id !== null) {
          const redemption = await findRedemption(trx, entry.redemption_id);
          if (redemption) await markRolledBack(trx, redemption.id, redemption.set_id, now);
        }
        if (!row) {
          outcomes.push({ code: shown, outcome: 'not_promoset', redemption_id: null, uses: null });
          continue;
        }
        const uses = await giveUseBack(core, trx, row, `${orderId}:${entry.code_key}`, releases);
        outcomes.push({ code: row.code, outcome: 'rolled_back', redemption_id: entry.redemption_id, uses });
      }
      const seen = new Set(existing.map((entry) => entry.code_key));
      for (const code of call.codes) {
        if (seen.has(code)) continue;
        const row = byCode.get(code);
        const claimed = await claimOrderCode(trx, {
          order_id: orderId, code_key: code, promotion_id: row?.row_id ?? null, redemption_id: null, state: 'cancelled',
          client_id: call.clientId, invoice_id: call.invoiceId, created_at: now, updated_at: now,
        });
        if (claimed === undefined || !row) {
          outcomes.push({ code: row?.code ?? code, outcome: claimed === undefined ? 'already_rolled_back' : 'not_promoset', redemption_id: null, uses: null });
          continue;
        }
        // Before its checkout call: WHMCS counted the use when the order was placed; promoset has not (yet).
        const uses = core.whmcs && row.whmcs_id != null ? await giveUseBack(core, trx, row, `${orderId}:${code}`, releases) : row.uses;
        outcomes.push({ code: row.code, outcome: 'cancelled_before_checkout', redemption_id: null, uses });
      }
      if (call.codes.length === 0 && existing.length === 0) {
        await claimOrderCode(trx, {
          order_id: orderId, code_key: WHOLE_ORDER, promotion_id: null, redemption_id: null, state: 'cancelled',
          client_id: call.clientId, invoice_id: call.invoiceId, created_at: now, updated_at: now,
        });
      }
      return outcomes;
    });
  } catch (error) {
    await releases.restore();
    throw error;
  }
}

/** One use back: in WHMCS (guarded) with promoset copying its count, or in promoset alone for a code WHMCS does not hold. */
async function giveUseBack(core: Core, trx: Db, row: PromotionRow, key: string, releases: WhmcsReleases): Promise<number> {
  if (core.whmcs && row.whmcs_id != null) {
    const uses = await releases.release(key, row.whmcs_id);
    if (uses !== undefined) {
      await setPromotionUses(trx, row.row_id, uses);
      return uses;
    }
    // WHMCS counts no use any more (reset by hand): nothing to give back there; promoset follows it to 0.
    await setPromotionUses(trx, row.row_id, 0);
    return 0;
  }
  return (await releaseUse(trx, row.row_id))?.uses ?? 0;
}
