import { addDays } from '../domain/dates.js';
import { PromoError } from '../domain/errors.js';
import type { PromotionTerms } from '../domain/promotion.js';
import { inWriteTransaction } from '../store/transactions.js';
import { finishWhmcsBatches } from '../store/whmcs-bookkeeping.js';
import {
  countUnpublishedPromotions, listUnpublishedPromotions, markBatchesPublished, readBackfillJournal, readPromotionUses, recordWhmcsConnectionEvent, writeBackfillJournal,
  type UnpublishedPromotion,
} from '../store/whmcs-connection.js';
import { withWhmcsLock } from '../whmcs/lock.js';
import { classifyWhmcsError } from '../whmcs/probe.js';
import { openWhmcsBatch, WHMCS_CHUNK } from '../whmcs/batch-writer.js';
import { addWhmcsUses, findWhmcsPromotionsByCodes } from '../whmcs/promotions.js';
import { nowIso, today, type Core } from './core.js';
import { batchTerms } from './redemptions.js';
import { assertBillingReady, whmcsFailureSentence } from './whmcs-connection.js';

/**
 * `promoset whmcs backfill`: every promotion WHMCS does not hold yet (issued
 * before the connection, or before a reconnect) goes into tblpromotions, a
 * chunk of WHMCS_CHUNK at a time, with the issuing protocol's guarantees
 * (billing.ts): nothing is shown half-written, and a crash anywhere leaves
 * both databases so that running it again finishes the work.
 *
 * Per chunk (promotions in id order, without a tblpromotions id):
 *  1. look the codes up in WHMCS, any letter case. A code WHMCS already holds
 *     is not written again: the promotion adopts that row's id, and it is
 *     reported (an admin made it by hand, or an earlier connection wrote it);
 *  2. promoset records the chunk (its id range and the codes WHMCS already
 *     held) in whmcs_connection's backfill_* columns: the journal;
 *  3. one WHMCS transaction inserts the others, with promoset's uses (so a
 *     used-up code stays used up) and, for a voided code, yesterday's
 *     expiration date (as voiding writes it), and commits;
 *  4. promoset records every id, marks fully written batches done and clears
 *     the journal, in one transaction.
 * A crash between 3 and 4 leaves rows in WHMCS that promoset has not
 * recorded: the rerun finds them in step 1, and the journal tells them from
 * codes WHMCS held before, so they are adopted silently, not reported.
 *
 * One backfill at a time: a MariaDB named lock (whmcs/lock.ts), released by
 * the server when its connection ends, so kill -9 never leaves it behind; a
 * second backfill meanwhile is refused at once with a sentence.
 */

export interface BackfillProgress {
  done: number;
  total: number;
}

export interface BackfillReport {
  /** Rows inserted into tblpromotions by this run (and by an interrupted run whose chunk this run finished). */
  written: number;
  /** Codes WHMCS already held (any letter case): not written, their promotions now show that row's id. */
  alreadyHeld: string[];
  /** How many promotions were not in WHMCS when this run started. */
  total: number;
}

/** Codes listed by name in a report; the count covers the rest. */
const HELD_LISTED = 50;

export async function backfillWhmcs(core: Core, actor: string, onProgress?: (progress: BackfillProgress) => void): Promise<BackfillReport> {
  const whmcs = core.whmcs;
  if (!whmcs) throw new PromoError('bad_request', 'WHMCS_DATABASE_URL is not set, so there is no WHMCS to backfill: set it to the WHMCS database promoset is connected to.');
  await assertBillingReady(core, 'nothing was written');
  const target = core.whmcsLink.target!;
  const stopped = (error: unknown, written: number, total: number): PromoError => {
    if (error instanceof PromoError) return error;
    const failure = classifyWhmcsError(error);
    return new PromoError('billing_unavailable', whmcsFailureSentence(core, failure.state, failure.detail, `the backfill stopped after ${written.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} codes; nothing is half-written, and running it again continues where it stopped`), {}, { retryAfterSeconds: 30 });
  };
  let locked;
  try {
    locked = await withWhmcsLock(whmcs.db, `promoset_backfill:${target.database}`.slice(0, 64), async (stillHeld) => {
      const total = await countUnpublishedPromotions(core.db);
      const report: BackfillReport = { written: 0, alreadyHeld: [], total };
      onProgress?.({ done: 0, total });
      const termsCache = new Map<number, PromotionTerms>();
      const termsOf = async (batchId: number) => {
        let terms = termsCache.get(batchId);
        if (!terms) termsCache.set(batchId, (terms = await batchTerms(core, core.db, batchId)));
        return terms;
      };
      const yesterday = addDays(today(core), -1);
      let afterId = 0;
      let done = 0;
      try {
        for (;;) {
          const chunk = await listUnpublishedPromotions(core.db, afterId, WHMCS_CHUNK);
          if (chunk.length === 0) break;
          afterId = chunk[chunk.length - 1].id;
          const result = await backfillChunk(core, chunk, termsOf, yesterday, stillHeld);
          report.written += result.written;
          report.alreadyHeld.push(...result.alreadyHeld);
          done += chunk.length;
          onProgress?.({ done: Math.min(done, total), total: Math.max(total, done) });
        }
      } catch (error) {
        throw stopped(error, report.written, total);
      }
      if (report.written + report.alreadyHeld.length > 0) {
        await inWriteTransaction(core.db, (trx) =>
          recordWhmcsConnectionEvent(trx, {
            action: 'backfilled', actor, created_at: nowIso(core),
            detail: { written: report.written, already_held: report.alreadyHeld.length, codes_already_held: report.alreadyHeld.slice(0, HELD_LISTED) },
          }),
        );
      }
      return report;
    });
  } catch (error) {
    throw stopped(error, 0, 0);
  }
  if (!locked.ran) {
    throw new PromoError('conflict', 'Another "promoset whmcs backfill" is running against this WHMCS database right now, so this one wrote nothing: wait for it to finish (it shows its progress), then run this again if codes are left.');
  }
  return locked.value;
}

