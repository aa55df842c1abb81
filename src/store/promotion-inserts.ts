import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CompiledQuery } from 'kysely';
import { from as copyFrom } from 'pg-copy-streams';
import type { IssuedCode } from '../domain/batch.js';
import { isPostgres, postgresClientOf, type Db } from './db.js';
import { PROMOTION_RETURNING, toPromotionRow, type PromotionRow, type StoredPromotion } from './promotions.js';
import { rawRows } from './sqlite-direct.js';

/**
 * The ways codes go in: insertCodes (a batch's chunk, multi-row or unnest),
 * copyCodes (PostgreSQL COPY, bulk), insertPromotionsReturning (one code per
 * batch, group commit). Each skips codes that collide with stored ones.
 */

/** Multi-row INSERT texts by shape: built once, since building them costs more than running them. */
const insertSqlCache = new Map<string, string>();

/** The highest promotion id: a cheap (index-only) upper bound on how many codes exist. */
export async function maxPromotionId(db: Db): Promise<number> {
  // Raw: it runs once per group commit, where compiling the builder's query cost more than running it.
  const { rows } = await db.executeQuery<{ max: number | string | null }>(MAX_PROMOTION_ID);
  return Number(rows[0]?.max ?? 0);
}

const MAX_PROMOTION_ID = CompiledQuery.raw('select max(id) as max from promotions');


/**
 * Insert codes for one batch, skipping any that collide with an existing code
 * (the unique index on lower(code)); returns the rows that went in, so the
 * caller can answer with them without reading the batch back, and tell the
 * collided codes by their absence. This is the hot path of bulk generation,
 * so the statement text is built once per size (and cached) instead of going
 * through the query builder's per-value node tree.
 */
export async function insertCodes(db: Db, setId: number, batchId: number, codes: string[]): Promise<IssuedCode[]> {
  if (codes.length === 0) return [];
  if (isPostgres(db)) {
    // One array parameter instead of three per row: PostgreSQL parses and plans it once.
    const { rows } = await db.executeQuery<IssuedCode>(CompiledQuery.raw(INSERT_CODES_POSTGRES, [setId, batchId, codes]));
    // serial ids are int4, which pg already parses; a bigint id would come back as a string.
    if (rows.length > 0 && typeof rows[0].id !== 'number') for (const row of rows) row.id = Number(row.id);
    return rows;
  }
  let text = insertSqlCache.get(`codes:${codes.length}`);
  if (text === undefined) {
    text = `insert into promotions (set_id, batch_id, code) values ${new Array(codes.length).fill('(?, ?, ?)').join(', ')} on conflict do nothing`;
    insertSqlCache.set(`codes:${codes.length}`, text);
  }
  const parameters: unknown[] = new Array(codes.length * 3);
  for (let i = 0; i < codes.length; i++) {
    parameters[3 * i] = setId;
    parameters[3 * i + 1] = batchId;
    parameters[3 * i + 2] = codes[i];
  }
  // SQLite differs from its twin above: no RETURNING, whose row objects were ~65 of
  // ~170 ms for 100,000 codes in better-sqlite3. Under the write
  // transaction's lock each VALUES row takes the next rowid in order, so when
  // every row went in, the ids are the last insert id's run.
  const { numAffectedRows, insertId } = await db.executeQuery(CompiledQuery.raw(text, parameters));
  const inserted = Number(numAffectedRows ?? 0);
  const lastId = Number(insertId ?? 0);
  if (inserted === codes.length) return codes.map((code, i) => ({ id: lastId - inserted + 1 + i, code }));
  if (inserted === 0) return [];
  // Some collided: read the rows back. Each VALUES row takes at most one rowid, so this
  // statement's rows all lie above lastId - codes.length; earlier rows of the batch there are left out by code.
  const mine = new Set(codes);
  const { rows } = await db.executeQuery<IssuedCode>(CompiledQuery.raw(READ_BACK_CODES_SQLITE, [batchId, lastId - codes.length]));
  return rows.filter((row) => mine.has(row.code));
}

const READ_BACK_CODES_SQLITE = 'select id, code from promotions where batch_id = ? and id > ? order by id';

