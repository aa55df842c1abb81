import { CompiledQuery, sql } from 'kysely';
import { NO_DATE } from '../domain/dates.js';
import { isPostgres, type Db } from './db.js';
import { TOUCHED, type PromotionRow } from './promotions.js';
import type { RedemptionsTable } from './schema.js';

/**
 * Count one use of the set's promotion `code`, if the rules allow it now, in
 * ONE conditional statement: not voided, within its dates, and under its
 * batch's maxuses (0 = unlimited). The terms live on the (immutable) batch
 * row, read by primary key inside the statement, so issuing stays narrow and
 * cheap. Both databases re-check the WHERE on the row they lock (SQLite by
 * serialising writers, PostgreSQL by re-evaluating it after a concurrent
 * update), so N concurrent requests can never push uses past maxuses.
 * Returns the updated row, or undefined when nothing was counted.
 */
export async function countUse(db: Db, setId: number, code: string, today: string): Promise<PromotionRow | undefined> {
  const { rows } = await db.executeQuery<StoredPromotion>(CompiledQuery.raw(statement(db, COUNT_USE), [code.toLowerCase(), setId, NO_DATE, today, NO_DATE, today]));
  return rows[0] && normalise(rows[0]);
}

/** Hot-path statements are plain text (placeholders per dialect): building them through the query builder cost more than running them. */
const COUNT_USE = `update promotions set uses = uses + 1
    where lower(code) = ? and set_id = ? and voided_at is null
      and exists (
        select 1 from batches b
        where b.id = promotions.batch_id
          and (b.maxuses = 0 or promotions.uses < b.maxuses)
          and (b.startdate = ? or b.startdate <= ?)
          and (b.expirationdate = ? or b.expirationdate >= ?))
    returning id, whmcs_id, code, uses, set_id, batch_id, voided_at`;

