import { assertAsciiCode } from '../domain/codes.js';
import { PromoError } from '../domain/errors.js';
import { toWhmcsPromotion, type PromotionTerms, type WhmcsPromotion } from '../domain/promotion.js';
import { bindingMismatch, bindingRefusal, type Binding, type Customer } from '../domain/binding.js';
import { alreadyRedeemedByClient, clientIdRequired, parseRedemptionRequest, promotionNotFound, refusal, refusalReason, type RedemptionRequest, type ValidationReason } from '../domain/redemption.js';
import { findBinding, findBindingByCode } from '../store/bindings.js';
import type { PromoSet } from '../domain/set.js';
import { type Db } from '../store/db.js';
import { findBatch } from '../store/batches.js';
import { type PromotionRow } from '../store/promotions.js';
import { countWhmcsCountedUse, findRedemption, insertRedemption, releaseUse } from '../store/redemptions.js';
import { findPromotionById, findSetPromotion } from '../store/promotions.js';
import type { WhmcsHandle } from '../whmcs/db.js';
import { readUses } from '../whmcs/promotions.js';
import { prepareUseChange, type PreparedUseChange } from '../whmcs/xa.js';
import { newXid, settleAfterFailure, underCommitDecision } from './whmcs-two-phase.js';
import { billingUnavailable } from './billing.js';
import { assertBillingReady, connectionRecord, shownId } from './whmcs-connection.js';
import { nowIso, today, type Core } from './core.js';
import { inSharedTransaction, inSharedTransactionAfter, type SharedStep } from './shared-transactions.js';
import { setIsStored } from './set-cache.js';
import { recordEvent } from '../store/outbox.js';
import { inWriteTransaction } from '../store/transactions.js';
import { isPostgres } from '../store/db.js';
import { redeemInPostgres, type PostgresRedemption, type PostgresRedemptionOutcome } from '../store/redemptions-postgres.js';
import { redeemInSqlite } from '../store/redemptions-sqlite.js';

/**
 * Validate, redeem and roll back: the checkout's side of a promotion. Every
 * transport (the set URL, Slack, the CLI) reaches these functions, so they
 * all see the same rules and the same counts.
 */

/** A batch's terms never change once written, so they are kept per database after the first read. */
const termsCache = new WeakMap<Db, Map<number, PromotionTerms>>();
const TERMS_CACHE_MAX = 5000;

/** A batch's terms if this process has them already: no promise to wait for on the hot path. */
function knownTerms(core: Core, batchId: number): PromotionTerms | undefined {
  return termsCache.get(core.db)?.get(batchId);
}

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

export async function whmcsShape(core: Core, db: Db, row: PromotionRow): Promise<WhmcsPromotion> {
  return toWhmcsPromotion(shownId(core, row), row.code, row.uses, await batchTerms(core, db, row.batch_id));
}

export interface Validation {
  result: 'success';
  valid: boolean;
  reason: ValidationReason | null;
  promotion: WhmcsPromotion;
  /** The customer the code is bound to; null for a code anyone may use. */
  client: Binding | null;
}

/**
 * `GET {set URL}/promotions/{code}`: could this code be redeemed now (by this
 * customer, for a bound code), and why not. Changes nothing. The promotion's
 * own state speaks first; a bound code then asks for its customer.
 */
export async function validatePromotion(core: Core, set: PromoSet, code: string, customer: Customer = NO_CUSTOMER): Promise<Validation> {
  assertAsciiCode(code);
  await connectionRecord(core); // the id rule (whmcs-connection.ts)
  const found = await findSetPromotion(core.db, set.id, code);
  if (!found) throw promotionNotFound(code);
  // With WHMCS connected its uses are the count (its checkout adds to them too): read at display time.
  const row = core.whmcs && found.whmcs_id != null ? { ...found, uses: await whmcsUses(core.whmcs, found.whmcs_id, found.uses) } : found;
  const promotion = await whmcsShape(core, core.db, row);
  const binding = (await findBinding(core.db, row.row_id)) ?? null;
  const reason = refusalReason(promotion, row.uses, row.voided_at !== null, today(core)) ?? bindingMismatch(binding, customer);
  return { result: 'success', valid: reason === null, reason, promotion, client: binding };
}

const NO_CUSTOMER: Customer = { clientId: null, clientEmail: null };

/** A bound code for another customer (or none named) is refused before anything is counted. Bindings never change, so reading first is safe. */
async function assertBindingAllows(core: Core, setId: number, code: string, customer: Customer): Promise<void> {
  const refused = await bindingRefusalOf(core.db, setId, code, customer);
  if (refused) throw refused;
}

