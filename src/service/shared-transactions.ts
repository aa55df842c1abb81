import { PromoError } from '../domain/errors.js';
import { inWriteStatement, inWriteTransaction } from '../store/transactions.js';
import { isPostgres, type Db } from '../store/db.js';
import { isDatabaseUnreachable } from '../store/errors.js';
import { GroupQueue, type Settle } from './group-queue.js';

/**
 * Group commit for small, independent writes (redemptions). A write
 * transaction costs far more than the two statements of a redemption (lock,
 * BEGIN/COMMIT, the commit itself), so requests that arrive while one group
 * is being written wait and go into the next transaction together. Nothing is
 * resolved before COMMIT.
 *
 * A member's refusal is a PromoError, and a member that refuses leaves
 * nothing written (it decides before writing, or undoes its own write first):
 * it gets its error and the others go on, with no SAVEPOINT round trips per
 * member. Any other error (a failed statement, which on PostgreSQL aborts the
 * whole transaction) fails the group's transaction as a whole.
 *
 * Members run in the order of their `lockKey` (the promotion's code), so two
 * processes' groups take row locks in one order and cannot deadlock; if a
 * group's transaction fails as a whole anyway, every member is run again in
 * a transaction of its own, so one bad group never fails its neighbours.
 *
 * Members may share a first step (SharedStep): on PostgreSQL a redemption's
 * count and row are written for the whole group by one statement, whose
 * per-member results the members' work then finishes, still in lock order.
 * When that statement is all a group writes (SharedStep.alone), it is sent
 * without BEGIN/COMMIT: one statement is a transaction of its own.
 */

/** Members per transaction: enough to amortise a commit, small enough to keep row locks short. */
const MAX_GROUP = 100;

/**
 * A first statement members can share (PostgreSQL's redemptions, one round
 * trip for many): run once for each run of consecutive members (in lock
 * order) that name it, its i-th result handed to the i-th member's work.
 * Like a member's work, it must leave nothing written for a member whose
 * work then refuses.
 */
export interface SharedStep<In, Out> {
  /**
   * `alone`: run is the group's whole transaction (one statement, no BEGIN around it), and its members' work will write nothing.
   * A step that waits for nothing (SQLite's) returns its outcomes as they are.
   */
  run(trx: Db, inputs: In[], alone: boolean): Out[] | Promise<Out[]>;
  /**
   * True when, for these inputs (a whole group), `run` with `alone` is all
   * that must be written: the members' work then runs after it, outside any
   * transaction, and writes nothing (what still must be written, it writes
   * in a transaction of its own).
   */
  alone?(inputs: In[]): boolean;
}

