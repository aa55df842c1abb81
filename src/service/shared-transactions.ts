import { PromoError } from '../domain/errors.js';
import { inWriteTransaction } from '../store/transactions.js';
import { type Db } from '../store/db.js';
import { GroupQueue } from './group-queue.js';

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

const queues = new WeakMap<Db, GroupQueue<Member>>();

/** Run `work` in a write transaction shared with other members; resolves after COMMIT. If `work` throws a PromoError, it must have written nothing. */
export function inSharedTransaction<T>(db: Db, lockKey: string, work: (trx: Db) => Promise<T>): Promise<T> {
  let queue = queues.get(db);
  if (queue === undefined) queues.set(db, (queue = new GroupQueue<Member>(MAX_GROUP, (group) => commitGroup(db, group))));
  const q = queue;
  return new Promise<T>((resolve, reject) => q.push({ lockKey, work, resolve: resolve as (value: unknown) => void, reject }));
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

async function commitGroup(db: Db, group: Member[]): Promise<void> {
  group.sort((a, b) => (a.lockKey < b.lockKey ? -1 : a.lockKey > b.lockKey ? 1 : 0));
  if (group.length === 1) {
    // Alone: the transaction is the member's own.
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
