import { sql } from 'kysely';
import type { Db } from './db.js';
import type { WhmcsOrdersTable } from './schema.js';

/**
 * The promo codes of WHMCS orders, as the addon's hooks reported them
 * (migration 014b): one row per (order, code), which the unique index makes
 * the judge of every repeated or concurrent hook call.
 */

export interface WhmcsOrderCode {
  id: number;
  order_id: number;
  code_key: string;
  promotion_id: number | null;
  redemption_id: number | null;
  state: 'placed' | 'cancelled';
}

/** Marks a whole order cancelled before promoset heard of its codes. */
export const WHOLE_ORDER = '*';

export async function listOrderCodes(db: Db, orderId: number): Promise<WhmcsOrderCode[]> {
  const rows = await db.selectFrom('whmcs_orders').select(['id', 'order_id', 'code_key', 'promotion_id', 'redemption_id', 'state']).where('order_id', '=', orderId).orderBy('id').execute();
  return rows.map((row) => ({
    id: Number(row.id), order_id: Number(row.order_id), code_key: row.code_key, promotion_id: row.promotion_id === null ? null : Number(row.promotion_id),
    redemption_id: row.redemption_id === null ? null : Number(row.redemption_id), state: row.state === 'cancelled' ? 'cancelled' : 'placed',
  }));
}

/** Insert one (order, code) row; undefined when it exists already (another call, maybe on another instance, got there first). */
export async function claimOrderCode(db: Db, row: Omit<WhmcsOrdersTable, 'id'>): Promise<number | undefined> {
  const inserted = await db
    .insertInto('whmcs_orders')
    .values(row)
    .onConflict((oc) => oc.columns(['order_id', 'code_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted && Number(inserted.id);
}

export async function setOrderRedemption(db: Db, id: number, redemptionId: number): Promise<void> {
  await db.updateTable('whmcs_orders').set({ redemption_id: redemptionId }).where('id', '=', id).execute();
}

/** placed → cancelled, once: the conditional UPDATE's row count decides between concurrent cancels. */
export async function cancelOrderCode(db: Db, id: number, now: string): Promise<boolean> {
  const result = await db.updateTable('whmcs_orders').set({ state: 'cancelled', updated_at: now }).where('id', '=', id).where('state', '=', 'placed').executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Copy WHMCS's count onto promoset's promotion (as the uses sync does), never below zero. */
export async function setPromotionUses(db: Db, promotionId: number, uses: number): Promise<void> {
  await db.updateTable('promotions').set({ uses: Math.max(0, uses) }).where('id', '=', promotionId).execute();
}

/** One use counted by WHMCS's checkout, for a promotion promoset counts alone (not in tblpromotions). */
export async function addPromotionUse(db: Db, promotionId: number): Promise<void> {
  await db.updateTable('promotions').set({ uses: sql<number>`uses + 1` }).where('id', '=', promotionId).execute();
}
