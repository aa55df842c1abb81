import { assertFeasible, codeGenerator, codeSpace, numberedCodeSource, type CodeFormat } from '../domain/codes.js';
import type { Binding } from '../domain/binding.js';
import { PromoError } from '../domain/errors.js';
import { insertBindings } from '../store/bindings.js';
import { sameSet, type PromoSet } from '../domain/set.js';
import { inWriteTransaction } from '../store/transactions.js';
import { isPostgres, type Db } from '../store/db.js';
import { isRetryableConflict } from '../store/errors.js';
import { issueInPostgres, type PostgresIssueOutcome, type PostgresSingleCode } from '../store/single-codes-postgres.js';
import { insertEvents, type outboxRow } from '../store/outbox.js';
import { countInSpace, deleteBatch, insertBatches, type NewBatch } from '../store/batches.js';
import { insertPromotionsReturning } from '../store/promotion-inserts.js';
import { markBatchesPending } from '../store/whmcs-bookkeeping.js';
import { type PromotionRow } from '../store/promotions.js';
import { findSetsAndPromotionBound } from '../store/sets.js';
import { GroupQueue, type Settle } from './group-queue.js';

/**
 * An outward sink every issued code must reach before it is handed out (the
 * WHMCS database). Without one, the group commit is exactly as before.
 */
export interface GroupSink {
  /** Codes (lower-cased) the sink already holds: never generated. */
  taken(codes: string[]): Promise<Set<string>>;
  /** The sink's rows, for feasibility: a cheap bound, and the exact count in a space. */
  spaceUse(trx: Db): Promise<{ bound: number; inSpace: (format: CodeFormat) => Promise<number> }>;
  /**
   * After the group's COMMIT (its batches marked pending): hand the rows to
   * the sink; resolves with the rows as they are to be shown (the sink's ids).
   * On failure it has removed them, and throws the error every member gets.
   */
  publish(members: { row: PromotionRow; batch: NewBatch }[]): Promise<PromotionRow[]>;
}

/**
 * Group commit for one-code requests (seed 001's POST). A write transaction
 * costs far more than the rows in it (lock, statements, commit), so requests
 * that arrive while one is being written wait and go into the next one
 * together. Each keeps its own batch row and code, and its own outcome: every
 * check that can refuse one request is made per request, so nothing but the
 * database itself can fail the whole group. The unique index and the write
 * transaction stay the judges across processes, as for bulk generation.
 *
 * A request may name the set as its caller read it from a cache (see
 * resolveSetToken): the group re-reads those sets inside its transaction,
 * once per set, and a request whose set has changed since (edited, rotated,
 * archived, by any instance) writes nothing and fails with `set_changed`.
 * That is what lets the set URL skip reading the set per request.
 */

/** Requests per transaction: bounded so one INSERT's bound parameters stay far below either dialect's limit. */
const MAX_GROUP = 200;
/** Rounds of regenerating collided codes before giving up on a request; feasibility makes even two rare. */
const MAX_COLLISION_ROUNDS = 25;

export interface SingleCodeRequest {
  /**
   * The set the terms, format and caller's checks were taken from, when it
   * may be stale (a cache): the request is then written only if the stored
   * set still equals it, and fails with set_changed otherwise.
   */
  expectedSet?: PromoSet;
  format: CodeFormat;
  /** Its batch row (count 1), terms and actor already decided. */
  batch: NewBatch;
  /** The customer the code is bound to, written in the group's transaction. */
  binding?: Binding;
  /** The set has a webhook: its `promotions.issued` outbox row, written in the group's transaction. */
  issuedEvent?: (stored: PromotionRow) => ReturnType<typeof outboxRow>;
}

interface Waiting extends SingleCodeRequest {
  resolve: (row: PromotionRow) => void;
  reject: (error: unknown) => void;
}

/** One queue per database handle: that is what serialises writes in this process. */
const queues = new WeakMap<Db, GroupQueue<Waiting>>();

