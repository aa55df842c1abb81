import { CompiledQuery, sql } from 'kysely';
import type { CodeAlphabet } from '../domain/codes.js';
import type { Flag, PromoType } from '../domain/fields.js';
import type { PromotionTerms, WhmcsPromotion } from '../domain/promotion.js';
import { toWhmcsPromotion } from '../domain/promotion.js';
import { isPostgres, type Db } from './db.js';
import type { BatchRow } from './schema.js';

export interface Batch {
  id: number;
  set_id: number;
  kind: 'single' | 'bulk';
  count: number;
  code_prefix_key: string;
  code_length: number;
  code_alphabet: CodeAlphabet;
  created_by: string;
  created_at: string;
  terms: PromotionTerms;
}

function termsOf(row: Pick<BatchRow, keyof PromotionTerms>): PromotionTerms {
  return {
    type: row.type as PromoType,
    recurring: row.recurring as Flag,
    value: row.value,
    cycles: row.cycles,
    appliesto: row.appliesto,
    requires: row.requires,
    requiresexisting: row.requiresexisting as Flag,
    startdate: row.startdate,
    expirationdate: row.expirationdate,
    maxuses: row.maxuses,
    lifetimepromo: row.lifetimepromo as Flag,
    applyonce: row.applyonce as Flag,
    newsignups: row.newsignups as Flag,
    existingclient: row.existingclient as Flag,
    onceperclient: row.onceperclient as Flag,
    recurfor: row.recurfor,
    upgrades: row.upgrades as Flag,
    upgradeconfig: row.upgradeconfig,
    notes: row.notes,
  };
}

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
    terms: termsOf(row),
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
  terms: PromotionTerms;
}

export async function insertBatch(db: Db, batch: NewBatch): Promise<number> {
  const { terms, ...rest } = batch;
  const row = await db.insertInto('batches').values({ ...rest, ...terms }).returning('id').executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function findBatch(db: Db, id: number): Promise<Batch | undefined> {
  const row = await db.selectFrom('batches').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toBatch(row);
}

export async function listRecentBatches(db: Db, { setId, kind, limit = 10 }: { setId?: number; kind?: Batch['kind']; limit?: number } = {}): Promise<Batch[]> {
  let query = db.selectFrom('batches').selectAll().orderBy('id', 'desc').limit(limit);
  if (setId !== undefined) query = query.where('set_id', '=', setId);
  if (kind !== undefined) query = query.where('kind', '=', kind);
  return (await query.execute()).map(toBatch);
}

/** How many codes were ever requested for this prefix and length: the used part of the code space. */
export async function countIssuedInSpace(db: Db, prefixKey: string, codeLength: number): Promise<number> {
  const row = await db
    .selectFrom('batches')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('count'), sql<number>`0`).as('issued'))
    .where('prefix_key', '=', prefixKey)
    .where('code_length', '=', codeLength)
    .executeTakeFirstOrThrow();
  return Number(row.issued);
}

const insertSqlCache = new Map<string, string>();

/**
 * Insert codes for one batch, skipping any that collide with an existing code
 * (the unique index on lower(code)); returns how many went in. This is the hot
 * path of bulk generation, so the multi-row statement text is built once per
 * size and dialect and reused, instead of going through the query builder's
 * per-value node tree.
 */
export async function insertCodes(db: Db, setId: number, batchId: number, codes: string[]): Promise<number> {
  if (codes.length === 0) return 0;
  const postgres = isPostgres(db);
  const cacheKey = `${postgres}:${codes.length}`;
  let text = insertSqlCache.get(cacheKey);
  if (text === undefined) {
    const rows: string[] = [];
    for (let i = 0; i < codes.length; i++) rows.push(postgres ? `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})` : '(?, ?, ?)');
    text = `insert into promotions (set_id, batch_id, code) values ${rows.join(', ')} on conflict do nothing`;
    insertSqlCache.set(cacheKey, text);
  }
  const parameters: unknown[] = new Array(codes.length * 3);
  for (let i = 0; i < codes.length; i++) {
    parameters[3 * i] = setId;
    parameters[3 * i + 1] = batchId;
    parameters[3 * i + 2] = codes[i];
  }
  const result = await db.executeQuery(CompiledQuery.raw(text, parameters));
  return Number(result.numAffectedRows ?? 0n);
}

