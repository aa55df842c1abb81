/**
 * Issuing a batch, from request to committed codes: feasibility, drawing,
 * inserting, WHMCS, bindings and the outbox event. One file over 300 lines on
 * purpose: each step hands the next its transaction and its codes, and the
 * all-or-nothing protocol reads best in one place.
 */
import { assertFeasible, codeGenerator, codeSpace, numberedCodeSource, type CodeFormat } from '../domain/codes.js';
import { bindingOf, type Binding } from '../domain/binding.js';
import { PromoError } from '../domain/errors.js';
import { bindingsOfBatchCodes, insertBindings } from '../store/bindings.js';
import { parseBulkRequest, parseOverrides, promotionTerms, toWhmcsPromotion, type BulkRequest, type PromotionTerms, type WhmcsPromotion } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import { codesIssued, sourceOfActor } from '../metrics.js';
import { inWriteTransaction } from '../store/transactions.js';
import { isPostgres, type Db } from '../store/db.js';
import { copyCodes, insertCodes, maxPromotionId } from '../store/promotion-inserts.js';
import { countInSpace, insertBatch } from '../store/batches.js';
import { deleteBatchCodes, lockPendingBatch, markBatchesPending } from '../store/whmcs-bookkeeping.js';
import { type IssuedCode } from '../domain/batch.js';
import { lockCodeSpace } from '../store/code-spaces.js';
import type { WhmcsHandle } from '../whmcs/db.js';
import type { WhmcsBatchWriter } from '../whmcs/batch-writer.js';
import { abandonWhmcsBatches, commitToWhmcs, openWhmcsWrite, whmcsGroupSink, whmcsSpaceUse, WhmcsIdRecorder, type IssuedBatch } from './billing.js';
import { nowIso, today, type Core } from './core.js';
import { assertOwnsSpace } from './code-spaces.js';
import { setArchived } from './sets.js';
import { issueSingleCode } from './single-codes.js';
import { assertBillingReady } from './whmcs-connection.js';
import { recordBatchIssued, singleIssuedRow } from './webhook-events.js';

/** Rows per INSERT: well under SQLite's and PostgreSQL's bound-parameter limits (3 per row). */
const CHUNK = 2000;
/** Rounds of regenerating collided codes before giving up; feasibility makes even two rare. */
const MAX_COLLISION_ROUNDS = 25;

export interface GenerationResult {
  batchId: number;
  count: number;
  terms: PromotionTerms;
  /** The codes as stored by promoset, in id order: callers answer with them without reading the batch back. */
  issued: IssuedCode[];
  /** The customer of each of `issued` (same order), when the codes are bound. */
  bindings: Binding[] | null;
  /**
   * With WHMCS: each of `issued`'s tblpromotions id (same order), the id replies show; null
   * when the batch's codes are bound (callers then read the batch back, bindings and all).
   */
  whmcsIds: number[] | null;
}

export type Progress = (done: number, total: number) => void;

export interface GenerationOptions {
  onProgress?: Progress;
  /**
   * Names the request this generation answers (an Idempotency-Key claim). It
   * is stored on the batch in the same transaction, so a retry can find the
   * batch even if the process died right after COMMIT.
   */
  requestKey?: string;
}

/**
 * One promotion, now: seed 001's POST. `input` holds its optional fields, raw.
 * Everything that can refuse this request is decided here, before it joins
 * the group commit (single-codes.ts), which then writes it with its own batch row.
 * `setMayBeStale`: `set` came from a cache; the code is issued only if the
 * stored set still equals it (else set_changed, and nothing is written).
 */