/** Store one promotion for `request`, committed (possibly with others) before this resolves. `sink` is fixed per database handle, like the core that owns it. */
export function issueSingleCode(db: Db, request: SingleCodeRequest, sink?: GroupSink): Promise<PromotionRow> {
  let queue = queues.get(db);
  if (queue === undefined) queues.set(db, (queue = new GroupQueue<Waiting>(MAX_GROUP, (group) => commitGroup(db, group, sink), isPostgres(db))));
  const q = queue;
  // Field by field: spreading the request into the member cost more than the rest of queueing it.
  const { expectedSet, format, batch, binding, issuedEvent } = request;
  return new Promise<PromotionRow>((resolve, reject) => q.push({ expectedSet, format, batch, binding, issuedEvent, resolve, reject }));
}

type Outcome = { ok: true; row: PromotionRow } | { ok: false; error: unknown };

/** Write one group in one transaction; what it resolves with settles every member (GroupQueue calls it after COMMIT). */
async function commitGroup(db: Db, group: Waiting[], sink?: GroupSink): Promise<Settle> {
  let outcomes: Outcome[];
  try {
    outcomes = !sink && isPostgres(db) ? await commitInPostgres(db, group) : await inWriteTransaction(db, (trx) => writeGroup(trx, group, sink));
    if (sink) outcomes = await publishGroup(sink, group, outcomes);
  } catch (error) {
    return () => {
      for (const member of group) member.reject(error);
    };
  }
  return () =>
    group.forEach((member, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) member.resolve(outcome.row);
      else member.reject(outcome.error);
    });
}

/**
 * PostgreSQL without a sink: the group's plain members (no binding, no
 * webhook event) in one statement (store/single-codes-postgres.ts), each
 * written whole or not at all. Whatever that leaves undecided (a collided
 * code, a nearly full space, a conflict with another writer) and the members
 * with a binding or an event go through writeGroup's transaction, as before.
 */
async function commitInPostgres(db: Db, group: Waiting[]): Promise<Outcome[]> {
  const outcomes: (Outcome | undefined)[] = new Array(group.length);
  const plain: number[] = [];
  group.forEach((member, i) => member.binding === undefined && member.issuedEvent === undefined && plain.push(i));
  if (plain.length > 0) {
    const generators = new Map<string, () => string>();
    const members = plain.map((i): PostgresSingleCode => {
      const { expectedSet, format, batch } = group[i];
      const key = keyOf(format);
      let next = generators.get(key);
      if (next === undefined) generators.set(key, (next = codeGenerator(format)));
      return { cachedSet: expectedSet, space: codeSpace(format), code: next(), batch };
    });
    let decided: PostgresIssueOutcome[] = [];
    try {
      decided = await issueInPostgres(db, members);
    } catch (error) {
      // The statement wrote nothing: the transaction below retries conflicts with backoff.
      if (!isRetryableConflict(error)) throw error;
    }
    decided.forEach((result, k) => {
      if (result.outcome === 'issued') outcomes[plain[k]] = { ok: true, row: result.row };
      else if (result.outcome === 'set_changed') outcomes[plain[k]] = { ok: false, error: setChanged() };
    });
  }
  const rest: number[] = [];
  for (let i = 0; i < group.length; i++) if (outcomes[i] === undefined) rest.push(i);
  if (rest.length > 0) {
    const written = await inWriteTransaction(db, (trx) => writeGroup(trx, rest.map((i) => group[i])));
    rest.forEach((index, k) => (outcomes[index] = written[k]));
  }
  return outcomes as Outcome[];
}