/** Which of `codes` (already lower-cased) belong to `batchId`: tells collided codes from inserted ones. */
export async function codesInBatch(db: Db, batchId: number, codes: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < codes.length; i += 500) {
    const rows = await db
      .selectFrom('promotions')
      .select('code')
      .where('batch_id', '=', batchId)
      .where(sql`lower(code)`, 'in', codes.slice(i, i + 500))
      .execute();
    for (const row of rows) found.add(row.code.toLowerCase());
  }
  return found;
}

export interface PromotionFilter {
  setId?: number;
  batchId?: number;
  /** Matched case-insensitively, through the unique index. */
  code?: string;
}

export interface PromotionRecord extends WhmcsPromotion {
  set_id: number;
  batch_id: number;
}

/**
 * One page of promotions in id order, after `afterId`: keyset paging keeps memory flat for 100k+.
 * The page reads only the narrow promotion rows, then each distinct batch's terms once: joining
 * the terms onto every row made reading 100,000 codes about 20 times slower.
 */
export async function listPromotionsPage(db: Db, filter: PromotionFilter, afterId: number, limit: number): Promise<PromotionRecord[]> {
  let query = db
    .selectFrom('promotions')
    .select(['id', 'code', 'uses', 'set_id', 'batch_id'])
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit);
  if (filter.setId !== undefined) query = query.where('set_id', '=', filter.setId);
  if (filter.batchId !== undefined) query = query.where('batch_id', '=', filter.batchId);
  if (filter.code !== undefined) query = query.where(sql`lower(code)`, '=', filter.code.trim().toLowerCase());
  const rows = await query.execute();
  if (rows.length === 0) return [];
  const batchIds = [...new Set(rows.map((row) => Number(row.batch_id)))];
  const termsByBatch = new Map<number, PromotionTerms>();
  for (let i = 0; i < batchIds.length; i += 500) {
    const batches = await db.selectFrom('batches').selectAll().where('id', 'in', batchIds.slice(i, i + 500)).execute();
    for (const batch of batches) termsByBatch.set(Number(batch.id), termsOf(batch));
  }
  return rows.map((row) => {
    const record = toWhmcsPromotion(Number(row.id), row.code, Number(row.uses), termsByBatch.get(Number(row.batch_id))!) as PromotionRecord;
    record.set_id = Number(row.set_id);
    record.batch_id = Number(row.batch_id);
    return record;
  });
}

export async function countPromotions(db: Db, filter: { setId?: number } = {}): Promise<number> {
  let query = db.selectFrom('promotions').select((eb) => eb.fn.countAll<number | string>().as('n'));
  if (filter.setId !== undefined) query = query.where('set_id', '=', filter.setId);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

/** Codes and batches per set, for list views. */
export async function countsBySet(db: Db): Promise<Map<number, { promotions: number; batches: number }>> {
  const rows = await db
    .selectFrom('batches')
    .select((eb) => ['set_id', eb.fn.sum<number | string>('count').as('promotions'), eb.fn.countAll<number | string>().as('batches')])
    .groupBy('set_id')
    .execute();
  return new Map(rows.map((r) => [Number(r.set_id), { promotions: Number(r.promotions), batches: Number(r.batches) }]));
}

export interface BatchCode {
  id: number;
  code: string;
  uses: number;
}

/** One page of a batch's codes in id order: just the narrow rows, as the terms are the batch's. */
export async function listBatchCodesPage(db: Db, batchId: number, afterId: number, limit: number): Promise<BatchCode[]> {
  const rows = await db
    .selectFrom('promotions')
    .select(['id', 'code', 'uses'])
    .where('batch_id', '=', batchId)
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
  for (const row of rows) {
    row.id = Number(row.id);
    row.uses = Number(row.uses);
  }
  return rows;
}

/** The highest promotion id: an upper bound on how many codes were ever issued, read from the primary key in O(log n). */
export async function maxPromotionId(db: Db): Promise<number> {
  const row = await db.selectFrom('promotions').select((eb) => eb.fn.max('id').as('max_id')).executeTakeFirst();
  return Number(row?.max_id ?? 0);
}