export async function generatePromotion(core: Core, set: PromoSet, input: Record<string, unknown>, actor: string, options: Pick<GenerationOptions, 'requestKey'> & { setMayBeStale?: boolean } = {}): Promise<WhmcsPromotion> {
  const overrides = parseOverrides(input);
  if (set.archived_at !== null) throw setArchived(set);
  // Both gates answer without a promise in the usual case; nothing to wait for then.
  const ready = assertBillingReady(core, 'no code was issued');
  if (ready) await ready;
  const terms = promotionTerms(set, overrides, today(core));
  const format: CodeFormat = { prefix: overrides.name ?? set.code_prefix, length: set.code_length, alphabet: set.code_alphabet };
  const owned = assertOwnsSpace(core, set, format);
  if (owned) await owned;
  const binding = bindingOf(overrides);
  const row = await issueSingleCode(core.db, {
    expectedSet: options.setMayBeStale ? set : undefined,
    format,
    binding: binding ?? undefined,
    batch: {
      set_id: set.id, kind: 'single', count: 1, prefix_key: format.prefix.toLowerCase(), code_length: format.length,
      code_alphabet: format.alphabet, created_by: actor, created_at: nowIso(core), request_key: options.requestKey ?? null, terms,
    },
    // Only sets with a webhook pay for the event (one more row in the group's transaction).
    // With WHMCS, the event waits for WHMCS to hold the code (billing.ts).
    issuedEvent: set.webhook_url && !core.whmcs ? (stored) => singleIssuedRow(core, set, stored.batch_id, toWhmcsPromotion(stored.shown_id, stored.code, stored.uses, terms)) : undefined,
  }, core.whmcs && whmcsGroupSink(core, core.whmcs));
  codesIssued.inc({ source: sourceOfActor(actor, false) });
  return toWhmcsPromotion(row.shown_id, row.code, row.uses, terms);
}

/** Many promotions in one transaction: all of them or none. `input` holds the bulk fields, raw. */
export async function generatePromotions(core: Core, set: PromoSet, input: Record<string, unknown> | BulkRequest, actor: string, options: GenerationOptions = {}): Promise<GenerationResult> {
  const { request, terms, format } = await prepareBulk(core, set, input);
  const amount = request.amount;
  const whmcs = core.whmcs;
  const createdAt = nowIso(core);
  const onProgress = monotonic(options.onProgress);
  const freshCodes = uniqueCodeSource(format);
  // With WHMCS, its transaction takes each chunk as soon as promoset has stored it, so both databases work at once.
  let writer: WhmcsBatchWriter | undefined;
  let recorder: WhmcsIdRecorder | undefined;
  let stored: { batchId: number; issued: IssuedCode[] };
  try {
    // On PostgreSQL this body may run again after a deadlock (inWriteTransaction): it keeps nothing between runs.
    stored = await inWriteTransaction(core.db, async (trx) => {
      await writer?.rollback(); // a rerun starts over in WHMCS too
      // One recorder per attempt: ids from a rolled-back attempt's chunks are never recorded.
      recorder = whmcs && new WhmcsIdRecorder(core.db);
      const attemptWriter = whmcs && (await openWhmcsWrite(whmcs, recorder));
      writer = attemptWriter;
      // The batch row is written first, so on SQLite this transaction holds the write lock from here on.
      const id = await insertBatch(trx, {
        set_id: set.id, kind: 'bulk', count: amount, prefix_key: format.prefix.toLowerCase(), code_length: format.length,
        code_alphabet: format.alphabet, created_by: actor, created_at: createdAt, request_key: options.requestKey ?? null, terms,
      });
      // Checked again under the write lock (and, on PostgreSQL, the space's own lock): another writer may have used the space meanwhile.
      if (isPostgres(trx)) await lockCodeSpace(trx, format.prefix.toLowerCase(), format.length);
      const storedBound = await checkFeasible(trx, format, amount, amount, whmcs);
      const onStored = attemptWriter && ((rows: IssuedCode[]) => attemptWriter.send(rows.map((row) => ({ code: row.code, terms, promotionId: row.id }))));
      const codes = await insertUniqueCodes(trx, set.id, id, freshCodes, amount, { expectedCollisions: (amount * storedBound) / codeSpace(format), onProgress, onStored });
      // Bound in the transaction that issues them: no moment exists where a bound code is stored unbound.
      const bindings = request.bindings;
      if (bindings) await insertBindings(trx, set.id, codes.map((row, i) => ({ promotionId: row.id, binding: bindings[i] })), createdAt);
      if (whmcs) await markBatchesPending(trx, [id]);
      // With WHMCS, the event waits for WHMCS to hold the codes (billing.ts).
      if (!whmcs) await recordBatchIssued(trx, core, set, id, amount, terms);
      return { batchId: id, issued: codes };
    });
  } catch (error) {
    await writer?.rollback();
    throw error;
  }
  const { batchId } = stored;
  recorder?.start();
  const published = writer ? await publishBulk(core, writer, recorder, set, { batchId, createdAt, terms }, freshCodes, stored.issued) : undefined;
  const issued = published?.issued ?? stored.issued;
  codesIssued.inc({ source: sourceOfActor(actor, true) }, amount);
  // publishBulk may have replaced codes (their bindings moved with them): the order of `issued` then no longer matches the request's.
  const whmcsIds = published && !request.bindings ? issued.map((row) => published.ids.get(row.code.toLowerCase())!) : null;
  return { batchId, count: amount, terms, issued, bindings: writer ? null : request.bindings, whmcsIds };
}