async function bindingRefusalOf(db: Db, setId: number, code: string, customer: Customer): Promise<PromoError | undefined> {
  const binding = await findBindingByCode(db, code, setId);
  const mismatch = bindingMismatch(binding ?? null, customer);
  return mismatch && binding ? bindingRefusal(mismatch, code.trim(), binding) : undefined;
}

async function whmcsUses(whmcs: WhmcsHandle, whmcsId: number, fallback: number): Promise<number> {
  try {
    return (await readUses(whmcs.db, [whmcsId])).get(whmcsId) ?? fallback;
  } catch (error) {
    throw billingUnavailable('the code\'s uses could not be checked', error);
  }
}

export interface RedemptionResult {
  result: 'success';
  redemption_id: number;
  promotion: WhmcsPromotion;
}

interface RedemptionOptions {
  requestKey?: string;
  /**
   * `set` may be this process's cached copy (the set URL's hot path): it is
   * checked against the database inside the write transaction, and a
   * difference fails with set_changed for the caller to decide again.
   */
  setMayBeStale?: boolean;
  /** Who redeems, for bound codes; filled in by redeemPromotion. */
  customer?: Customer;
}

/**
 * Count one use of a promotion, atomically (one conditional UPDATE whose row
 * count decides: store/redemptions-sqlite.ts, promoset_redeem on PostgreSQL), and record who redeemed
 * it. A refusal says why, with a sentence a person can act on; it changes nothing.
 * With WHMCS connected, WHMCS's row is the counter (redeemThroughWhmcs).
 */
export function redeemPromotion(core: Core, set: PromoSet, input: Record<string, unknown>, actor: string, options: RedemptionOptions = {}): Promise<RedemptionResult> {
  let request: RedemptionRequest;
  try {
    request = parseRedemptionRequest(input);
  } catch (error) {
    return Promise.reject(error);
  }
  const ready = assertBillingReady(core, 'the code was not redeemed');
  // The usual case (no WHMCS, nothing to wait for) goes straight to the group commit: no async layer here.
  if (ready === undefined && !core.whmcs) return redeemInPromoset(core, set, request.code, request.clientId, actor, { requestKey: options.requestKey, setMayBeStale: options.setMayBeStale, customer: { clientId: request.clientId, clientEmail: request.clientEmail } });
  return redeemAfterGates(core, set, request, ready, actor, options);
}

async function redeemAfterGates(core: Core, set: PromoSet, { code, clientId, clientEmail }: RedemptionRequest, ready: Promise<void> | undefined, actor: string, options: RedemptionOptions): Promise<RedemptionResult> {
  if (ready) await ready;
  const customer = { clientId, clientEmail };
  if (core.whmcs) {
    // WHMCS counts before promoset's transaction: the set and the binding are confirmed before it.
    if (options.setMayBeStale && !(await setIsStored(core.db, set))) throw setChangedForRedemption();
    await assertBindingAllows(core, set.id, code, customer);
    return redeemThroughWhmcs(core, core.whmcs, set, code, clientId, actor, { ...options, customer });
  }
  // Field by field rather than a spread: this runs for every redemption.
  return redeemInPromoset(core, set, code, clientId, actor, { requestKey: options.requestKey, setMayBeStale: options.setMayBeStale, customer });
}

const setChangedForRedemption = () =>
  new PromoError('set_changed', 'The promo set was changed while this redemption was running, so no use was counted. Send the request again.');

/**
 * Count and record one use in promoset's own tables. Concurrent redemptions
 * share a write transaction (group commit), and a group's counts and
 * redemption rows are written by one step per dialect: PostgreSQL's
 * promoset_redeem function (one round trip, store/redemptions-postgres.ts),
 * SQLite's direct statements (store/redemptions-sqlite.ts). Cached sets are
 * checked in that step, once per group. What the step leaves open (why
 * nothing was counted, a bound code's customer) is decided in
 * finishRedemption, in the same transaction; or, on PostgreSQL when the
 * statement was the group's whole transaction (no webhook set in the group),
 * after it: a refusal's reasons are read after COMMIT (nothing was written
 * for it), and a bound code, whose use the statement gave back, is redeemed
 * again in a transaction of its own.
 */
function redeemInPromoset(core: Core, set: PromoSet, code: string, clientId: string | null, actor: string, options: RedemptionOptions): Promise<RedemptionResult> {
  const member: RedemptionMember = {
    cachedSet: options.setMayBeStale ? set : undefined,
    setId: set.id,
    code: code.toLowerCase(),
    clientId,
    requestKey: options.requestKey ?? null,
    actor,
    createdAt: nowIso(core),
    day: today(core),
    webhook: Boolean(set.webhook_url),
  };
  const step = isPostgres(core.db) ? postgresRedemptions : sqliteRedemptions;
  return inSharedTransactionAfter(core.db, member.code, step, member, (trx, counted) => finishRedemption(core, trx, set, code, member, options, counted));
}