/**
 * PostgreSQL's faster twin of insertCodes for a whole batch: one COPY (no
 * per-row conflict handling, so it is the fastest way in); the ids are the
 * run between the batch's lowest and highest id when that run is as long as
 * the batch (else its rows are read back). COPY has no ON CONFLICT: it runs in a
 * savepoint, and if any code is already taken nothing of it stays and
 * undefined comes back; the caller then inserts with insertCodes, which
 * skips collisions. Also undefined if the connection's client is not known.
 */
export async function copyCodes(trx: Db, setId: number, batchId: number, codes: string[], onChunk?: (sent: number) => void): Promise<IssuedCode[] | undefined> {
  const client = await postgresClientOf(trx);
  if (client === undefined) return undefined;
  await client.query('savepoint copy_codes');
  try {
    const prefix = `${setId}\t${batchId}\t`;
    // Codes are [A-Za-z0-9._-]: nothing in them needs COPY's text escaping.
    async function* lines() {
      for (let i = 0; i < codes.length; i += COPY_PIECE) {
        const end = Math.min(codes.length, i + COPY_PIECE);
        let piece = '';
        for (let j = i; j < end; j++) piece += prefix + codes[j] + '\n';
        yield piece;
        onChunk?.(end);
      }
    }
    await pipeline(Readable.from(lines()), client.query(copyFrom('copy promotions (set_id, batch_id, code) from stdin')));
    await client.query('release savepoint copy_codes');
  } catch (error) {
    await client.query('rollback to savepoint copy_codes');
    if ((error as { code?: string }).code === '23505') return undefined;
    throw error;
  }
  // COPY took each row's id from the sequence in input order. When no other writer drew from
  // it meanwhile, the batch's ids are one run, and the two ends (two index probes) say so:
  // nothing else is read back. Otherwise the rows are read back for their ids.
  const { rows: [ends] } = await client.query<{ first: number | null; last: number | null }>(BATCH_ID_ENDS, [batchId]);
  const first = Number(ends?.first);
  if (Number(ends?.last) - first + 1 === codes.length) return codes.map((code, i) => ({ id: first + i, code }));
  const { rows } = await client.query<{ id: number; code: string }>('select id, code from promotions where batch_id = $1 order by id', [batchId]);
  return rows;
}

const BATCH_ID_ENDS = 'select min(id) as first, max(id) as last from promotions where batch_id = $1';

/** Rows per piece written to COPY (and per progress report, as insertCodes chunks). */
const COPY_PIECE = 2000;

const INSERT_CODES_POSTGRES = 'insert into promotions (set_id, batch_id, code) select $1, $2, unnest($3::text[]) on conflict do nothing returning id, code';

export interface NewPromotion {
  set_id: number;
  batch_id: number;
  code: string;
}

/**
 * One code per row, each for its own batch, skipping any that collide with a
 * stored code (the unique index on lower(code)); returns the rows that went
 * in, so callers need no read-back and can tell collided rows by batch id.
 */
export async function insertPromotionsReturning(db: Db, rows: NewPromotion[]): Promise<PromotionRow[]> {
  if (rows.length === 0) return [];
  const postgres = isPostgres(db);
  const cacheKey = `returning:${postgres}:${rows.length}`;
  let text = insertSqlCache.get(cacheKey);
  if (text === undefined) {
    const values: string[] = [];
    for (let i = 0; i < rows.length; i++) values.push(postgres ? `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})` : '(?, ?, ?)');
    text = `insert into promotions (set_id, batch_id, code) values ${values.join(', ')} on conflict do nothing ${PROMOTION_RETURNING}`;
    insertSqlCache.set(cacheKey, text);
  }
  const parameters: unknown[] = new Array(rows.length * 3);
  for (let i = 0; i < rows.length; i++) {
    parameters[3 * i] = rows[i].set_id;
    parameters[3 * i + 1] = rows[i].batch_id;
    parameters[3 * i + 2] = rows[i].code;
  }
  return (await rawRows<StoredPromotion>(db, text, parameters)).map(toPromotionRow);
}
