import { CompiledQuery, sql, type Insertable } from 'kysely';
import { escape } from 'mysql2';
import { PROMOTION_TERM_COLUMNS, type PromotionTerms } from '../domain/promotion.js';
import type { TblPromotionsTable, WhmcsDb } from './db.js';

/**
 * tblpromotions rows: their shape, lookups, uses in and out, voiding and
 * dates. Writing a batch of new rows is batch-writer.ts. Functions take the
 * WHMCS handle (or its Kysely db) first, like promoset's own repositories
 * take `db` first.
 */

/** Codes per lookup: an IN list the code index answers in one pass. */
const LOOKUP_CHUNK = 2000;

/** The 21 columns besides `id` (the code, the terms, uses): all written explicitly, none left to defaults. */
export const TBL_COLUMNS = ['code', ...PROMOTION_TERM_COLUMNS, 'uses'] as const satisfies readonly (keyof Insertable<TblPromotionsTable>)[];

export type TblPromotionRow = Required<Omit<Insertable<TblPromotionsTable>, 'id'>>;

/**
 * A promotion as WHMCS stores it. The terms are already in WHMCS's
 * conventions (comma-joined lists, '0000-00-00' for no date, value as a
 * 2-decimal string, upgradeconfig PHP-serialized): the very values the set
 * URL returns, so the row and the reply cannot differ.
 */
export function toTblPromotion(code: string, terms: PromotionTerms, uses = 0): TblPromotionRow {
  return { code, ...terms, uses };
}

/**
 * Which of `codes` exist in tblpromotions, compared as WHMCS compares them (ignoring case); lower-cased.
 * Each slice first asks whether any row at all lies between its least and greatest code: one index
 * dive, where the IN list costs MariaDB a dive per code (~0.6 s of its CPU for a 100k batch, beside
 * the batch's INSERTs on a 2-core box). Only a slice whose range holds rows (a space WHMCS already
 * has codes in) pays for the IN list. Both texts are escaped here: Kysely's builder took ~10 ms of
 * node's CPU per 2,000 codes.
 */
export async function findTakenCodes(db: WhmcsDb, codes: string[]): Promise<Set<string>> {
  const taken = new Set<string>();
  for (let i = 0; i < codes.length; i += LOOKUP_CHUNK) {
    const slice = codes.slice(i, i + LOOKUP_CHUNK);
    const bounds = collationBounds(slice);
    if (bounds && !(await anyCodeBetween(db, bounds))) continue;
    const list = slice.map((code) => escape(code)).join(', ');
    const { rows } = await db.executeQuery<{ code: string }>(CompiledQuery.raw(`select code from tblpromotions where code in (${list})`, []));
    for (const row of rows) taken.add(row.code.toLowerCase());
  }
  return taken;
}

/**
 * The least and greatest of `codes` in the column's order (utf8_unicode_ci), when plain string order
 * is sure to be that order: codes of one length that differ only in upper-case letters and digits
 * after their common prefix (digits come before letters, letters go A to Z, in both orders). Every
 * code WHMCS holds equal to one of them then sorts between the two. Otherwise undefined.
 */
export function collationBounds(codes: string[]): [string, string] | undefined {
  if (codes.length === 0) return undefined;
  let least = codes[0];
  let greatest = codes[0];
  for (const code of codes) {
    if (code < least) least = code;
    if (code > greatest) greatest = code;
  }
  let common = 0;
  while (common < least.length && least[common] === greatest[common]) common++;
  for (const code of codes) {
    if (code.length !== least.length || !UPPER_ALNUM.test(code.slice(common))) return undefined;
  }
  return [least, greatest];
}

const UPPER_ALNUM = /^[0-9A-Z]*$/;

async function anyCodeBetween(db: WhmcsDb, [least, greatest]: [string, string]): Promise<boolean> {
  const { rows } = await db.executeQuery(CompiledQuery.raw(`select 1 from tblpromotions where code between ${escape(least)} and ${escape(greatest)} limit 1`, []));
  return rows.length > 0;
}

export interface WhmcsPromotionState {
  id: number;
  code: string;
  uses: number;
}

/** Rows found for `codes`, by lower-cased code (the lowest id when WHMCS holds duplicates). */
export async function findWhmcsPromotionsByCodes(db: WhmcsDb, codes: string[]): Promise<Map<string, WhmcsPromotionState>> {
  const found = new Map<string, WhmcsPromotionState>();
  for (let i = 0; i < codes.length; i += LOOKUP_CHUNK) {
    const rows = await db.selectFrom('tblpromotions').select(['id', 'code', 'uses']).where('code', 'in', codes.slice(i, i + LOOKUP_CHUNK)).orderBy('id').execute();
    for (const row of rows) {
      const key = row.code.toLowerCase();
      if (!found.has(key)) found.set(key, { id: Number(row.id), code: row.code, uses: Number(row.uses) });
    }
  }
  return found;
}

/** `uses` of the rows with these ids. */
export async function readUses(db: WhmcsDb, ids: number[]): Promise<Map<number, number>> {
  const uses = new Map<number, number>();
  for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
    const rows = await db.selectFrom('tblpromotions').select(['id', 'uses']).where('id', 'in', ids.slice(i, i + LOOKUP_CHUNK)).execute();
    for (const row of rows) uses.set(Number(row.id), Number(row.uses));
  }
  return uses;
}