/**
 * Steps 2 and 3 of the WHMCS protocol (billing.ts) for a bulk batch whose
 * codes went to `writer` as they were stored. A code WHMCS already held (an
 * admin made it by hand, in any letter case) is replaced in the
 * still-pending batch by a fresh one, which goes to WHMCS too, until none is
 * left. Returns the batch's codes as finally issued, in id order, and their
 * tblpromotions ids (by lower-cased code).
 */
async function publishBulk(
  core: Core, writer: WhmcsBatchWriter, recorder: WhmcsIdRecorder | undefined, set: PromoSet, batch: Omit<IssuedBatch, 'codes'>, freshCodes: CodeSource, issued: IssuedCode[],
): Promise<{ issued: IssuedCode[]; ids: Map<string, number> }> {
  for (let round = 0; ; round++) {
    let taken: string[];
    try {
      ({ taken } = await writer.settle());
    } catch {
      return abandonWhmcsBatches(core, writer, [batch.batchId]);
    }
    if (taken.length === 0) break;
    if (round === MAX_COLLISION_ROUNDS) return abandonWhmcsBatches(core, writer, [batch.batchId], noUnusedCodes());
    let replacements: IssuedCode[];
    try {
      replacements = await inWriteTransaction(core.db, async (trx) => {
        // No foreign key guards promotions (migration 018): the batch must still be there, and stay.
        if (!(await lockPendingBatch(trx, batch.batchId))) throw new Error(`batch ${batch.batchId} is no longer pending`);
        // A replaced code's customer goes to the code that replaces it.
        const moved = await bindingsOfBatchCodes(trx, batch.batchId, taken);
        await deleteBatchCodes(trx, batch.batchId, taken);
        const fresh = await insertUniqueCodes(trx, set.id, batch.batchId, freshCodes, taken.length, {});
        const bindings = taken.flatMap((code) => moved.get(code.toLowerCase()) ?? []);
        if (bindings.length > 0) await insertBindings(trx, set.id, bindings.map((binding, i) => ({ promotionId: fresh[i].id, binding })), batch.createdAt);
        return fresh;
      });
    } catch (error) {
      return abandonWhmcsBatches(core, writer, [batch.batchId], error);
    }
    // Sent only once promoset has committed them: a rerun of that transaction sends nothing twice.
    writer.send(replacements.map((row) => ({ code: row.code, terms: batch.terms, promotionId: row.id })));
    const gone = new Set(taken);
    issued = issued.filter((row) => !gone.has(row.code)).concat(replacements);
  }
  const ids = await commitToWhmcs(core, writer, [{ ...batch, codes: issued }], recorder);
  return { issued, ids };
}

/** Progress that never goes backwards, though a retried transaction starts counting again. */
function monotonic(onProgress: Progress | undefined): Progress | undefined {
  if (!onProgress) return undefined;
  let reported = -1;
  return (done, total) => {
    if (done <= reported) return;
    reported = done;
    onProgress(done, total);
  };
}

/**
 * Every check a bulk request must pass, without writing anything. Slack
 * answers its modal with these errors inline (within its 3 seconds) and only
 * then starts the batch, which runs them again.
 */
export async function checkGenerationRequest(core: Core, set: PromoSet, input: Record<string, unknown>): Promise<BulkRequest> {
  return (await prepareBulk(core, set, input)).request;
}

