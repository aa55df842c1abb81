import { CompiledQuery } from 'kysely';
import type { Db } from './db.js';
import { toPromotionRow, type PromotionRow, type StoredPromotion } from './promotions.js';

/**
 * PostgreSQL only: a group commit's redemptions in one round trip. The
 * function promoset_redeem (migration 019, store/migrations.ts) runs, per
 * member in the order given, countUse's conditional UPDATE and
 * insertRedemption's INSERT, as separate statements would, and gives a use
 * back itself when the INSERT is refused. Sent one by one, those statements
 * cost two or three round trips per member inside the group's transaction,
 * and at 50 connections the round trips, not the work, set the pace.
 */

export interface PostgresRedemption {
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

/** What the function decided for one member (migration 019 says what each means). */
export type PostgresRedemptionOutcome =
  | { outcome: 'refused' }
  | { outcome: 'bound' | 'client_required' | 'once_taken'; row: PromotionRow }
  | { outcome: 'redeemed'; row: PromotionRow; redemptionId: number };

const REDEEM = 'select * from promoset_redeem($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])';

type Returned = StoredPromotion & { outcome: PostgresRedemptionOutcome['outcome']; redemption_id: number | null };

/** Count and record `members` in `trx`, in their order; one outcome per member, in the same order. */
export async function redeemInPostgres(trx: Db, members: PostgresRedemption[]): Promise<PostgresRedemptionOutcome[]> {
  const { rows } = await trx.executeQuery<Returned>(
    CompiledQuery.raw(REDEEM, [
      members.map((m) => m.code),
      members.map((m) => m.setId),
      members.map((m) => m.clientId),
      members.map((m) => m.requestKey),
      members.map((m) => m.actor),
      members.map((m) => m.createdAt),
      members.map((m) => m.day),
    ]),
  );
  if (rows.length !== members.length) throw new Error(`promoset_redeem answered ${rows.length} rows for ${members.length} members`);
  return rows.map((r): PostgresRedemptionOutcome => {
    if (r.outcome === 'refused') return { outcome: 'refused' };
    const row = toPromotionRow(r);
    return r.outcome === 'redeemed' ? { outcome: 'redeemed', row, redemptionId: Number(r.redemption_id) } : { outcome: r.outcome, row };
  });
}