const INSERT_REDEMPTION = `insert into redemptions (set_id, promotion_id, client_id, once_key, request_key, created_by, created_at)
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

/**
 * Count one use that WHMCS has already counted under its own maxuses guard
 * (with WHMCS connected, its row is the one counter): only a void since the
 * caller's checks can still refuse it. `seq` is promoset's own id.
 */
export async function countWhmcsCountedUse(db: Db, seq: number): Promise<PromotionRow | undefined> {
  const { rows } = await sql<StoredPromotion>`
    update promotions set uses = uses + 1 where id = ${seq} and voided_at is null
    returning id, whmcs_id, code, uses, set_id, batch_id, voided_at`.execute(db);
  return rows[0] && normalise(rows[0]);
}

/** The tblpromotions ids of a batch's promotions, with whether each is voided now (for void's WHMCS side). */
export async function listBatchWhmcsIds(db: Db, batchId: number): Promise<{ whmcsId: number; voided: boolean }[]> {
  const rows = await db.selectFrom('promotions').select(['whmcs_id', 'voided_at']).where('batch_id', '=', batchId).where('whmcs_id', 'is not', null).execute();
  return rows.map((row) => ({ whmcsId: Number(row.whmcs_id), voided: row.voided_at !== null }));
}

/** Give one use back (a rolled-back redemption); never below zero. */
export async function releaseUse(db: Db, promotionId: number): Promise<PromotionRow | undefined> {
  const { rows } = await sql<StoredPromotion>`
    update promotions set uses = uses - 1 where id = ${promotionId} and uses > 0
    returning id, whmcs_id, code, uses, set_id, batch_id, voided_at`.execute(db);
  return rows[0] && normalise(rows[0]);
}

/** One promotion of one set by code, any letter case (through the unique index on lower(code)). */
export async function findSetPromotion(db: Db, setId: number, code: string): Promise<PromotionRow | undefined> {
  const row = await db
    .selectFrom('promotions')
    .select(['id', 'whmcs_id', 'code', 'uses', 'set_id', 'batch_id', 'voided_at'])
    .where(sql`lower(code)`, '=', code.trim().toLowerCase())
    .executeTakeFirst();
  if (!row || Number(row.set_id) !== setId) return undefined;
  return normalise(row);
}

/** Promotions by code in any set, any letter case; codes not found are simply absent. */
export async function findPromotionsByCodes(db: Db, codes: string[]): Promise<PromotionRow[]> {
  const found: PromotionRow[] = [];
  const keys = [...new Set(codes.map((c) => c.trim().toLowerCase()))];
  for (let i = 0; i < keys.length; i += 500) {
    const rows = await db
      .selectFrom('promotions')
      .select(['id', 'whmcs_id', 'code', 'uses', 'set_id', 'batch_id', 'voided_at'])
      .where(sql`lower(code)`, 'in', keys.slice(i, i + 500))
      .execute();
    found.push(...rows.map(normalise));
  }
  return found;
}

export async function findPromotionById(db: Db, id: number): Promise<PromotionRow | undefined> {
  const row = await db.selectFrom('promotions').select(['id', 'whmcs_id', 'code', 'uses', 'set_id', 'batch_id', 'voided_at']).where('id', '=', id).executeTakeFirst();
  return row && normalise(row);
}

/** A redemption row as written: every column but its id and the rollback time. */
export type NewRedemption = Omit<RedemptionsTable, 'id' | 'rolled_back_at'>;

/**
 * Record a redemption; undefined when its once_key is taken (this client
 * already redeemed this once-per-client promotion). ON CONFLICT keeps a
 * PostgreSQL transaction usable, so the caller decides what to roll back.
 */
export async function insertRedemption(db: Db, r: NewRedemption): Promise<number | undefined> {
  const { rows } = await db.executeQuery<{ id: number | string }>(
    CompiledQuery.raw(statement(db, INSERT_REDEMPTION), [r.set_id, r.promotion_id, r.client_id, r.once_key, r.request_key, r.created_by, r.created_at]),
  );
  return rows[0] && Number(rows[0].id);
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

/** Void (or restore, with `voidedAt` null) promotions by id, in one statement; returns the rows that changed. */
export async function setVoided(db: Db, ids: number[], voidedAt: string | null): Promise<number[]> {
  const changed: number[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .updateTable('promotions')
      .set({ voided_at: voidedAt })
      .where('id', 'in', ids.slice(i, i + 500))
      .where('voided_at', voidedAt === null ? 'is not' : 'is', null)
      .returning('id')
      .execute();
    changed.push(...rows.map((r) => Number(r.id)));
  }
  return changed;
}

/** Void (or restore) every promotion of a batch in ONE statement, whatever its size; returns how many changed. */
export async function setBatchVoided(db: Db, batchId: number, voidedAt: string | null): Promise<number> {
  const result = await db
    .updateTable('promotions')
    .set({ voided_at: voidedAt })
    .where('batch_id', '=', batchId)
    .where('voided_at', voidedAt === null ? 'is not' : 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export interface Usage {
  issued: number;
  /** Uses counted (rolled-back redemptions excluded). */
  redeemed: number;
  voided: number;
  /** Promotions with a use limit that they have reached. */
  usedUp: number;
}

export const NO_USAGE: Usage = { issued: 0, redeemed: 0, voided: 0, usedUp: 0 };

/**
 * Usage of each of these batches. Issued is the batch row's count (every path
 * that adds or drops a batch's promotions keeps it equal to their number, as
 * feasibility already relies on); the rest comes from its touched promotions
 * alone (TOUCHED), through the partial index, so a 100k batch costs what its
 * redeemed and voided codes cost, not 100k rows. Batches still pending in
 * WHMCS count, as they did when usage scanned every promotion.
 */
export async function usageByBatch(db: Db, batchIds: number[]): Promise<Map<number, Usage>> {
  if (batchIds.length === 0) return new Map();
  const [issued, touched] = await Promise.all([
    db.selectFrom('batches').select(['id', 'count']).where('id', 'in', batchIds).execute(),
    touchedSums(db)
      .select('batches.id')
      .where('batches.id', 'in', batchIds)
      .groupBy('batches.id')
      .execute(),
  ]);
  const sums = new Map(touched.map((r) => [Number(r.id), r]));
  return new Map(issued.map((r) => [Number(r.id), usageOf(Number(r.count), sums.get(Number(r.id)))]));
}

/** Usage per set (one set, or all), read like usageByBatch: issued from batches, the rest from touched promotions. */
export async function usageBySet(db: Db, setId?: number): Promise<Map<number, Usage>> {
  let issuedQuery = db.selectFrom('batches').select((eb) => ['set_id', eb.fn.sum<number | string>('count').as('issued')]).groupBy('set_id');
  let touchedQuery = touchedSums(db).select('promotions.set_id').groupBy('promotions.set_id');
  if (setId !== undefined) {
    issuedQuery = issuedQuery.where('set_id', '=', setId);
    touchedQuery = touchedQuery.where('promotions.set_id', '=', setId);
  }
  const [issued, touched] = await Promise.all([issuedQuery.execute(), touchedQuery.execute()]);
  const sums = new Map(touched.map((r) => [Number(r.set_id), r]));
  return new Map(issued.map((r) => [Number(r.set_id), usageOf(Number(r.issued), sums.get(Number(r.set_id)))]));
}

/**
 * Redeemed, voided and used-up sums over touched promotions joined to their
 * batch; the caller adds its grouping and filter. Untouched promotions add
 * nothing to any of the three (uses 0, not voided, so not used up either),
 * which is why leaving them out keeps the figures exact. The join repeats
 * set_id so both index columns are bound when driven from batches.
 */
function touchedSums(db: Db) {
  return db
    .selectFrom('batches')
    .innerJoin('promotions', (join) => join.onRef('promotions.set_id', '=', 'batches.set_id').onRef('promotions.batch_id', '=', 'batches.id'))
    .where(TOUCHED)
    .select([
      sql<number | string>`sum(promotions.uses)`.as('redeemed'),
      sql<number | string>`sum(case when promotions.voided_at is null then 0 else 1 end)`.as('voided'),
      sql<number | string>`sum(case when batches.maxuses > 0 and promotions.uses >= batches.maxuses then 1 else 0 end)`.as('used_up'),
    ]);
}

function usageOf(issued: number, sums: { redeemed: number | string; voided: number | string; used_up: number | string } | undefined): Usage {
  return sums ? { issued, redeemed: Number(sums.redeemed), voided: Number(sums.voided), usedUp: Number(sums.used_up) } : { issued, redeemed: 0, voided: 0, usedUp: 0 };
}

/** `id` is the one shown (its tblpromotions id when WHMCS holds it); `seq` is promoset's own, for references. */
interface StoredPromotion { id: number | string; whmcs_id: number | string | null; code: string; uses: number | string; set_id: number | string; batch_id: number | string; voided_at: string | null }

function normalise(row: StoredPromotion): PromotionRow {
  const whmcsId = row.whmcs_id === null ? null : Number(row.whmcs_id);
  return { id: whmcsId ?? Number(row.id), seq: Number(row.id), code: row.code, uses: Number(row.uses), set_id: Number(row.set_id), batch_id: Number(row.batch_id), voided_at: row.voided_at ?? null, whmcs_id: whmcsId };
}