async function prepareBulk(core: Core, set: PromoSet, input: Record<string, unknown> | BulkRequest): Promise<{ request: BulkRequest; terms: PromotionTerms; format: CodeFormat }> {
  const request = 'overrides' in input && 'format' in input ? (input as BulkRequest) : parseBulkRequest(input);
  if (set.archived_at !== null) throw setArchived(set);
  await assertBillingReady(core, 'no code was issued');
  const terms = promotionTerms(set, request.overrides, today(core));
  const format: CodeFormat = {
    prefix: request.format.prefix ?? set.code_prefix,
    length: request.format.length ?? set.code_length,
    alphabet: request.format.alphabet ?? set.code_alphabet,
  };
  await assertOwnsSpace(core, set, format);
  await checkFeasible(core.db, format, request.amount, 0, core.whmcs);
  return { request, terms, format };
}

/**
 * The feasibility rule, cheaply: the total number of promotions ever stored
 * bounds how many can be in this code space, so when the space dwarfs even
 * that, the exact count (a sum over batches) is skipped. `ownBatch` is the
 * amount already counted for the caller's own batch row.
 */
async function checkFeasible(db: Db, format: CodeFormat, amount: number, ownBatch: number, whmcs?: WhmcsHandle): Promise<number> {
  // WHMCS's own rows (admins add codes by hand) use up the space too.
  const whmcsUse = whmcs && (await whmcsSpaceUse(whmcs, db));
  const storedBound = (await maxPromotionId(db)) + (whmcsUse?.bound ?? 0);
  if (codeSpace(format) - storedBound >= 2 * amount) return storedBound;
  const inWhmcs = whmcsUse ? await whmcsUse.inSpace(format) : 0;
  assertFeasible(format, amount, (await countInSpace(db, format.prefix.toLowerCase(), format.length)) - ownBatch + inWhmcs);
  return storedBound;
}

/**
 * Below these odds of a collision with a stored code, PostgreSQL takes the
 * batch in one COPY; above, a failed COPY would too often be wasted work.
 */
const COPY_COLLISION_ODDS = 0.05;

/**
 * Fresh random codes of one format, in plain string order (see
 * insertUniqueCodes for why): never the same one twice per batch, so a code
 * that collided is not tried again.
 */
type CodeSource = ((n: number) => Promise<string[]>) & { numbered?: boolean };

/**
 * Numbered codes where the space allows (every format but long ones), else
 * sorted strings. Drawing and sorting 100,000 numbers is one short step;
 * rendering them as strings took 40–110 ms in one go (each Slack ack of the
 * instance waited for it), so it goes a slice at a time.
 */
function uniqueCodeSource(format: CodeFormat): CodeSource {
  const numbered = numberedCodeSource(format);
  if (!numbered) return stringCodeSource(format);
  const codes = async (amount: number) => {
    const indexes = numbered.draw(amount);
    const rendered: string[] = new Array(indexes.length);
    for (let i = 0; i < indexes.length; i++) {
      if (i > 0 && i % SLICE === 0) await yieldToEventLoop();
      rendered[i] = numbered.render(indexes[i]);
    }
    return rendered;
  };
  return Object.assign(codes, { numbered: true });
}

/** Codes per slice of generating or sorting: a few milliseconds of the event loop each. */
const SLICE = 5000;

/**
 * Long codes, whose space a double cannot number: strings from codeGenerator,
 * without holding the event loop (making and sorting 100,000 in one go took
 * ~100 ms, which every Slack ack and health check of the instance waited for).
 * Codes are dealt into buckets by their first random character as they are
 * made, a slice at a time; all share the batch's prefix, so bucket order is
 * sort order, and each bucket is sorted on its own. The loop gets a turn
 * between slices.
 */