/** The committed members go to the sink; if it fails, so does every one of them. */
async function publishGroup(sink: GroupSink, group: Waiting[], outcomes: Outcome[]): Promise<Outcome[]> {
  const stored: number[] = [];
  outcomes.forEach((outcome, i) => outcome.ok && stored.push(i));
  if (stored.length === 0) return outcomes;
  const shown = await sink.publish(stored.map((i) => ({ row: (outcomes[i] as { row: PromotionRow }).row, batch: group[i].batch })));
  stored.forEach((index, k) => (outcomes[index] = { ok: true, row: shown[k] }));
  return outcomes;
}

async function writeGroup(trx: Db, group: Waiting[], sink?: GroupSink): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(group.length);
  const setIds = new Set<number>();
  for (const { expectedSet } of group) if (expectedSet) setIds.add(expectedSet.id);
  const { sets: current, promotionBound } = await findSetsAndPromotionBound(trx, [...setIds]);
  const unchanged: number[] = [];
  // Members usually share one set object (the resolver's cache): compare each object once.
  const verdicts = new Map<PromoSet, boolean>();
  group.forEach(({ expectedSet }, i) => {
    let same = expectedSet === undefined || verdicts.get(expectedSet);
    if (same === undefined) {
      const stored = current.get(expectedSet!.id);
      verdicts.set(expectedSet!, (same = stored !== undefined && sameSet(stored, expectedSet!)));
    }
    if (same) unchanged.push(i);
    else outcomes[i] = { ok: false, error: setChanged() };
  });
  const accepted = await feasibleMembers(trx, group, unchanged, promotionBound, outcomes, sink);
  const batchIds = await insertBatches(trx, accepted.map((i) => group[i].batch));

  const generators = new Map<string, () => string>();
  const nextCode = (format: CodeFormat) => {
    const key = `${format.prefix}|${format.length}|${format.alphabet}`;
    let next = generators.get(key);
    if (next === undefined) generators.set(key, (next = codeGenerator(format)));
    return next();
  };
  // After MAX_COLLISION_ROUNDS the space is nearly full: codes are then drawn without repeats
  // (numbered), so the rounds end, at worst when every code of the space was tried.
  const numberedSources = new Map<string, ((n: number) => string[]) | undefined>();
  const nextUntried = (format: CodeFormat): string | undefined => {
    const key = keyOf(format);
    if (!numberedSources.has(key)) numberedSources.set(key, numberedCodeSource(format));
    const source = numberedSources.get(key);
    return source ? source(1)[0] : nextCode(format);
  };
  const fail = async (member: { index: number; batchId: number }, error: PromoError) => {
    await deleteBatch(trx, member.batchId);
    outcomes[member.index] = { ok: false, error };
  };
  // Each pending member: its index in the group and its batch id.
  let pending = accepted.map((index, i) => ({ index, batchId: batchIds[i] }));
  for (let round = 0; pending.length > 0; round++) {
    // A space too large to number (over 2^53 codes) cannot be nearly full: this bound is never reached in practice.
    if (round === UNNUMBERED_ROUNDS) {
      for (const member of pending) if (numberedSources.get(keyOf(group[member.index].format)) === undefined) await fail(member, noUnusedCode());
      pending = pending.filter((member) => outcomes[member.index] === undefined);
    }
    const drawn: { member: (typeof pending)[number]; code: string }[] = [];
    for (const member of pending) {
      const { format } = group[member.index];
      const code = round < MAX_COLLISION_ROUNDS ? nextCode(format) : nextUntried(format);
      if (code !== undefined) drawn.push({ member, code });
      else await fail(member, spaceFull());
    }
    pending = drawn.map(({ member }) => member);
    let rows = drawn.map(({ member, code }) => ({ set_id: group[member.index].batch.set_id, batch_id: member.batchId, code }));
    if (sink) {
      // A code the sink holds already (WHMCS admins add codes by hand) is left out: its member tries again next round.
      const taken = await sink.taken(rows.map((row) => row.code));
      if (taken.size > 0) rows = rows.filter((row) => !taken.has(row.code.toLowerCase()));
    }
    // In one order of the unique key, so that groups of two processes that
    // collide on two codes wait for each other instead of deadlocking.
    const keys = new Map(rows.map((row) => [row, row.code.toLowerCase()]));
    rows.sort((a, b) => (keys.get(a)! < keys.get(b)! ? -1 : 1));
    const inserted = await insertPromotionsReturning(trx, rows);
    const byBatch = new Map(inserted.map((row) => [row.batch_id, row]));
    // A code that collided (with a stored one, or another in this group) gets a fresh one next round.
    pending = pending.filter(({ index, batchId }) => {
      const row = byBatch.get(batchId);
      if (row) outcomes[index] = { ok: true, row };
      return !row;
    });
  }
  const bound = group.flatMap((member, i) => {
    const outcome = outcomes[i];
    return member.binding && outcome?.ok ? [{ setId: member.batch.set_id, promotionId: outcome.row.row_id, binding: member.binding, createdAt: member.batch.created_at }] : [];
  });
  for (const b of bound) await insertBindings(trx, b.setId, [b], b.createdAt);
  if (sink) await markBatchesPending(trx, outcomes.flatMap((outcome) => (outcome.ok ? [outcome.row.batch_id] : [])));
  const events = group.flatMap((member, i) => {
    const outcome = outcomes[i];
    return member.issuedEvent && outcome?.ok ? [member.issuedEvent(outcome.row)] : [];
  });
  await insertEvents(trx, events);
  return outcomes;
}

