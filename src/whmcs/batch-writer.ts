/**
 * Writing new tblpromotions rows, a batch at a time, in one WHMCS transaction
 * that runs beside promoset's own (issuing and the backfill use it).
 */
import { CompiledQuery } from 'kysely';
import { PROMOTION_TERM_COLUMNS, type PromotionTerms } from '../domain/promotion.js';
import { hasConsecutiveIds, type WhmcsHandle } from './db.js';
import { escape } from 'mysql2';
import { findTakenCodes, findWhmcsPromotionsByCodes, TBL_COLUMNS } from './promotions.js';

/** Rows per INSERT: 2,000 rows of ~0.5 KB stay far below max_allowed_packet (16 MB by default). */
export const WHMCS_CHUNK = 2000;

export interface NewWhmcsPromotion {
  code: string;
  terms: PromotionTerms;
  /** Uses already counted (a backfilled code's promoset count); 0 for a new code. */
  uses?: number;
  /** promoset's row for the code: named to `onInserted` with its tblpromotions id. */
  promotionId?: number;
}

/** (promotion id, tblpromotions id) of a chunk's rows as WHMCS inserted them, before anything is committed. */
export type InsertedIds = (pairs: [number, number][]) => void;

/** Some of the codes already exist in WHMCS (any letter case); nothing was written. */
export class WhmcsCodeTaken extends Error {
  constructor(readonly codes: string[]) {
    super(`${codes.length} code(s) already exist in tblpromotions`);
    this.name = 'WhmcsCodeTaken';
  }
}

/**
 * The INSERT as one text, escaped here rather than bound by Kysely and mysql2:
 * binding 21 values a row cost node ~1.2 s of CPU per 100,000 rows, while
 * MariaDB waited for each chunk (bench/whmcs.ts). A batch's rows share their
 * terms, so those are escaped once per terms object; only code and uses vary.
 * Escaping with backslashes is right for the sql_mode '' every WHMCS
 * connection runs with (db.ts), as mysql2's own formatting assumes.
 */
const INSERT_HEAD = `insert into tblpromotions (${TBL_COLUMNS.join(', ')}) values `;
const termsLiterals = new WeakMap<PromotionTerms, string>();

function insertText(items: NewWhmcsPromotion[]): string {
  const rows: string[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const { code, terms, uses = 0 } = items[i];
    let literals = termsLiterals.get(terms);
    if (literals === undefined) {
      literals = PROMOTION_TERM_COLUMNS.map((column) => escape(terms[column])).join(', ');
      termsLiterals.set(terms, literals);
    }
    rows[i] = `(${escape(code)}, ${literals}, ${escape(uses)})`;
  }
  return INSERT_HEAD + rows.join(', ');
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

export async function openWhmcsBatch(handle: WhmcsHandle, onInserted?: InsertedIds): Promise<WhmcsBatchWriter> {
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
    const result = await trx.executeQuery(CompiledQuery.raw(insertText(free), []));
    if (Number(result.numAffectedRows ?? 0n) !== free.length) throw new Error('tblpromotions took fewer rows than were sent');
    if (consecutive) {
      const first = Number(result.insertId);
      for (let i = 0; i < free.length; i++) ids.set(free[i].code.toLowerCase(), first + i);
    } else {
      for (const [code, row] of await findWhmcsPromotionsByCodes(trx, free.map((item) => item.code))) ids.set(code, row.id);
    }
    if (onInserted) onInserted(free.flatMap((item): [number, number][] => (item.promotionId === undefined ? [] : [[item.promotionId, ids.get(item.code.toLowerCase())!]])));
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