function stringCodeSource(format: CodeFormat): CodeSource {
  const nextCode = codeGenerator(format);
  // Every code of the batch has the same prefix and an upper-case random part, so codes
  // that are equal ignoring case are equal outright: no lower-casing per code.
  const seen = new Set<string>();
  const randomStart = format.prefix ? format.prefix.length + 1 : 0;
  return async (amount) => {
    const buckets: string[][] = [];
    for (let made = 0; made < amount; made += SLICE) {
      if (made > 0) await yieldToEventLoop();
      for (let n = Math.min(SLICE, amount - made); n > 0; ) {
        const code = nextCode();
        if (seen.has(code)) continue;
        seen.add(code);
        (buckets[code.charCodeAt(randomStart)] ??= []).push(code);
        n--;
      }
    }
    const ordered: string[] = [];
    let sinceYield = 0;
    // Ascending character codes: the order plain string comparison gives.
    for (const bucket of buckets) {
      if (bucket === undefined) continue;
      if (sinceYield >= SLICE) {
        await yieldToEventLoop();
        sinceYield = 0;
      }
      for (const code of bucket.sort()) ordered.push(code);
      sinceYield += bucket.length;
    }
    return ordered;
  };
}

/** better-sqlite3 answers synchronously: long work must give Slack acks and health checks a turn now and then. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Every code of the space was tried: the space is full, whatever feasibility counted (codes made in WHMCS by hand, or elsewhere). */
const spaceFull = () => new PromoError('code_space_exhausted', 'This code format has no unused codes left; nothing was saved. Use a longer code length, another prefix or a larger code type.');

const noUnusedCodes = () => new PromoError('generation_failed', 'Could not find enough unused codes; nothing was saved. Try a longer code length.');

interface InsertOptions {
  /** How many of the new codes may collide with stored ones, at most: PostgreSQL tries one COPY when that is small. */
  expectedCollisions?: number;
  onProgress?: Progress;
  /** Each chunk of codes once it is stored (in this transaction), in id order. */
  onStored?: (rows: IssuedCode[]) => void;
}

/**
 * Insert `amount` new codes. The unique index on lower(code) is the judge: a
 * code that collides with one already stored (in any set, any letter case, by
 * any process) is skipped by the INSERT and replaced by a fresh one.
 */
async function insertUniqueCodes(trx: Db, setId: number, batchId: number, freshCodes: CodeSource, amount: number, options: InsertOptions): Promise<IssuedCode[]> {
  const numbered = freshCodes.numbered === true;
  const { expectedCollisions = Infinity, onProgress, onStored } = options;
  // The whole batch in one order of the unique key: two transactions that
  // meet on each other's uncommitted codes then wait in one direction instead
  // of deadlocking (only regenerated codes can break the order, and a
  // deadlock that still happens is retried by inWriteTransaction). One batch
  // shares one prefix and its random parts are upper-case letters and digits,
  // so plain string order is the order of the lower-cased key.
  const ordered = await freshCodes(amount);
  if (ordered.length < amount) throw spaceFull();
  if (isPostgres(trx) && expectedCollisions < COPY_COLLISION_ODDS) {
    const copied = await copyCodes(trx, setId, batchId, ordered, (sent) => onProgress?.(sent, amount));
    if (copied !== undefined) {
      onStored?.(copied);
      return copied;
    }
    // A code was taken after all (the COPY left nothing): insert chunk by chunk, skipping collisions.
  }
  const issued: IssuedCode[] = [];
  for (let start = 0; start < amount; start += CHUNK) {
    let pending = ordered.slice(start, start + CHUNK);
    let missing = pending.length;
    for (let round = 0; missing > 0; round++) {
      // A numbered source never gives a code twice, so retrying ends: when it has none left, every code was tried.
      if (round === MAX_COLLISION_ROUNDS && !numbered) throw noUnusedCodes();
      if (pending.length === 0) throw spaceFull();
      const inserted = await insertCodes(trx, setId, batchId, pending);
      for (const row of inserted) issued.push(row);
      onStored?.(inserted);
      missing -= inserted.length;
      // The INSERT returned exactly the codes that went in: the others collided.
      if (missing > 0) pending = await freshCodes(missing);
    }
    onProgress?.(issued.length, amount);
    // Without this a 100k batch on SQLite would hold the event loop for its whole run.
    await yieldToEventLoop();
  }
  // PostgreSQL's RETURNING promises no order (SQLite's ids are made in order); in practice it is id order, which this checks in one pass.
  for (let i = 1; i < issued.length; i++) {
    if (issued[i - 1].id > issued[i].id) return issued.sort((a, b) => a.id - b.id);
  }
  return issued;
}