interface RedemptionMember extends PostgresRedemption {
  /** The member's set has a webhook: its event must be written in the transaction that counts the use. */
  webhook: boolean;
}

/**
 * Each dialect's group step: every member counted and recorded at once,
 * cached sets checked in it. On PostgreSQL, when no member's set has a
 * webhook (no event to write in the same transaction), the statement is the
 * group's whole transaction, sent without BEGIN/COMMIT.
 */
const postgresRedemptions: SharedStep<RedemptionMember, PostgresRedemptionOutcome> = {
  run: redeemInPostgres,
  alone: (members) => members.every((m) => !m.webhook),
};
const sqliteRedemptions: SharedStep<RedemptionMember, PostgresRedemptionOutcome> = { run: redeemInSqlite };

/**
 * One member's outcome of the group step, finished; `trx` is the group's
 * transaction, or the database after an autocommit statement. `code` as the
 * client sent it. The usual outcome (redeemed, terms known, no webhook event
 * to write) is answered as a value: nothing to wait for.
 */
function finishRedemption(core: Core, trx: Db, set: PromoSet, code: string, member: RedemptionMember, options: RedemptionOptions, counted: PostgresRedemptionOutcome): RedemptionResult | Promise<RedemptionResult> {
  if (counted.outcome === 'redeemed' && !member.webhook) {
    const { row, redemptionId } = counted;
    const terms = knownTerms(core, row.batch_id);
    if (terms) return { result: 'success', redemption_id: redemptionId, promotion: toWhmcsPromotion(shownId(core, row), row.code, row.uses, terms) };
  }
  return finishRedemptionAsync(core, trx, set, code, member, options, counted);
}

async function finishRedemptionAsync(core: Core, trx: Db, set: PromoSet, code: string, member: RedemptionMember, options: RedemptionOptions, counted: PostgresRedemptionOutcome): Promise<RedemptionResult> {
  const { clientId } = member;
  const customer = options.customer ?? NO_CUSTOMER;
  switch (counted.outcome) {
    case 'set_changed':
      throw setChangedForRedemption();
    case 'refused':
      throw await whyRefused(core, trx, set, code, member.day, customer);
    case 'client_required':
      throw clientIdRequired(counted.row.code);
    case 'once_taken':
      throw alreadyRedeemedByClient(counted.row.code, clientId ?? '');
    case 'bound_later':
      // Counted and given back by PostgreSQL's autocommit statement: counted again where the customer can be checked before COMMIT.
      return inWriteTransaction(core.db, async (own) => {
        const [again] = await redeemInPostgres(own, [member], false);
        return finishRedemption(core, own, set, code, member, options, again);
      });
    case 'bound':
      // Counted, not recorded: the customer decides, and a refusal gives the use back.
      return recordOrGiveBack(trx, counted.row, async () => {
        const refused = await bindingRefusalOf(trx, set.id, code, customer);
        if (refused) throw refused;
        return recordRedemption(core, trx, set, counted.row, await batchTerms(core, trx, counted.row.batch_id), clientId, member.actor, options);
      });
    case 'redeemed': {
      const { row, redemptionId } = counted;
      const promotion = toWhmcsPromotion(shownId(core, row), row.code, row.uses, await batchTerms(core, trx, row.batch_id));
      // The webhook event is written in the transaction that counted the use, so it exists exactly when the use does.
      if (member.webhook) await recordEvent(trx, { set, type: 'promotion.redeemed', data: { promotion, redemption_id: redemptionId, client_id: clientId }, createdAt: member.createdAt });
      return { result: 'success', redemption_id: redemptionId, promotion };
    }
  }
}

/**
 * After a use was counted: record the redemption, or, if that is refused
 * (once per client, no client id), give the use back before refusing, so a
 * refusal leaves nothing written in the shared transaction.
 */
async function recordOrGiveBack(trx: Db, counted: PromotionRow, record: () => Promise<RedemptionResult>): Promise<RedemptionResult> {
  try {
    return await record();
  } catch (error) {
    if (error instanceof PromoError) await releaseUse(trx, counted.row_id);
    throw error;
  }
}

