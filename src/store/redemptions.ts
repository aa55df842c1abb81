import { sql } from 'kysely';
import { isPostgres, type Db } from './db.js';
import { PROMOTION_RETURNING, toPromotionRow, type PromotionRow, type StoredPromotion } from './promotions.js';
import type { RedemptionsTable } from './schema.js';
import { rawRows } from './sqlite-direct.js';

/** Uses and redemptions: counting a use, giving one back, the redemption rows. */

/** A hot-path statement in plain text (placeholders per dialect): building it through the query builder cost more than running it. */
export const INSERT_REDEMPTION = `insert into redemptions (set_id, promotion_id, client_id, once_key, request_key, created_by, created_at)
    values (?, ?, ?, ?, ?, ?, ?) on conflict (promotion_id, once_key) where once_key is not null do nothing returning id`;

const postgresText = new Map<string, string>();

/** `text` with PostgreSQL's $n placeholders on PostgreSQL, as written (?) on SQLite. */
function statement(db: Db, text: string): string {
  if (!isPostgres(db)) return text;
  let converted = postgresText.get(text);
  if (converted === undefined) {
    let n = 0;
    converted = text.replace(/\?/g, () => `$${++n}`);
    postgresText.set(text, converted);
  }
  return converted;
}

/** A hot statement's first row (directly on SQLite inside a write transaction: sqlite-direct.ts). */
async function firstRowOf<T>(db: Db, text: string, params: unknown[]): Promise<T | undefined> {
  return (await rawRows<T>(db, statement(db, text), params))[0];
}

/**
 * Count one use that WHMCS has already counted under its own maxuses guard
 * (with WHMCS connected, its row is the one counter): only a void since the
 * caller's checks can still refuse it. `rowId` is promoset's own id (PromotionRow.row_id).
 */
export async function countWhmcsCountedUse(db: Db, rowId: number): Promise<PromotionRow | undefined> {
  const { rows } = await sql<StoredPromotion>`
    update promotions set uses = uses + 1 where id = ${rowId} and voided_at is null
    ${sql.raw(PROMOTION_RETURNING)}`.execute(db);
  return rows[0] && toPromotionRow(rows[0]);
}

/** Give one use back (a rolled-back redemption); never below zero. */
export async function releaseUse(db: Db, promotionId: number): Promise<PromotionRow | undefined> {
  const { rows } = await sql<StoredPromotion>`
    update promotions set uses = uses - 1 where id = ${promotionId} and uses > 0
    ${sql.raw(PROMOTION_RETURNING)}`.execute(db);
  return rows[0] && toPromotionRow(rows[0]);
}

/** A redemption row as written: every column but its id and the rollback time. */
export type NewRedemption = Omit<RedemptionsTable, 'id' | 'rolled_back_at'>;

/**
 * Record a redemption; undefined when its once_key is taken (this client
 * already redeemed this once-per-client promotion). ON CONFLICT keeps a
 * PostgreSQL transaction usable, so the caller decides what to roll back.
 */
export async function insertRedemption(db: Db, r: NewRedemption): Promise<number | undefined> {
  const row = await firstRowOf<{ id: number | string }>(db, INSERT_REDEMPTION, [r.set_id, r.promotion_id, r.client_id, r.once_key, r.request_key, r.created_by, r.created_at]);
  return row && Number(row.id);
}

export interface Redemption {
  id: number;
  set_id: number;
  promotion_id: number;
  client_id: string | null;
  request_key: string | null;
  created_by: string;
  created_at: string;
  rolled_back_at: string | null;
}

export async function findRedemption(db: Db, id: number): Promise<Redemption | undefined> {
  const row = await db.selectFrom('redemptions').select(['id', 'set_id', 'promotion_id', 'client_id', 'request_key', 'created_by', 'created_at', 'rolled_back_at']).where('id', '=', id).executeTakeFirst();
  return row && { ...row, id: Number(row.id), set_id: Number(row.set_id), promotion_id: Number(row.promotion_id) };
}

/** The redemption made for a request (an Idempotency-Key claim), if its transaction committed. */
export async function findRedemptionIdByRequestKey(db: Db, requestKey: string): Promise<number | undefined> {
  const row = await db.selectFrom('redemptions').select('id').where('request_key', '=', requestKey).executeTakeFirst();
  return row && Number(row.id);
}

/**
 * Mark a standing redemption rolled back, once: the conditional UPDATE's row
 * count decides between concurrent rollbacks. Its once_key is freed, so the
 * client may redeem the promotion again. Returns the promotion id, or
 * undefined when it was not standing (missing, another set's, or rolled back).
 */
export async function markRolledBack(db: Db, id: number, setId: number, now: string): Promise<number | undefined> {
  const row = await db
    .updateTable('redemptions')
    .set({ rolled_back_at: now, once_key: null })
    .where('id', '=', id)
    .where('set_id', '=', setId)
    .where('rolled_back_at', 'is', null)
    .returning('promotion_id')
    .executeTakeFirst();
  return row && Number(row.promotion_id);
}
