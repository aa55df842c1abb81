import { PromoError } from '../domain/errors.js';
import { inWriteTransaction, type Db } from '../store/db.js';

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
 */

/** Members per transaction: enough to amortise a commit, small enough to keep row locks short. */
const MAX_GROUP = 100;

interface Member {
  lockKey: string;
  work: (trx: Db) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Queue {
  waiting: Member[];
  scheduled: boolean;
  /** One group in flight per database handle: SQLite has one writer, and a second group would only wait for the first's locks. */
  writing: boolean;
}

const queues = new WeakMap<Db, Queue>();

/** Run `work` in a write transaction shared with other members; resolves after COMMIT. If `work` throws a PromoError, it must have written nothing. */
export function inSharedTransaction<T>(db: Db, lockKey: string, work: (trx: Db) => Promise<T>): Promise<T> {
  let queue = queues.get(db);
  if (queue === undefined) queues.set(db, (queue = { waiting: [], scheduled: false, writing: false }));
  const q = queue;
  return new Promise<T>((resolve, reject) => {
    q.waiting.push({ lockKey, work, resolve: resolve as (value: unknown) => void, reject });
    schedule(db, q);
  });
}

/** The next group is taken at the end of this event-loop turn, so requests read together commit together. */
function schedule(db: Db, queue: Queue): void {
  if (queue.scheduled || queue.writing || queue.waiting.length === 0) return;
  queue.scheduled = true;
  setImmediate(() => {
    queue.scheduled = false;
    queue.writing = true;
    void commitGroup(db, queue.waiting.splice(0, MAX_GROUP)).finally(() => {
      queue.writing = false;
      schedule(db, queue);
    });
  });
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

async function commitGroup(db: Db, group: Member[]): Promise<void> {
  group.sort((a, b) => (a.lockKey < b.lockKey ? -1 : a.lockKey > b.lockKey ? 1 : 0));
  if (group.length === 1) {
    // Alone: no savepoint needed, the transaction is the member's own.
    const [member] = group;
    await inWriteTransaction(db, member.work).then(member.resolve, member.reject);
    return;
  }
  let outcomes: Outcome[];
  try {
    outcomes = await inWriteTransaction(db, async (trx) => {
      const results: Outcome[] = [];
      for (const member of group) {
        try {
          results.push({ ok: true, value: await member.work(trx) });
        } catch (error) {
          // Anything but a refusal is the whole transaction's (inWriteTransaction reruns it after a deadlock).
          if (!(error instanceof PromoError)) throw error;
          results.push({ ok: false, error });
        }
      }
      return results;
    });
  } catch {
    // The group's transaction failed as a whole (a lost connection, deadlocks beyond the retries): nothing of
    // it committed, so each member runs again on its own and gets its own outcome.
    for (const member of group) await inWriteTransaction(db, member.work).then(member.resolve, member.reject);
    return;
  }
  group.forEach((member, i) => {
    const outcome = outcomes[i];
    if (outcome.ok) member.resolve(outcome.value);
    else member.reject(outcome.error);
  });
}