/** The redemption row and its webhook event, in the transaction (savepoint) that counted the use. */
async function recordRedemption(core: Core, trx: Db, set: PromoSet, counted: PromotionRow, terms: PromotionTerms, clientId: string | null, actor: string, options: RedemptionOptions): Promise<RedemptionResult> {
  if (terms.onceperclient && clientId === null) throw clientIdRequired(counted.code);
  const createdAt = nowIso(core);
  const redemptionId = await insertRedemption(trx, {
    set_id: set.id,
    promotion_id: counted.row_id,
    client_id: clientId,
    // The unique (promotion_id, once_key) index is the once-per-client rule, for every instance at once.
    once_key: terms.onceperclient ? clientId : null,
    request_key: options.requestKey ?? null,
    created_by: actor,
    created_at: createdAt,
  });
  if (redemptionId === undefined) throw alreadyRedeemedByClient(counted.code, clientId ?? '');
  const promotion = toWhmcsPromotion(shownId(core, counted), counted.code, counted.uses, terms);
  // The webhook event is written in this transaction (savepoint), so it exists exactly when the use does.
  if (set.webhook_url) await recordEvent(trx, { set, type: 'promotion.redeemed', data: { promotion, redemption_id: redemptionId, client_id: clientId }, createdAt });
  return { result: 'success', redemption_id: redemptionId, promotion };
}

/**
 * With WHMCS connected, tblpromotions.uses is the one counter: WHMCS's
 * checkout increments it too. A two-phase commit across the two databases
 * (whmcs-two-phase.ts has the protocol and its crash repair):
 *  1. promoset's own checks (found, not voided, within its dates), reading only;
 *  2. WHMCS prepares the guarded increment (uses < maxuses) under an XA xid:
 *     refused → used_up; unreachable → 503 billing_unavailable, nothing counted;
 *  3. promoset records the use, the redemption and the decision 'commit' in
 *     its own transaction (re-checking the void atomically);
 *  4. XA COMMIT; XA ROLLBACK if step 3 refused or failed.
 * A crash or cut anywhere leaves WHMCS's change prepared, and repair commits
 * it exactly when step 3 committed. Step 2 runs outside promoset's
 * transaction, so a group commit or a write retry re-running step 3 never
 * counts twice.
 */
async function redeemThroughWhmcs(core: Core, whmcs: WhmcsHandle, set: PromoSet, code: string, clientId: string | null, actor: string, options: RedemptionOptions): Promise<RedemptionResult> {
  const row = await findSetPromotion(core.db, set.id, code);
  if (!row) throw promotionNotFound(code);
  const whmcsId = row.whmcs_id;
  // Issued before WHMCS was connected: promoset's own counter is the only one.
  if (whmcsId == null) return redeemInPromoset(core, set, code, clientId, actor, options);
  const terms = await batchTerms(core, core.db, row.batch_id);
  // Uses are WHMCS's to judge (step 2); here only the void and the dates.
  const reason = refusalReason(terms, 0, row.voided_at !== null, today(core));
  if (reason !== null) throw refusal(reason, row.code, terms);
  if (terms.onceperclient && clientId === null) throw clientIdRequired(row.code);
  let change: PreparedUseChange | undefined;
  try {
    change = await prepareUseChange(whmcs.db, whmcsId, 'count', await newXid(core));
  } catch (error) {
    throw billingUnavailable('the code was not redeemed and no use was counted', error);
  }
  if (change === undefined) throw refusal('used_up', row.code, terms);
  const prepared = change;
  await core.faults?.('redeem.prepared');
  let result: RedemptionResult;
  try {
    result = await inSharedTransaction(core.db, code.toLowerCase(), (trx) => underCommitDecision(core, trx, prepared.xid, async () => {
      const stored = await countWhmcsCountedUse(trx, row.row_id);
      if (!stored) throw refusal('voided', row.code, terms);
      // The reply shows WHMCS's count right after this use; promoset's copy moved by the same one use.
      return recordOrGiveBack(trx, stored, () => recordRedemption(core, trx, set, { ...stored, uses: prepared.uses }, terms, clientId, actor, options));
    }, (redeemed) => redeemed.redemption_id));
  } catch (error) {
    const settled = await settleAfterFailure(core, prepared, error);
    // promoset's COMMIT went through after all (the decision is written in it): the redemption stands, so say so.
    const stands = settled?.decision === 'commit' && settled.redemptionId !== null ? await redemptionResult(core, settled.redemptionId).catch(() => undefined) : undefined;
    if (stands) return stands;
    throw error;
  }
  await core.faults?.('redeem.committed');
  await prepared.commit(); // false: the decision is written, repair commits it
  return result;
}

/**
 * Nothing was counted: say why. Inside the redemption's transaction (or just
 * after its autocommit statement, which wrote nothing for this member); on
 * PostgreSQL a concurrent rollback may have freed a use since, which shows as
 * "no reason", and the count is tried again (a few times, then used up).
 */
async function whyRefused(core: Core, trx: Db, set: PromoSet, code: string, day: string, customer: Customer): Promise<PromoError> {
  // A binding speaks first, as when it was checked before counting.
  const refused = await bindingRefusalOf(trx, set.id, code, customer);
  if (refused) return refused;
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
