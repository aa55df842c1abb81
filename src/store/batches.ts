import { sql } from 'kysely';
import type { Batch } from '../domain/batch.js';
import type { CodeAlphabet } from '../domain/codes.js';
import { PROMOTION_TERM_COLUMNS, termsFromColumns, type PromotionTerms } from '../domain/promotion.js';
import { isPostgres, type Db } from './db.js';
import type { BatchRow } from './schema.js';
import { rawRows } from './sqlite-direct.js';

/** The batches repository: a batch row holds the terms its codes share. */

/** Multi-row INSERT texts by shape: built once, since building them costs more than running them. */
const insertSqlCache = new Map<string, string>();

/**
 * A batch that is not on its way into WHMCS (never sent, or accepted): the
 * only ones listings, counts and replays see. Its promotions are hidden the
 * same way by promotions.ts's notPending.
 */
export const batchIsSettled = sql<boolean>`(whmcs_state is null or whmcs_state <> 'pending')`;

function toBatch(row: BatchRow): Batch {
  return {
    id: Number(row.id),
    set_id: Number(row.set_id),
    kind: row.kind as Batch['kind'],
    count: Number(row.count),
    code_prefix_key: row.prefix_key,
    code_length: row.code_length,
    code_alphabet: row.code_alphabet as CodeAlphabet,
    created_by: row.created_by,
    created_at: row.created_at,
    terms: termsFromColumns(row),
    redeemed: 0,
  };
}

export interface NewBatch {
  set_id: number;
  kind: Batch['kind'];
  count: number;
  prefix_key: string;
  code_length: number;
  code_alphabet: CodeAlphabet;
  created_by: string;
  created_at: string;
  request_key?: string | null;
  terms: PromotionTerms;
}

export async function insertBatch(db: Db, batch: NewBatch): Promise<number> {
  const { terms, ...rest } = batch;
  const row = await db.insertInto('batches').values({ ...rest, ...terms }).returning('id').executeTakeFirstOrThrow();
  return Number(row.id);
}

/** The batch columns a new batch row fills, in one fixed order (the statement text is cached per row count). */
const NEW_BATCH_COLUMNS = ['set_id', 'kind', 'count', 'prefix_key', 'code_length', 'code_alphabet', 'created_by', 'created_at', 'request_key'] as const satisfies readonly (keyof NewBatch)[];
const TERM_COLUMNS = PROMOTION_TERM_COLUMNS;

/**
 * Several batch rows in one statement (the group commit of single codes);
 * ids come back in the order of `batches`. They are sorted rather than taken
 * in RETURNING order, which neither dialect promises: the rows of one
 * multi-row INSERT get increasing ids in VALUES order. Raw, cached SQL like
 * insertCodes: building this through the query builder cost more than running it.
 */
export async function insertBatches(db: Db, batches: NewBatch[]): Promise<number[]> {
  if (batches.length === 0) return [];
  const postgres = isPostgres(db);
  const width = NEW_BATCH_COLUMNS.length + TERM_COLUMNS.length;
  const cacheKey = `batches:${postgres}:${batches.length}`;
  let text = insertSqlCache.get(cacheKey);
  if (text === undefined) {
    const rows: string[] = [];
    for (let i = 0; i < batches.length; i++) {
      rows.push(`(${Array.from({ length: width }, (_, j) => (postgres ? `$${i * width + j + 1}` : '?')).join(', ')})`);
    }
    text = `insert into batches (${[...NEW_BATCH_COLUMNS, ...TERM_COLUMNS].join(', ')}) values ${rows.join(', ')} returning id`;
    insertSqlCache.set(cacheKey, text);
  }
  const parameters: unknown[] = [];
  for (const batch of batches) {
    for (const column of NEW_BATCH_COLUMNS) parameters.push(batch[column] ?? null);
    for (const column of TERM_COLUMNS) parameters.push(batch.terms[column]);
  }
  const rows = await rawRows<{ id: number | string }>(db, text, parameters);
  return rows.map((row) => Number(row.id)).sort((a, b) => a - b);
}

/**
 * The batch made for a request (an Idempotency-Key claim), if its transaction
 * committed and (with WHMCS) its codes reached WHMCS: a pending one is not handed out yet.
 */
export async function findBatchIdByRequestKey(db: Db, requestKey: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('batches')
    .select('id')
    .where('request_key', '=', requestKey)
    .where(batchIsSettled)
    .executeTakeFirst();
  return row && Number(row.id);
}

/** Remove a batch row that got no codes (its transaction goes on without it). */
export async function deleteBatch(db: Db, id: number): Promise<void> {
  await db.deleteFrom('batches').where('id', '=', id).execute();
}

export async function findBatch(db: Db, id: number): Promise<Batch | undefined> {
  const row = await db.selectFrom('batches').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toBatch(row);
}

/** Which of `batchIds` belong to sets with a webhook URL (those need a `promotions.issued` event). */
export async function batchesOfSetsWithWebhooks(db: Db, batchIds: number[]): Promise<number[]> {
  if (batchIds.length === 0) return [];
  const rows = await db
    .selectFrom('batches as b')
    .innerJoin('promo_sets as s', 's.id', 'b.set_id')
    .select('b.id')
    .where('b.id', 'in', batchIds)
    .where('s.webhook_url', 'is not', null)
    .where('s.webhook_url', '!=', '')
    .orderBy('b.id')
    .execute();
  return rows.map((row) => Number(row.id));
}

export async function listRecentBatches(db: Db, { setId, kind, limit = 10 }: { setId?: number; kind?: Batch['kind']; limit?: number } = {}): Promise<Batch[]> {
  let query = db
    .selectFrom('batches')
    .selectAll()
    .where(batchIsSettled)
    .orderBy('id', 'desc')
    .limit(limit);
  if (setId !== undefined) query = query.where('set_id', '=', setId);
  if (kind !== undefined) query = query.where('kind', '=', kind);
  return (await query.execute()).map(toBatch);
}

export async function countBatches(db: Db, setId: number): Promise<number> {
  const row = await db.selectFrom('batches').select((eb) => eb.fn.countAll<number | string>().as('n')).where('set_id', '=', setId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * How many codes were ever requested for this prefix and length: the used part
 * of the code space. `publishedOnly`: just those promoset has already written
 * to WHMCS (so WHMCS's own count of the space is not counted twice).
 */
export async function countInSpace(db: Db, prefixKey: string, codeLength: number, { publishedOnly = false } = {}): Promise<number> {
  let query = db
    .selectFrom('batches')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('count'), sql<number>`0`).as('issued'))
    .where('prefix_key', '=', prefixKey)
    .where('code_length', '=', codeLength);
  if (publishedOnly) query = query.where('whmcs_state', '=', 'done');
  return Number((await query.executeTakeFirstOrThrow()).issued);
}