async function backfillChunk(
  core: Core, chunk: UnpublishedPromotion[], termsOf: (batchId: number) => Promise<PromotionTerms>, yesterday: string, stillHeld: () => Promise<boolean>,
): Promise<{ written: number; alreadyHeld: string[] }> {
  const whmcs = core.whmcs!;
  // 1. What WHMCS holds already: from an interrupted run of ours (the journal says), or from before.
  const journal = await readBackfillJournal(core.db);
  const found = await findWhmcsPromotionsByCodes(whmcs.db, chunk.map((p) => p.code));
  const heldBefore = new Set(journal?.held);
  const fromEarlierRun = (p: UnpublishedPromotion) => journal !== undefined && p.id >= journal.from && p.id <= journal.to && !heldBefore.has(p.code.toLowerCase());
  const held = chunk.filter((p) => found.has(p.code.toLowerCase()));
  const alreadyHeld = held.filter((p) => !fromEarlierRun(p));
  const free = chunk.filter((p) => !found.has(p.code.toLowerCase()));
  // 2. The journal, before WHMCS commits anything of this chunk.
  await inWriteTransaction(core.db, (trx) => writeBackfillJournal(trx, { from: chunk[0].id, to: chunk[chunk.length - 1].id, held: alreadyHeld.map((p) => p.code.toLowerCase()) }));
  // 3. One WHMCS transaction for the rest.
  const ids = new Map<string, number>();
  for (const p of held) ids.set(p.code.toLowerCase(), found.get(p.code.toLowerCase())!.id);
  let written = held.length - alreadyHeld.length; // rows the interrupted run wrote, finished now
  if (free.length > 0) {
    const items = await Promise.all(free.map(async (p) => {
      const terms = await termsOf(p.batch_id);
      return { code: p.code, terms: p.voided ? { ...terms, expirationdate: yesterday } : terms, uses: p.uses };
    }));
    const writer = await openWhmcsBatch(whmcs);
    try {
      writer.send(items);
      const settled = await writer.settle();
      // Made by hand in WHMCS since the lookup: not written twice; adopted below.
      if (settled.taken.length > 0) {
        for (const [code, row] of await findWhmcsPromotionsByCodes(whmcs.db, settled.taken)) ids.set(code, row.id);
        const taken = new Set(settled.taken.map((t) => t.toLowerCase()));
        alreadyHeld.push(...free.filter((p) => taken.has(p.code.toLowerCase())));
      }
      if (!(await stillHeld())) throw new Error('the backfill lock was lost');
      await writer.commit();
      for (const [code, id] of settled.ids) ids.set(code, id);
      written += settled.ids.size;
    } catch (error) {
      await writer.rollback();
      throw error;
    }
  }
  // 4. promoset records the ids: every promotion of the chunk now shows its tblpromotions id.
  const pairs: [number, number][] = chunk.flatMap((p): [number, number][] => {
    const id = ids.get(p.code.toLowerCase());
    return id === undefined ? [] : [[p.id, id]];
  });
  const writtenUses = new Map(free.map((p) => [p.id, p.uses]));
  const moved = await inWriteTransaction(core.db, async (trx) => {
    await finishWhmcsBatches(trx, [], pairs);
    await markBatchesPublished(trx, [...new Set(chunk.map((p) => p.batch_id))]);
    await writeBackfillJournal(trx, undefined);
    // Redeemed in promoset while the row was on its way: WHMCS gets those uses too (below).
    const now = await readPromotionUses(trx, [...writtenUses.keys()]);
    return [...now].flatMap(([id, uses]): [number, number][] => (uses !== writtenUses.get(id) ? [[id, uses - writtenUses.get(id)!]] : []));
  });
  const whmcsIdOf = new Map(pairs);
  for (const [id, delta] of moved) await addWhmcsUses(whmcs.db, whmcsIdOf.get(id)!, delta);
  return { written, alreadyHeld: alreadyHeld.map((p) => p.code) };
}
