import { assertAsciiCode } from '../domain/codes.js';
import { PromoError } from '../domain/errors.js';
import { toWhmcsPromotion, type WhmcsPromotion } from '../domain/promotion.js';
import { insertAuditEvent } from '../store/audit.js';
import { inWriteTransaction } from '../store/transactions.js';
import { type Db } from '../store/db.js';
import { insertEvents, outboxRow } from '../store/outbox.js';
import type { PromotionRow } from '../store/promotions.js';
import { findSetById } from '../store/sets.js';
import { findPromotionsByCodes } from '../store/promotions.js';
import { listBatchWhmcsIds } from '../store/whmcs-bookkeeping.js';
import { setBatchVoided, setVoided } from '../store/voiding.js';
import { nowIso, today, type Core } from './core.js';
import { addDays } from '../domain/dates.js';
import { setWhmcsDates } from '../whmcs/promotions.js';
import { billingUnavailable } from './billing.js';
import { assertBillingReady, shownId } from './whmcs-connection.js';
import { getBatch } from './promotions.js';
import { recordBatchVoidEvent } from './webhook-events.js';
import { batchTerms } from './redemptions.js';

/**
 * Void and restore: staff switch codes off (a leaked code, a cancelled
 * campaign) and back on. A voided code is refused by validate and redeem
 * (the redemption's conditional UPDATE checks voided_at in the same statement).
 * Every change is in the audit trail of the code's set.
 */

export interface VoidedPromotion {
  promotion: WhmcsPromotion;
  set_id: number;
  voided: boolean;
  /** False when it already was in the asked state (voiding twice is harmless). */
  changed: boolean;
}

/** At most this many codes are named in one audit entry (the count is always exact). */
const AUDIT_CODES = 100;

/**
 * Void (or, with `restore`, unvoid) promotions by code, any letter case.
 * All named codes must exist (in `setId`, when given) or nothing changes.
 */
