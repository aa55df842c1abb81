import { PromoError } from '../domain/errors.js';
import type { PromotionTerms } from '../domain/promotion.js';
import type { CodeFormat } from '../domain/codes.js';
import { inWriteTransaction } from '../store/transactions.js';
import { type Db } from '../store/db.js';
import { countInSpace } from '../store/batches.js';
import { countedWhmcsRowsAfter, deleteBatchesWithCodes, finishWhmcsBatches, listBatchIssued, listPendingBatches, recordWhmcsIds, setUsesByWhmcsId } from '../store/whmcs-bookkeeping.js';
import { type IssuedCode } from '../domain/batch.js';
import type { WhmcsHandle } from '../whmcs/db.js';
import { openWhmcsBatch, WhmcsCodeTaken, type WhmcsBatchWriter } from '../whmcs/batch-writer.js';
import { countWhmcsCodesInSpace, findWhmcsPromotionsByCodes, findTakenCodes, maxWhmcsPromotionId, readUses, usedRowsAfter } from '../whmcs/promotions.js';
import { whmcsWriteDuration } from '../metrics.js';
import { classifyWhmcsError } from '../whmcs/probe.js';
import { whmcsFailureSentence } from './whmcs-connection.js';
import type { Core } from './core.js';
import { recordIssuedAfterBilling } from './webhook-events.js';
import { hasPreparedChanges } from './whmcs-two-phase.js';
import type { GroupSink } from './single-codes.js';

/**
 * The WHMCS sink: every code promoset issues goes into WHMCS's tblpromotions
 * before anyone holds it, all or nothing across the two databases, with no
 * DELETE ever needed in WHMCS (its grants are SELECT, INSERT, UPDATE):
 *
 *  1. promoset commits the batch and its codes, marked 'pending' (hidden from
 *     every listing, export and lookup);
 *  2. one WHMCS transaction takes the codes chunk by chunk, each looked up
 *     (any case) just before it is inserted, and commits — unless the batch
 *     is older than the pending timeout by then. A bulk batch sends each
 *     chunk as soon as promoset has stored it (generate.ts), so both
 *     databases work at once; WHMCS still commits only after promoset;
 *  3. promoset records each code's tblpromotions id and marks the batch done.
 *     A bulk batch records each chunk's ids while the next chunks are being
 *     inserted (WhmcsIdRecorder): the batch is still pending, so nothing shows
 *     them before WHMCS commits; if WHMCS rolls back, they go with the batch.
 *
 * If (2) fails, promoset deletes its pending batch: nothing is kept anywhere.
 * A crash leaves a pending batch; repair (at start-up and periodically), once
 * the batch is twice the timeout old, looks its codes up in WHMCS: there →
 * step 3; absent → delete it on promoset's side.
 *
 * Whether this process may use WHMCS at all is decided before any of this,
 * by the connection promoset's database records (whmcs-connection.ts); codes
 * issued before the connection reach WHMCS through the backfill
 * (whmcs-backfill.ts), which keeps the same guarantees chunk by chunk.
 */

/**
 * `outcome` says what did not happen, for the request at hand (issuing by
 * default). Given the `error`, a refused login, a wrong database or a missing
 * grant is named as such (with what to check) rather than "could not be reached".
 */
export function billingUnavailable(outcome = 'no code was issued and nothing was saved', error?: unknown): PromoError {
  const failure = error === undefined ? undefined : classifyWhmcsError(error);
  const message = failure && failure.state !== 'unreachable'
    ? whmcsFailureSentence(undefined, failure.state, failure.detail, outcome)
    : `The billing system (WHMCS) could not be reached, so ${outcome}. Please try again in a minute.`;
  return new PromoError('billing_unavailable', message, {}, { retryAfterSeconds: 30 });
}

export interface IssuedBatch {
  batchId: number;
  /** When its row was written (ISO): the pending timeout counts from here. */
  createdAt: string;
  terms: PromotionTerms;
  /** promoset's own ids and the codes. */
  codes: IssuedCode[];
}

/**
 * Steps 2 and 3 for batches whose step 1 has committed. Returns each code's
 * tblpromotions id (by lower-cased code). On failure the batches are gone
 * from promoset too and billing_unavailable is thrown.
 */
export async function publishToWhmcs(core: Core, whmcs: WhmcsHandle, batches: IssuedBatch[]): Promise<Map<string, number>> {
  const writer = await openWhmcsWrite(whmcs).catch(() => abandonWhmcsBatches(core, undefined, batches.map((b) => b.batchId)));
  writer.send(batches.flatMap((batch) => batch.codes.map(({ code }) => ({ code, terms: batch.terms }))));
  return commitToWhmcs(core, writer, batches);
}

/** The WHMCS transaction a batch's codes go into (step 2); billing_unavailable when WHMCS cannot be reached. */
export async function openWhmcsWrite(whmcs: WhmcsHandle, recorder?: WhmcsIdRecorder): Promise<WhmcsBatchWriter> {
  try {
    return await openWhmcsBatch(whmcs, recorder?.add);
  } catch (error) {
    throw billingUnavailable(undefined, error);
  }
}