/** One page of (id, uses) for rows with any use, in id order after `afterId`: what the uses sync copies. */
export async function usedRowsAfter(db: WhmcsDb, afterId: number, limit: number): Promise<{ id: number; uses: number }[]> {
  const rows = await db.selectFrom('tblpromotions').select(['id', 'uses']).where('id', '>', afterId).where('uses', '>', 0).orderBy('id').limit(limit).execute();
  return rows.map((row) => ({ id: Number(row.id), uses: Number(row.uses) }));
}

/** The highest row id: a cheap bound on how many codes WHMCS holds (for feasibility). */
export async function maxWhmcsPromotionId(db: WhmcsDb): Promise<number> {
  const row = await db.selectFrom('tblpromotions').select((eb) => eb.fn.max('id').as('max')).executeTakeFirst();
  return Number(row?.max ?? 0);
}

/**
 * How many WHMCS codes have this prefix and random-part length (case-insensitively,
 * as promoset's own code space is counted): codes there use up the space too.
 */
export async function countWhmcsCodesInSpace(db: WhmcsDb, prefix: string, length: number): Promise<number> {
  const head = prefix ? `${prefix}-` : '';
  const pattern = head.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
  const row = await db
    .selectFrom('tblpromotions')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('code', 'like', pattern)
    .where(sql<number>`char_length(code)`, '=', head.length + length)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Count one use, as WHMCS's checkout does, unless the row is used up
 * (`maxuses` 0 means unlimited): ONE guarded UPDATE whose row count decides,
 * so promoset and WHMCS's own checkout share one counter. Returns `uses` after
 * this increment (LAST_INSERT_ID(expr) hands this connection's own value back,
 * whatever other connections do meanwhile), or undefined when the guard refused.
 */
export async function redeemWhmcsPromotion(db: WhmcsDb, id: number): Promise<number | undefined> {
  return db.connection().execute(async (conn) => {
    const result = await conn
      .updateTable('tblpromotions')
      .set({ uses: sql<number>`last_insert_id(uses + 1)` })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('maxuses', '=', 0), eb('uses', '<', eb.ref('maxuses'))]))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    return lastInsertId(conn);
  });
}

/** Give one use back (a rolled-back redemption); never below zero. Returns `uses` after it, or undefined when it was 0. */
export async function rollbackWhmcsUse(db: WhmcsDb, id: number): Promise<number | undefined> {
  return db.connection().execute(async (conn) => {
    const result = await conn
      .updateTable('tblpromotions')
      .set({ uses: sql<number>`last_insert_id(uses - 1)` })
      .where('id', '=', id)
      .where('uses', '>', 0)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    return lastInsertId(conn);
  });
}

/** Count a use back without the maxuses guard: only to undo a rollback whose promoset side did not commit. */
export async function restoreWhmcsUse(db: WhmcsDb, id: number): Promise<void> {
  await db.updateTable('tblpromotions').set((eb) => ({ uses: eb('uses', '+', 1) })).where('id', '=', id).execute();
}

/** Add uses counted elsewhere meanwhile (a backfilled code redeemed in promoset while its row was written). */
export async function addWhmcsUses(db: WhmcsDb, id: number, delta: number): Promise<void> {
  await db.updateTable('tblpromotions').set((eb) => ({ uses: eb('uses', '+', delta) })).where('id', '=', id).execute();
}

async function lastInsertId(conn: WhmcsDb): Promise<number> {
  const { rows } = await sql<{ value: number | string }>`select last_insert_id() as value`.execute(conn);
  return Number(rows[0].value);
}

/** Id ranges per UPDATE: each is two parameters, far below MariaDB's 65,535. */
const RANGES_PER_STATEMENT = 1000;

/**
 * Consecutive ids collapse into ranges: a bulk batch's rows were inserted
 * with consecutive AUTO_INCREMENT ids, so its 100,000 codes are usually ONE
 * `id between a and b` (and only ids of the list are ever touched).
 */
export function idRanges(ids: number[]): [number, number][] {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const id of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && id === last[1] + 1) last[1] = id;
    else ranges.push([id, id]);
  }
  return ranges;
}

/** Set the dates of the rows with these ids: a statement per 1,000 id ranges. */
export async function setWhmcsDates(db: WhmcsDb, ids: number[], dates: { startdate?: string; expirationdate: string }): Promise<void> {
  const ranges = idRanges(ids);
  for (let i = 0; i < ranges.length; i += RANGES_PER_STATEMENT) {
    const chunk = ranges.slice(i, i + RANGES_PER_STATEMENT);
    await db
      .updateTable('tblpromotions')
      .set(dates)
      .where((eb) => eb.or(chunk.map(([from, to]) => (from === to ? eb('id', '=', from) : eb.between('id', from, to)))))
      .execute();
  }
}

/** Void: WHMCS refuses a code whose expiration date has passed, so it moves to `yesterday`. */
export async function voidWhmcsPromotions(db: WhmcsDb, ids: number[], yesterday: string): Promise<void> {
  await setWhmcsDates(db, ids, { expirationdate: yesterday });
}

/** Restore a voided code: its own dates back ('0000-00-00' for none). */
export async function restoreWhmcsPromotion(db: WhmcsDb, id: number, dates: { startdate: string; expirationdate: string }): Promise<void> {
  await setWhmcsDates(db, [id], dates);
}