interface Member {
  lockKey: string;
  step?: { shared: SharedStep<unknown, unknown>; input: unknown };
  /** A value rather than a promise when the work had nothing to wait for: the group then does not wait either. */
  work: (trx: Db, stepped: unknown) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const queues = new WeakMap<Db, GroupQueue<Member>>();

/** Run `work` in a write transaction shared with other members; resolves after COMMIT. If `work` throws a PromoError, it must have written nothing. */
export function inSharedTransaction<T>(db: Db, lockKey: string, work: (trx: Db) => Promise<T>): Promise<T> {
  return enqueue(db, lockKey, undefined, work);
}

/** As inSharedTransaction, with `step` run for `input` (together with its neighbours') before `work` gets its result. */
export function inSharedTransactionAfter<In, Out, T>(db: Db, lockKey: string, step: SharedStep<In, Out>, input: In, work: (trx: Db, stepped: Out) => T | Promise<T>): Promise<T> {
  return enqueue(db, lockKey, { shared: step as SharedStep<unknown, unknown>, input }, work as Member['work']);
}

function enqueue<T>(db: Db, lockKey: string, step: Member['step'], work: Member['work']): Promise<T> {
  let queue = queues.get(db);
  if (queue === undefined) queues.set(db, (queue = new GroupQueue<Member>(MAX_GROUP, (group) => commitGroup(db, group), isPostgres(db))));
  const q = queue;
  // A literal, not a spread: this runs for every redemption.
  return new Promise<T>((resolve, reject) => q.push({ lockKey, step, work, resolve: resolve as (value: unknown) => void, reject }));
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** One member in a transaction of its own: its refusal fails (rolls back) that transaction. */
async function runAlone(trx: Db, member: Member): Promise<unknown> {
  const stepped = member.step ? (await member.step.shared.run(trx, [member.step.input], false))[0] : undefined;
  return member.work(trx, stepped);
}

/** Write one group; what it resolves with settles its members (GroupQueue calls it after COMMIT). */
async function commitGroup(db: Db, group: Member[]): Promise<Settle> {
  group.sort((a, b) => (a.lockKey < b.lockKey ? -1 : a.lockKey > b.lockKey ? 1 : 0));
  const shared = group[0].step?.shared;
  if (shared?.alone && group.every((m) => m.step?.shared === shared) && shared.alone(group.map((m) => m.step!.input))) {
    return commitInOneStatement(db, group, shared);
  }
  if (group.length === 1) {
    // Alone: the transaction is the member's own.
    const outcome = await outcomeOf(inWriteTransaction(db, (trx) => runAlone(trx, group[0])));
    return () => settle(group[0], outcome);
  }
  let outcomes: Outcome[];
  try {
    outcomes = await inWriteTransaction(db, (trx) => runMembers(trx, group));
  } catch {
    // The group's transaction failed as a whole (a lost connection, deadlocks beyond the retries): nothing of
    // it committed, so each member runs again on its own and gets its own outcome.
    return runEachAlone(db, group);
  }
  return () => group.forEach((member, i) => settle(member, outcomes[i]));
}

/** A group whose shared step is all it writes: that one statement, then each member's work, outside any transaction. */
async function commitInOneStatement(db: Db, group: Member[], shared: SharedStep<unknown, unknown>): Promise<Settle> {
  let stepped: unknown[];
  try {
    stepped = await inWriteStatement(async () => shared.run(db, group.map((m) => m.step!.input), true));
  } catch (error) {
    // Unanswered, the statement may have committed: running its members again could count twice, so they fail, saying so.
    if (isDatabaseUnreachable(error)) {
      return () => {
        for (const member of group) member.reject(outcomeUnknown());
      };
    }
    // PostgreSQL refused it, so none of it was written: each member runs again in a transaction of its own.
    return runEachAlone(db, group);
  }
  // Committed. A member's work only reads or starts a transaction of its own, so the next group need not wait for it.
  return () =>
    group.forEach((member, i) => {
      Promise.resolve()
        .then(() => member.work(db, stepped[i]))
        .then(member.resolve, member.reject);
    });
}

/** Each member in a transaction of its own, one after another; they are settled as soon as each commits. */
async function runEachAlone(db: Db, group: Member[]): Promise<Settle> {
  for (const member of group) settle(member, await outcomeOf(inWriteTransaction(db, (trx) => runAlone(trx, member))));
  return () => {};
}

const outcomeOf = (work: Promise<unknown>): Promise<Outcome> =>
  work.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );

function settle(member: Member, outcome: Outcome): void {
  if (outcome.ok) member.resolve(outcome.value);
  else member.reject(outcome.error);
}

const outcomeUnknown = () =>
  new PromoError(
    'outcome_unknown',
    "promoset lost its database connection while writing this request, so it cannot tell whether it was saved. Retry with the same Idempotency-Key to get its outcome; without one, check before sending it again.",
    {},
    { retryAfterSeconds: 5 },
  );

/** Every member's work in lock order; a run of members sharing a step runs the step once, at the run's place in that order. */
async function runMembers(trx: Db, group: Member[]): Promise<Outcome[]> {
  const results: Outcome[] = [];
  for (let start = 0; start < group.length; ) {
    const shared = group[start].step?.shared;
    let end = start + 1;
    if (shared) while (end < group.length && group[end].step?.shared === shared) end++;
    const ran = shared ? shared.run(trx, group.slice(start, end).map((m) => m.step!.input), false) : [];
    const stepped = ran instanceof Promise ? await ran : ran;
    for (let i = start; i < end; i++) {
      try {
        // Awaited only when it is a promise: a member that waits for nothing costs the group no turn of the event loop.
        const done = group[i].work(trx, stepped[i - start]);
        results.push({ ok: true, value: done instanceof Promise ? await done : done });
      } catch (error) {
        // Anything but a refusal is the whole transaction's (inWriteTransaction reruns it after a deadlock).
        if (!(error instanceof PromoError)) throw error;
        results.push({ ok: false, error });
      }
    }
    start = end;
  }
  return results;
}