/**
 * The end of step 2, then step 3, once `writer` has been sent every code of
 * `batches` (a code WHMCS already holds fails them all: the caller replaces
 * such codes first when it can). A `recorder` has recorded some ids already.
 */
export async function commitToWhmcs(core: Core, writer: WhmcsBatchWriter, batches: IssuedBatch[], recorder?: WhmcsIdRecorder): Promise<Map<string, number>> {
  const oldest = Math.min(...batches.map((b) => Date.parse(b.createdAt)));
  const timer = whmcsWriteDuration.startTimer();
  let ids: Map<string, number>;
  try {
    const settled = await writer.settle();
    if (settled.taken.length > 0) throw new WhmcsCodeTaken(settled.taken);
    await writer.commit(() => {
      // Past the timeout, repair may already have given up on these batches: do not commit.
      if (core.now().getTime() - oldest > core.whmcsPendingTimeoutMs) throw new Error('WHMCS insert outlived the pending timeout');
    });
    ids = settled.ids;
    timer({ outcome: 'ok' });
  } catch {
    timer({ outcome: 'failed' });
    return abandonWhmcsBatches(core, writer, batches.map((b) => b.batchId));
  }
  const allPairs: [number, number][] = batches.flatMap((batch) => batch.codes.map(({ id, code }): [number, number] => [id, ids.get(code.toLowerCase())!]));
  const pairs = recorder ? await recorder.unrecorded(allPairs) : allPairs;
  try {
    await inWriteTransaction(core.db, async (trx) => {
      await finishWhmcsBatches(trx, batches.map((b) => b.batchId), pairs);
      await recordIssuedAfterBilling(trx, core, batches.map((b) => b.batchId));
    });
  } catch {
    // The codes are in WHMCS but not yet shown by promoset: repair finishes them.
    throw billingUnavailable();
  }
  return ids;
}

/**
 * Step 3's ids for a bulk batch, recorded as WHMCS inserts each chunk (it
 * hands the writer's `onInserted` pairs), once `start` says promoset's batch
 * is committed. Recording 100,000 in step 3 took 160–200 ms after WHMCS was
 * done, with the event loop held; a chunk's takes a few ms while MariaDB
 * inserts the next. What could not be recorded here, step 3 records.
 */
export class WhmcsIdRecorder {
  private waiting: [number, number][] = [];
  private readonly recorded = new Set<number>();
  private started = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Db) {}

  readonly add = (pairs: [number, number][]): void => {
    for (const pair of pairs) this.waiting.push(pair);
    if (this.started) this.write();
  };

  /** promoset's batch is committed: its promotions may be updated now. */
  start(): void {
    this.started = true;
    this.write();
  }

  /** After the writes under way: those of `pairs` not recorded yet. */
  async unrecorded(pairs: [number, number][]): Promise<[number, number][]> {
    await this.writing;
    return pairs.filter(([promotionId]) => !this.recorded.has(promotionId));
  }

  private write(): void {
    this.writing = this.writing.then(async () => {
      if (this.waiting.length === 0) return;
      const pairs = this.waiting;
      this.waiting = [];
      try {
        await inWriteTransaction(this.db, (trx) => recordWhmcsIds(trx, pairs));
        for (const [promotionId] of pairs) this.recorded.add(promotionId);
      } catch {
        // Left to step 3, which records every id not recorded here.
      }
    });
  }
}

/**
 * Give up on batches whose step 1 committed: WHMCS's transaction rolls back
 * and promoset deletes them, so nothing is kept anywhere. Throws `error`.
 */
export async function abandonWhmcsBatches(core: Core, writer: WhmcsBatchWriter | undefined, batchIds: number[], error: unknown = billingUnavailable()): Promise<never> {
  await writer?.rollback();
  await inWriteTransaction(core.db, (trx) => deleteBatchesWithCodes(trx, batchIds)).catch(() => {
    // promoset's own database failed as well: the batches stay pending, and repair removes them.
  });
  throw error;
}

/** Which of `codes` WHMCS already holds (lower-cased): promoset must not generate them. */
export async function takenInWhmcs(whmcs: WhmcsHandle, codes: string[]): Promise<Set<string>> {
  try {
    return await findTakenCodes(whmcs.db, codes);
  } catch (error) {
    throw billingUnavailable(undefined, error);
  }
}

/**
 * WHMCS's part of the feasibility rule: a cheap bound on its rows, and, for a
 * nearly full space, the exact number of its codes there that promoset did
 * not put there itself (those are counted on promoset's side already).
 */