/**
 * The feasibility rule for each member, in arrival order, as if each had its
 * own transaction: the highest promotion id (once per group) plus the members
 * accepted before it bounds how many codes exist; only when a code space is
 * nearly full is the exact count for it read. A refused member gets its own
 * error; the indexes of the accepted ones are returned.
 */
async function feasibleMembers(trx: Db, group: Waiting[], candidates: number[], promotionBound: number, outcomes: Outcome[], sink?: GroupSink): Promise<number[]> {
  const sinkUse = sink && (await sink.spaceUse(trx));
  const storedBound = promotionBound + (sinkUse?.bound ?? 0);
  const storedInSpace = new Map<string, number>();
  const acceptedInSpace = new Map<string, number>();
  const accepted: number[] = [];
  for (const i of candidates) {
    const { format, batch } = group[i];
    const space = `${batch.prefix_key}|${batch.code_length}`;
    // Only a nearly full space is counted exactly; the usual case awaits nothing.
    if (codeSpace(format) - (storedBound + accepted.length) < 2) {
      try {
        let stored = storedInSpace.get(space);
        if (stored === undefined) {
          stored = (await countInSpace(trx, batch.prefix_key, batch.code_length)) + (sinkUse ? await sinkUse.inSpace(format) : 0);
          storedInSpace.set(space, stored);
        }
        assertFeasible(format, 1, stored + (acceptedInSpace.get(space) ?? 0));
      } catch (error) {
        if (!(error instanceof PromoError)) throw error;
        outcomes[i] = { ok: false, error };
        continue;
      }
    }
    accepted.push(i);
    acceptedInSpace.set(space, (acceptedInSpace.get(space) ?? 0) + 1);
  }
  return accepted;
}

const keyOf = (format: CodeFormat) => `${format.prefix}|${format.length}|${format.alphabet}`;

/** Rounds after which an unnumbered space (whose rounds have no natural end) gives up. */
const UNNUMBERED_ROUNDS = 4 * MAX_COLLISION_ROUNDS;

/** Every code of the space was tried in this group: it is full, whatever the count said. */
const spaceFull = () => new PromoError('code_space_exhausted', 'This code format has no unused codes left; nothing was saved. Use a longer code length, another prefix or a larger code type.');
const noUnusedCode = () => new PromoError('generation_failed', 'Could not find an unused code; nothing was saved. Try a longer code length.');

export const setChanged = () =>
  new PromoError('set_changed', 'The promo set was changed while this request was running, so no code was issued. Send the request again.');
