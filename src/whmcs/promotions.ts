import { CompiledQuery, sql, type Insertable } from 'kysely';
import { PROMOTION_TERM_COLUMNS, type PromotionTerms } from '../domain/promotion.js';
import { hasConsecutiveIds, type TblPromotionsTable, type WhmcsDb, type WhmcsHandle } from './db.js';

/**
 * tblpromotions rows in and uses out. Functions take the WHMCS handle (or its
 * Kysely db) first, like promoset's own repositories take `db` first.
 */

/** Rows per INSERT: 2,000 rows of ~0.5 KB stay far below max_allowed_packet (16 MB by default). */
export const WHMCS_CHUNK = 2000;
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
export function toTblPromotion(code: string, terms: PromotionTerms): TblPromotionRow {
  return { code, ...terms, uses: 0 };
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
 * One WHMCS transaction that takes promotions chunk by chunk, while the caller
 * goes on with its own work (promoset writes a bulk batch meanwhile, so the
 * two databases work at once). Each chunk's codes are looked up just before
 * it is written (ignoring case, as WHMCS compares codes) and only its free
 * codes are inserted; `settle` says which were taken. Nothing shows in WHMCS
 * before `commit`; the caller must end it with `commit` or `rollback`.
 */
export interface WhmcsBatchWriter {
  /** Queue promotions: looked up, then inserted, after everything queued before. */
  send(items: NewWhmcsPromotion[]): void;
  /** Wait for the queue: ids of every code inserted so far (by lower-cased code), and the codes WHMCS already held that were sent since the last settle. */
  settle(): Promise<{ ids: Map<string, number>; taken: string[] }>;
  /** `beforeCommit` has the last word: if it throws, nothing is committed. */
  commit(beforeCommit?: () => void): Promise<void>;
  /** Also after a failed commit: it returns the connection to the pool. */
  rollback(): Promise<void>;
}

interface QueuedChunk {
  items: NewWhmcsPromotion[];
  taken?: Promise<Set<string>>;
}

export async function openWhmcsBatch(handle: WhmcsHandle): Promise<WhmcsBatchWriter> {
  const consecutive = await hasConsecutiveIds(handle);
  const trx = await handle.db.startTransaction().execute();
  const ids = new Map<string, number>();
  let taken: string[] = [];
  const waiting: QueuedChunk[] = [];
  let queue: Promise<void> = Promise.resolve();
  let failure: { error: unknown } | undefined;
  let ended = false;

  // On a pool connection, not the transaction's: a plain read sees what the
  // transaction's own (non-locking) read would, and the next chunk's lookup
  // runs while this chunk's INSERT does.
  const lookUp = (chunk: QueuedChunk) => (chunk.taken ??= findTakenCodes(handle.db, chunk.items.map((item) => item.code)));

  const writeNext = async (): Promise<void> => {
    const chunk = waiting.shift()!;
    const lookup = lookUp(chunk);
    if (waiting.length > 0) lookUp(waiting[0]).catch(() => {}); // its failure is reported when its turn comes
    const takenHere = await lookup;
    const free = takenHere.size === 0 ? chunk.items : chunk.items.filter((item) => !takenHere.has(item.code.toLowerCase()));
    if (takenHere.size > 0) for (const item of chunk.items) if (takenHere.has(item.code.toLowerCase())) taken.push(item.code);
    if (free.length === 0) return;
    const parameters: unknown[] = new Array(free.length * TBL_COLUMNS.length);
    let p = 0;
    for (const { code, terms } of free) {
      const row = toTblPromotion(code, terms);
      for (const column of TBL_COLUMNS) parameters[p++] = row[column];
    }
    const result = await trx.executeQuery(CompiledQuery.raw(insertText(trx, free.length), parameters));
    if (Number(result.numAffectedRows ?? 0n) !== free.length) throw new Error('tblpromotions took fewer rows than were sent');
    if (consecutive) {
      const first = Number(result.insertId);
      for (let i = 0; i < free.length; i++) ids.set(free[i].code.toLowerCase(), first + i);
    } else {
      for (const [code, row] of await findWhmcsPromotionsByCodes(trx, free.map((item) => item.code))) ids.set(code, row.id);
    }
  };

  const writer: WhmcsBatchWriter = {
    send(items) {
      for (let start = 0; start < items.length; start += WHMCS_CHUNK) {
        waiting.push({ items: items.slice(start, start + WHMCS_CHUNK) });
        // After a failure the rest is skipped: settle reports the first error.
        queue = queue
          .then(() => (failure ? void waiting.shift() : writeNext()))
          .catch((error: unknown) => {
            failure ??= { error };
          });
      }
    },
    async settle() {
      await queue;
      if (failure) throw failure.error;
      const takenNow = taken;
      taken = [];
      return { ids, taken: takenNow };
    },
    async commit(beforeCommit = () => {}) {
      await writer.settle();
      beforeCommit();
      await trx.commit().execute();
      ended = true;
    },
    async rollback() {
      if (ended) return;
      ended = true;
      await queue;
      await trx.rollback().execute().catch(() => {
        // The connection is gone already, and with it the transaction.
      });
    },
  };
  return writer;
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