export async function whmcsSpaceUse(whmcs: WhmcsHandle, trx: Db): Promise<{ bound: number; inSpace: (format: CodeFormat) => Promise<number> }> {
  let bound: number;
  try {
    bound = await maxWhmcsPromotionId(whmcs.db);
  } catch (error) {
    throw billingUnavailable(undefined, error);
  }
  return {
    bound,
    inSpace: async (format) => {
      let inWhmcs: number;
      try {
        inWhmcs = await countWhmcsCodesInSpace(whmcs.db, format.prefix, format.length);
      } catch {
        throw billingUnavailable();
      }
      return Math.max(0, inWhmcs - (await countInSpace(trx, format.prefix.toLowerCase(), format.length, { publishedOnly: true })));
    },
  };
}

/** The group commit's sink for single codes (single-codes.ts). */
export function whmcsGroupSink(core: Core, whmcs: WhmcsHandle): GroupSink {
  return {
    taken: (codes) => takenInWhmcs(whmcs, codes),
    spaceUse: (trx) => whmcsSpaceUse(whmcs, trx),
    async publish(members) {
      const ids = await publishToWhmcs(
        core,
        whmcs,
        members.map(({ row, batch }) => ({ batchId: row.batch_id, createdAt: batch.created_at, terms: batch.terms, codes: [{ id: row.row_id, code: row.code }] })),
      );
      return members.map(({ row }) => ({ ...row, shown_id: ids.get(row.code.toLowerCase())! }));
    },
  };
}

export interface RepairReport {
  finished: number;
  removed: number;
}

/**
 * Settle the batches a crash left pending (see the protocol above). Only
 * batches older than twice the pending timeout: a live writer has given up
 * on them by then. Safe to run on several instances at once.
 */
export async function repairPendingBatches(core: Core): Promise<RepairReport> {
  const whmcs = core.whmcs;
  const report: RepairReport = { finished: 0, removed: 0 };
  if (!whmcs) return report;
  const cutoff = new Date(core.now().getTime() - 2 * core.whmcsPendingTimeoutMs).toISOString();
  for (const pending of await listPendingBatches(core.db, cutoff)) {
    const issued = await listBatchIssued(core.db, pending.id);
    const found = await findWhmcsPromotionsByCodes(whmcs.db, issued.map((row) => row.code));
    if (found.size > 0) {
      // WHMCS committed them (one transaction: all or none), so promoset shows them now.
      const pairs = issued.flatMap(({ id, code }): [number, number][] => {
        const row = found.get(code.toLowerCase());
        return row ? [[id, row.id]] : [];
      });
      await inWriteTransaction(core.db, async (trx) => {
        await finishWhmcsBatches(trx, [pending.id], pairs);
        await recordIssuedAfterBilling(trx, core, [pending.id]);
      });
      report.finished++;
    } else {
      await inWriteTransaction(core.db, (trx) => deleteBatchesWithCodes(trx, [pending.id]));
      report.removed++;
    }
  }
  return report;
}

/** Rows per page of the uses sync. */
const SYNC_PAGE = 10_000;

/**
 * Copy WHMCS's `uses` (WHMCS counts them at checkout) onto promoset's
 * promotions, so every listing shows WHMCS's own. Reads only rows with a use,
 * a page at a time, and writes only values that changed.
 */
export async function syncWhmcsUses(core: Core): Promise<number> {
  const whmcs = core.whmcs;
  if (!whmcs) return 0;
  // A redemption or rollback prepared in WHMCS (a crash's, until repair settles it within seconds) reads
  // there as before it: copied, it would undo a use promoset has recorded. The next round copies.
  if (await hasPreparedChanges(core)) return 0;
  let afterId = 0;
  let seen = 0;
  for (;;) {
    const page = await usedRowsAfter(whmcs.db, afterId, SYNC_PAGE);
    if (page.length > 0) {
      await inWriteTransaction(core.db, (trx: Db) => setUsesByWhmcsId(trx, page.map((row) => [row.id, row.uses])));
      seen += page.length;
    }
    if (page.length < SYNC_PAGE) break;
    afterId = page[page.length - 1].id;
  }
  // The other way round: codes promoset counts as used whose WHMCS row has fewer (down to 0, which the pages
  // above never list). Found by the chaos run: a redemption whose commit was cut off was undone in WHMCS while
  // promoset had in fact committed it; WHMCS's count is the true one.
  for (let afterWhmcsId = 0; ;) {
    const counted = await countedWhmcsRowsAfter(core.db, afterWhmcsId, SYNC_PAGE);
    if (counted.length === 0) break;
    const truth = await readUses(whmcs.db, counted.map((row) => row.whmcsId));
    const differing = counted.filter((row) => truth.has(row.whmcsId) && truth.get(row.whmcsId) !== row.uses).map((row): [number, number] => [row.whmcsId, truth.get(row.whmcsId)!]);
    if (differing.length > 0) await inWriteTransaction(core.db, (trx: Db) => setUsesByWhmcsId(trx, differing));
    seen += differing.length;
    if (counted.length < SYNC_PAGE) break;
    afterWhmcsId = counted[counted.length - 1].whmcsId;
  }
  return seen;
}