export async function voidPromotions(core: Core, codes: string[], actor: string, options: { restore?: boolean; setId?: number } = {}): Promise<VoidedPromotion[]> {
  const wanted = codes.map((c) => assertAsciiCode(c).trim()).filter((c) => c !== '');
  if (wanted.length === 0) throw new PromoError('bad_request', `Name at least one code to ${options.restore ? 'unvoid' : 'void'}.`);
  await assertBillingReady(core, `nothing was ${options.restore ? 'restored' : 'voided'}`);
  const found = await findPromotionsByCodes(core.db, wanted);
  // In the order the codes were named, so a person reads the answer against the list they gave.
  const order = new Map(wanted.map((c, i) => [c.toLowerCase(), i] as const).reverse());
  const inScope = found.filter((row) => options.setId === undefined || row.set_id === options.setId).sort((a, b) => (order.get(a.code.toLowerCase()) ?? 0) - (order.get(b.code.toLowerCase()) ?? 0));
  const known = new Set(inScope.map((row) => row.code.toLowerCase()));
  const missing = wanted.filter((c) => !known.has(c.toLowerCase()));
  if (missing.length > 0) {
    const where = options.setId === undefined ? '' : ' in this set';
    throw new PromoError('promotion_not_found', `There is no promotion ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (and ${missing.length - 5} more)` : ''}${where}; nothing was changed. Check the codes for typos.`);
  }
  const now = nowIso(core);
  const voidedAt = options.restore ? null : now;
  const restore = !!options.restore;
  // WHMCS's dates move first, before promoset's transaction takes any lock (whmcsBeforePromoset), for every named
  // code (not only the changed ones), so repeating a command settles WHMCS after a crash between the two commits.
  // WHMCS unreachable → nothing changes anywhere. If promoset then fails, the rows it would have changed move back.
  const wouldChange = inScope.filter((row) => (row.voided_at === null) !== restore);
  await moveWhmcsDates(core, core.db, inScope, restore);
  const changed = await withWhmcsUndo(core, wouldChange, !restore, () => inWriteTransaction(core.db, async (trx) => {
    const ids = new Set(await setVoided(trx, inScope.map((row) => row.row_id), voidedAt));
    const bySet = new Map<number, string[]>();
    for (const row of inScope) if (ids.has(row.row_id)) bySet.set(row.set_id, [...(bySet.get(row.set_id) ?? []), row.code]);
    for (const [setId, setCodes] of bySet) {
      await insertAuditEvent(trx, { set_id: setId, action: options.restore ? 'unvoided' : 'voided', actor, detail: { codes: setCodes.slice(0, AUDIT_CODES), count: setCodes.length }, created_at: now });
    }
    // A `promotion.voided` / `promotion.unvoided` webhook event per changed code, in this transaction.
    // With WHMCS connected, its expirationdate moves to yesterday here (restored from the batch's terms on unvoid).
    await recordVoidEvents(core, trx, inScope.filter((row) => ids.has(row.row_id)), !!options.restore, now);
    return ids;
  }));
  return Promise.all(
    inScope.map(async (row) => ({
      promotion: toWhmcsPromotion(shownId(core, row), row.code, row.uses, await batchTerms(core, core.db, row.batch_id)),
      set_id: row.set_id,
      voided: !options.restore,
      changed: changed.has(row.row_id),
    })),
  );
}

/** Outbox rows per INSERT for a batch's events. */
const EVENT_PAGE = 1000;

async function webhookUrlOf(db: Db, setId: number): Promise<string | null> {
  return (await findSetById(db, setId))?.webhook_url ?? null;
}

/** One event per changed promotion, for the sets that have a webhook_url (others cost one lookup per set). */
async function recordVoidEvents(core: Core, trx: Db, rows: PromotionRow[], restore: boolean, now: string): Promise<void> {
  const hooked = new Map<number, boolean>();
  const events = [];
  for (const row of rows) {
    if (!hooked.has(row.set_id)) hooked.set(row.set_id, (await webhookUrlOf(trx, row.set_id)) !== null);
    if (!hooked.get(row.set_id)) continue;
    const promotion = toWhmcsPromotion(shownId(core, row), row.code, row.uses, await batchTerms(core, trx, row.batch_id));
    events.push(outboxRow(row.set_id, restore ? 'promotion.unvoided' : 'promotion.voided', { promotion }, now));
  }
  for (let i = 0; i < events.length; i += EVENT_PAGE) await insertEvents(trx, events.slice(i, i + EVENT_PAGE));
}

type WhmcsDated = Pick<PromotionRow, 'whmcs_id' | 'batch_id'>;

/**
 * WHMCS's side of a void: the expiration date moves to yesterday (in
 * PROMO_TIMEZONE), which WHMCS's checkout refuses; restoring puts the batch's
 * terms' dates back ('0000-00-00' for none). Rows without a tblpromotions id
 * (issued before WHMCS was connected) have nothing there to move.
 */
async function moveWhmcsDates(core: Core, trx: Db, rows: WhmcsDated[], restore: boolean): Promise<void> {
  const whmcs = core.whmcs;
  const held = rows.filter((row) => row.whmcs_id != null);
  if (!whmcs || held.length === 0) return;
  const byBatch = new Map<number, number[]>();
  for (const row of held) byBatch.set(row.batch_id, [...(byBatch.get(row.batch_id) ?? []), row.whmcs_id!]);
  const targets: { ids: number[]; dates: { startdate?: string; expirationdate: string } }[] = [];
  if (restore) {
    for (const [batchId, ids] of byBatch) {
      const terms = await batchTerms(core, trx, batchId);
      targets.push({ ids, dates: { startdate: terms.startdate, expirationdate: terms.expirationdate } });
    }
  } else {
    targets.push({ ids: held.map((row) => row.whmcs_id!), dates: { expirationdate: addDays(today(core), -1) } });
  }
  try {
    for (const { ids, dates } of targets) await setWhmcsDates(whmcs.db, ids, dates);
  } catch (error) {
    throw billingUnavailable(`nothing was ${restore ? 'restored' : 'voided'}`, error);
  }
}

/**
 * Run a void's promoset transaction after WHMCS's dates moved; if it fails,
 * move back the dates of the rows whose promoset state it would have changed.
 * (A crash in between is settled by repeating the same command.)
 *
 * whmcsBeforePromoset: WHMCS's UPDATE runs before promoset's transaction, never
 * inside it. A redemption holds its WHMCS row prepared (XA) while it waits for
 * promoset's row; a void holding promoset's row while it waited for WHMCS's was
 * a deadlock across the two databases that neither sees, broken only by the
 * 10 s WHMCS lock wait, with a 503 (found by the chaos run). Now the void only
 * waits for the redemption to finish.
 */
async function withWhmcsUndo<T>(core: Core, moved: WhmcsDated[], voiding: boolean, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (moved.length > 0) await moveWhmcsDates(core, core.db, moved, voiding).catch(() => {});
    throw error;
  }
}

export interface BatchVoidResult {
  batch_id: number;
  set_id: number;
  /** Codes whose state changed (already voided ones are not counted again). */
  count: number;
  voided: boolean;
}

/** Void (or restore) every code of a batch in one UPDATE, however many: 100,000 codes is one statement. */
export async function voidBatch(core: Core, batchId: number, actor: string, options: { restore?: boolean; setId?: number } = {}): Promise<BatchVoidResult> {
  const batch = await getBatch(core, batchId, options.setId);
  await assertBillingReady(core, `nothing was ${options.restore ? 'restored' : 'voided'}`);
  const now = nowIso(core);
  const restore = !!options.restore;
  // With WHMCS connected, the batch's rows there move first (whmcsBeforePromoset): by id range, one UPDATE for a
  // bulk batch's consecutive ids.
  const inWhmcs = core.whmcs ? await listBatchWhmcsIds(core.db, batch.id) : [];
  await moveWhmcsDates(core, core.db, inWhmcs.map(({ whmcsId }) => ({ whmcs_id: whmcsId, batch_id: batch.id })), restore);
  const wouldChange = inWhmcs.filter(({ voided }) => voided === restore).map(({ whmcsId }) => ({ whmcs_id: whmcsId, batch_id: batch.id }));
  const count = await withWhmcsUndo(core, wouldChange, !restore, () => inWriteTransaction(core.db, async (trx) => {
    const n = await setBatchVoided(trx, batch.id, options.restore ? null : now);
    await insertAuditEvent(trx, { set_id: batch.set_id, action: options.restore ? 'unvoided' : 'voided', actor, detail: { batch_id: batch.id, count: n }, created_at: now });
    // One `batch.voided` / `batch.unvoided` event for the whole batch (never one per code: a 100,000-code
    // void must not bury every other event), pointing at the batch CSV. Only when codes changed.
    if (n > 0) await recordBatchVoidEvent(trx, core, batch.set_id, batch.id, n, restore, now);
    return n;
  }));
  return { batch_id: batch.id, set_id: batch.set_id, count, voided: !options.restore };
}
