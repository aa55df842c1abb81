import { CompiledQuery } from 'kysely';
import type { PromoSet } from '../domain/set.js';
import { postgresPoolOf, type Db } from './db.js';
import { toPromotionRow, type PromotionRow, type StoredPromotion } from './promotions.js';

/**
 * PostgreSQL only: a group commit's redemptions in one round trip. The
 * function promoset_redeem (migration 020, planned once per connection since
 * 022; store/migrations.ts) runs, per
 * member in the order given, the conditional UPDATE that counts a use and
 * insertRedemption's INSERT, as separate statements would, and gives a use
 * back itself when the INSERT is refused. Sent one by one, those statements
 * cost two or three round trips per member inside the group's transaction,
 * and at 50 connections the round trips, not the work, set the pace.
 */

export interface PostgresRedemption {
  /** The set as this process cached it, checked against the stored row first; undefined when it was read fresh. */
  cachedSet?: PromoSet;
  setId: number;
  /** Lower-cased. */
  code: string;
  clientId: string | null;
  requestKey: string | null;
  actor: string;
  createdAt: string;
  /** The day the batch's dates are checked against (YYYY-MM-DD). */
  day: string;
}

/** What the function decided for one member (migrations 019 and 020 say what each means). */
export type PostgresRedemptionOutcome =
  | { outcome: 'set_changed' | 'refused' }
  | { outcome: 'bound' | 'bound_later' | 'client_required' | 'once_taken'; row: PromotionRow }
  | { outcome: 'redeemed'; row: PromotionRow; redemptionId: number };

const REDEEM = 'select * from promoset_redeem($1::jsonb[], $2::integer[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::boolean)';

type Returned = StoredPromotion & { outcome: PostgresRedemptionOutcome['outcome']; redemption_id: number | null };

/** Count and record `members` in `trx` (or, `alone`, in this one statement), in their order; one outcome per member, in the same order. */
export async function redeemInPostgres(trx: Db, members: PostgresRedemption[], alone: boolean): Promise<PostgresRedemptionOutcome[]> {
  const { expected, checks } = cachedSetChecks(members.map((m) => m.cachedSet));
  const values = [
    expected,
    checks,
    members.map((m) => m.code),
    members.map((m) => m.setId),
    members.map((m) => m.clientId),
    members.map((m) => m.requestKey),
    members.map((m) => m.actor),
    members.map((m) => m.createdAt),
    members.map((m) => m.day),
    alone,
  ];
  // Alone, the statement needs no transaction's connection: straight to the pool, prepared once per connection.
  const pool = alone ? postgresPoolOf(trx) : undefined;
  const { rows } = pool ? await pool.query<Returned>({ name: 'promoset-redeem', text: REDEEM, values }) : await trx.executeQuery<Returned>(CompiledQuery.raw(REDEEM, values));
  if (rows.length !== members.length) throw new Error(`promoset_redeem answered ${rows.length} rows for ${members.length} members`);
  return rows.map((r): PostgresRedemptionOutcome => {
    if (r.outcome === 'refused' || r.outcome === 'set_changed') return { outcome: r.outcome };
    const row = toPromotionRow(r);
    return r.outcome === 'redeemed' ? { outcome: 'redeemed', row, redemptionId: Number(r.redemption_id) } : { outcome: r.outcome, row };
  });
}

/**
 * What promoset_redeem and promoset_issue check the cached sets with: each
 * distinct set's stored form once (`expected`), and per member the 1-based
 * entry its set is checked against (`checks`; null for a set read fresh).
 */
export function cachedSetChecks(sets: (PromoSet | undefined)[]): { expected: string[]; checks: (number | null)[] } {
  const expected: string[] = [];
  const entries = new Map<PromoSet, number>();
  const checks = sets.map((set) => {
    if (set === undefined) return null;
    let entry = entries.get(set);
    if (entry === undefined) entries.set(set, (entry = expected.push(storedForm(set))));
    return entry;
  });
  return { expected, checks };
}

/** A set's stored row as JSON, name_key left out (toPromoSet in sets.ts, backwards): kept per cached set object. */
const storedForms = new WeakMap<PromoSet, string>();

function storedForm(set: PromoSet): string {
  let form = storedForms.get(set);
  if (form === undefined) {
    const { applies_to, requires, cycles, config_option_upgrades } = set;
    form = JSON.stringify({ ...set, applies_to: applies_to.join(','), requires: requires.join(','), cycles: cycles.join(','), config_option_upgrades: config_option_upgrades.join(',') });
    storedForms.set(set, form);
  }
  return form;
}
