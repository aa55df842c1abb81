import { CompiledQuery, sql, type Insertable } from 'kysely';
import type { PromotionTerms } from '../domain/promotion.js';
import { hasConsecutiveIds, type TblPromotionsTable, type WhmcsDb, type WhmcsHandle } from './db.js';

/**
 * tblpromotions rows in and uses out. Functions take the WHMCS handle (or its
 * Kysely db) first, like promoset's own repositories take `db` first.
 */

/** Rows per INSERT: 2,000 rows of ~0.5 KB stay far below max_allowed_packet (16 MB by default). */
export const WHMCS_CHUNK = 2000;
/** Codes per lookup: an IN list the code index answers in one pass. */
const LOOKUP_CHUNK = 2000;

/** The 21 columns besides `id`, in table order: all written explicitly, none left to defaults. */
export const TBL_COLUMNS = [
  'code', 'type', 'recurring', 'value', 'cycles', 'appliesto', 'requires', 'requiresexisting', 'startdate', 'expirationdate', 'maxuses',
  'uses', 'lifetimepromo', 'applyonce', 'newsignups', 'existingclient', 'onceperclient', 'recurfor', 'upgrades', 'upgradeconfig', 'notes',
] as const satisfies readonly (keyof Insertable<TblPromotionsTable>)[];

export type TblPromotionRow = Required<Omit<Insertable<TblPromotionsTable>, 'id'>>;

/**
 * A promotion as WHMCS stores it. The terms are already in WHMCS's
 * conventions (comma-joined lists, '0000-00-00' for no date, value as a
 * 2-decimal string, upgradeconfig PHP-serialized): the very values the set
 * URL returns, so the row and the reply cannot differ.
 */
export function toTblPromotion(code: string, terms: PromotionTerms): TblPromotionRow {
  return {
    code, type: terms.type, recurring: terms.recurring, value: terms.value, cycles: terms.cycles, appliesto: terms.appliesto,
    requires: terms.requires, requiresexisting: terms.requiresexisting, startdate: terms.startdate, expirationdate: terms.expirationdate,
    maxuses: terms.maxuses, uses: 0, lifetimepromo: terms.lifetimepromo, applyonce: terms.applyonce, newsignups: terms.newsignups,
    existingclient: terms.existingclient, onceperclient: terms.onceperclient, recurfor: terms.recurfor, upgrades: terms.upgrades,
    upgradeconfig: terms.upgradeconfig, notes: terms.notes,
  };
}

export interface NewWhmcsPromotion {
  code: string;
  terms: PromotionTerms;
}

/** Some of the codes already exist in WHMCS (any letter case); nothing was written. */
export class WhmcsCodeTaken extends Error {
  constructor(readonly codes: string[]) {
    super(`${codes.length} code(s) already exist in tblpromotions`);
    this.name = 'WhmcsCodeTaken';
  }
}

/** INSERT texts by row count, compiled by Kysely once and reused with new parameters. */
const insertTexts = new Map<number, string>();

function insertText(db: WhmcsDb, rows: number): string {
  let text = insertTexts.get(rows);
  if (text === undefined) {
    const placeholder = Object.fromEntries(TBL_COLUMNS.map((column) => [column, ''])) as unknown as TblPromotionRow;
    text = db.insertInto('tblpromotions').values(new Array(rows).fill(placeholder)).compile().sql;
    insertTexts.set(rows, text);
  }
  return text;
}

/**
 * Insert the promotions in ONE WHMCS transaction, in chunks of multi-row
 * INSERTs, after checking (inside it) that none of the codes exists there in
 * any letter case. Returns the new row ids in the order of `items`. On any
 * error (or if `beforeCommit` throws) nothing is committed.
 */
