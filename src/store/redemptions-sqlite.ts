import { NO_DATE } from '../domain/dates.js';
import { sameSet, type PromoSet } from '../domain/set.js';
import type { Db } from './db.js';
import { PROMOTION_RETURNING, toPromotionRow, type StoredPromotion } from './promotions.js';
import type { PostgresRedemption as GroupRedemption, PostgresRedemptionOutcome as GroupRedemptionOutcome } from './redemptions-postgres.js';
import { INSERT_REDEMPTION } from './redemptions.js';
import type { PromoSetRow } from './schema.js';
import { heldSqlite, type Prepare } from './sqlite-direct.js';
import { SET_BY_ID, toPromoSet } from './sets.js';

/**
 * SQLite's side of a group commit's redemptions, with the contract of
 * PostgreSQL's promoset_redeem (redemptions-postgres.ts): per member, in the
 * order given, count the use (one conditional UPDATE), then record the
 * redemption or give the use back, and say which. The statements run on the
 * connection the group's write transaction holds (sqlite-direct.ts), one
 * after another without a promise anywhere: per member, the awaits of
 * separate store calls cost more than its two statements.
 */

/**
 * Count one use only if the rules allow it now: not voided, within its
 * batch's dates, under its maxuses (0 = unlimited). SQLite serialises
 * writers, so N concurrent requests can never push uses past maxuses. It also
 * returns whether the code is bound (an index probe, so an unbound code costs
 * no second read). The batch's once-per-client term comes from
 * oncePerClientOf: a subquery for it here cost more than the rest of the
 * RETURNING clause.
 */
const COUNT_USE = `update promotions set uses = uses + 1
    where lower(code) = ? and set_id = ? and voided_at is null
      and exists (
        select 1 from batches b
        where b.id = promotions.batch_id
          and (b.maxuses = 0 or promotions.uses < b.maxuses)
          and (b.startdate = ? or b.startdate <= ?)
          and (b.expirationdate = ? or b.expirationdate >= ?))
    ${PROMOTION_RETURNING},
      exists (select 1 from promotion_bindings pb where pb.promotion_id = promotions.id) as bound`;

const GIVE_BACK = 'update promotions set uses = uses - 1 where id = ?';

type Counted = StoredPromotion & { bound: number };

const ONCE_PER_CLIENT = 'select onceperclient from batches where id = ?';
/** Batches whose term is kept per database; past this, the oldest is read again when next needed. */
const ONCE_PER_CLIENT_KEPT = 5000;
/**
 * A batch's terms never change once written, and batch ids are never reused
 * (AUTOINCREMENT), so each database's answers are kept, by its statement
 * cache (one per SQLite database).
 */
const oncePerClientKept = new WeakMap<Prepare, Map<number, boolean>>();

function oncePerClientOf(prepare: Prepare, batchId: number): boolean {
  let kept = oncePerClientKept.get(prepare);
  if (kept === undefined) oncePerClientKept.set(prepare, (kept = new Map()));
  let once = kept.get(batchId);
  if (once === undefined) {
    // The UPDATE just counted a use of this batch's promotion in this transaction, its EXISTS on the batch row included: the row is there.
    once = (prepare(ONCE_PER_CLIENT).get(batchId) as { onceperclient: number }).onceperclient !== 0;
    if (kept.size >= ONCE_PER_CLIENT_KEPT) kept.delete(kept.keys().next().value as number);
    kept.set(batchId, once);
  }
  return once;
}

/**
 * Count and record `members` in `trx`, in their order; one outcome per
 * member, in the same order. `trx` must hold SQLite's connection in a write
 * transaction (inWriteTransaction, which every group commit runs in): the
 * statements then run directly, and nothing here waits.
 */
export function redeemInSqlite(trx: Db, members: GroupRedemption[]): GroupRedemptionOutcome[] {
  const prepare = heldSqlite(trx);
  if (prepare === undefined) throw new Error('redeemInSqlite runs only inside a SQLite write transaction (inWriteTransaction)');
  const first = <T>(text: string, params: unknown[]): T | undefined => {
    const statement = prepare(text);
    if (statement.reader) return statement.get(params) as T | undefined;
    statement.run(params);
    return undefined;
  };
  const unchanged = new Map<PromoSet, boolean>();
  for (const { cachedSet } of members) {
    if (cachedSet === undefined || unchanged.has(cachedSet)) continue;
    const stored = first<PromoSetRow>(SET_BY_ID, [cachedSet.id]);
    unchanged.set(cachedSet, stored !== undefined && sameSet(toPromoSet(stored), cachedSet));
  }
  const outcomes: GroupRedemptionOutcome[] = [];
  for (const m of members) {
    if (m.cachedSet !== undefined && !unchanged.get(m.cachedSet)) {
      outcomes.push({ outcome: 'set_changed' });
      continue;
    }
    const counted = first<Counted>(COUNT_USE, [m.code, m.setId, NO_DATE, m.day, NO_DATE, m.day]);
    if (counted === undefined) {
      outcomes.push({ outcome: 'refused' });
      continue;
    }
    const row = toPromotionRow(counted);
    if (counted.bound) {
      // Counted, not recorded: the service asks the binding about the customer.
      outcomes.push({ outcome: 'bound', row });
      continue;
    }
    const oncePerClient = oncePerClientOf(prepare, row.batch_id);
    if (oncePerClient && m.clientId === null) {
      first(GIVE_BACK, [row.row_id]);
      outcomes.push({ outcome: 'client_required', row });
      continue;
    }
    const inserted = first<{ id: number }>(INSERT_REDEMPTION, [m.setId, row.row_id, m.clientId, oncePerClient ? m.clientId : null, m.requestKey, m.actor, m.createdAt]);
    if (inserted === undefined) {
      first(GIVE_BACK, [row.row_id]);
      outcomes.push({ outcome: 'once_taken', row });
      continue;
    }
    outcomes.push({ outcome: 'redeemed', row, redemptionId: Number(inserted.id) });
  }
  return outcomes;
}