export async function insertWhmcsPromotions(handle: WhmcsHandle, items: NewWhmcsPromotion[], beforeCommit: () => void = () => {}): Promise<number[]> {
  if (items.length === 0) return [];
  const consecutive = await hasConsecutiveIds(handle);
  return handle.db.transaction().execute(async (trx) => {
    const taken = await findTakenCodes(trx, items.map((item) => item.code));
    if (taken.size > 0) throw new WhmcsCodeTaken([...taken]);
    const ids: number[] = new Array(items.length);
    for (let start = 0; start < items.length; start += WHMCS_CHUNK) {
      const chunk = items.slice(start, start + WHMCS_CHUNK);
      const parameters: unknown[] = new Array(chunk.length * TBL_COLUMNS.length);
      let p = 0;
      for (const { code, terms } of chunk) {
        const row = toTblPromotion(code, terms);
        for (const column of TBL_COLUMNS) parameters[p++] = row[column];
      }
      const result = await trx.executeQuery(CompiledQuery.raw(insertText(trx, chunk.length), parameters));
      if (Number(result.numAffectedRows ?? 0n) !== chunk.length) throw new Error('tblpromotions took fewer rows than were sent');
      if (consecutive) {
        const first = Number(result.insertId);
        for (let i = 0; i < chunk.length; i++) ids[start + i] = first + i;
      } else {
        const found = await findPromotionsByCodes(trx, chunk.map((item) => item.code));
        for (let i = 0; i < chunk.length; i++) ids[start + i] = found.get(chunk[i].code.toLowerCase())!.id;
      }
    }
    // A last word before COMMIT: throwing here rolls everything back.
    beforeCommit();
    return ids;
  });
}

/** Which of `codes` exist in tblpromotions, compared as WHMCS compares them (ignoring case); lower-cased. */
export async function findTakenCodes(db: WhmcsDb, codes: string[]): Promise<Set<string>> {
  const taken = new Set<string>();
  for (let i = 0; i < codes.length; i += LOOKUP_CHUNK) {
    const rows = await db.selectFrom('tblpromotions').select('code').where('code', 'in', codes.slice(i, i + LOOKUP_CHUNK)).execute();
    for (const row of rows) taken.add(row.code.toLowerCase());
  }
  return taken;
}

export interface WhmcsPromotionState {
  id: number;
  code: string;
  uses: number;
}

/** Rows found for `codes`, by lower-cased code (the lowest id when WHMCS holds duplicates). */
export async function findPromotionsByCodes(db: WhmcsDb, codes: string[]): Promise<Map<string, WhmcsPromotionState>> {
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
 * (`maxuses` 0 means unlimited). False when the guard refused it.
 */
export async function redeemWhmcsPromotion(db: WhmcsDb, id: number): Promise<boolean> {
  const result = await db
    .updateTable('tblpromotions')
    .set((eb) => ({ uses: eb('uses', '+', 1) }))
    .where('id', '=', id)
    .where((eb) => eb.or([eb('maxuses', '=', 0), eb('uses', '<', eb.ref('maxuses'))]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Give one use back (a rolled-back redemption); never below zero. */
export async function rollbackWhmcsUse(db: WhmcsDb, id: number): Promise<boolean> {
  const result = await db
    .updateTable('tblpromotions')
    .set((eb) => ({ uses: eb('uses', '-', 1) }))
    .where('id', '=', id)
    .where('uses', '>', 0)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Void: WHMCS refuses a code whose expiration date has passed, so it moves to `yesterday`. */
export async function voidWhmcsPromotions(db: WhmcsDb, ids: number[], yesterday: string): Promise<void> {
  for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
    await db.updateTable('tblpromotions').set({ expirationdate: yesterday }).where('id', 'in', ids.slice(i, i + LOOKUP_CHUNK)).execute();
  }
}

/** Restore a voided code: its own dates back ('0000-00-00' for none). */
export async function restoreWhmcsPromotion(db: WhmcsDb, id: number, dates: { startdate: string; expirationdate: string }): Promise<void> {
  await db.updateTable('tblpromotions').set(dates).where('id', '=', id).execute();
}
