import { CompiledQuery, sql } from 'kysely';
import type { CodeAlphabet } from '../domain/codes.js';
import type { Flag, PromoType } from '../domain/fields.js';
import type { PromotionTerms } from '../domain/promotion.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { isPostgres, postgresClientOf, type Db } from './db.js';
import type { BatchRow } from './schema.js';

/** Multi-row INSERT texts by shape: built once, since building them costs more than running them. */
const insertSqlCache = new Map<string, string>();

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
  /** Uses counted across its promotions; filled in by listings that show it (else 0). */
  redeemed: number;
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
const TERM_COLUMNS = Object.keys({
  type: 1, recurring: 1, value: 1, cycles: 1, appliesto: 1, requires: 1, requiresexisting: 1, startdate: 1, expirationdate: 1, maxuses: 1,
  lifetimepromo: 1, applyonce: 1, newsignups: 1, existingclient: 1, onceperclient: 1, recurfor: 1, upgrades: 1, upgradeconfig: 1, notes: 1,
} satisfies Record<keyof PromotionTerms, 1>) as (keyof PromotionTerms)[];

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
  const result = await db.executeQuery<{ id: number | string }>(CompiledQuery.raw(text, parameters));
  return result.rows.map((row) => Number(row.id)).sort((a, b) => a - b);
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
    .where((eb) => eb.or([eb('whmcs_state', 'is', null), eb('whmcs_state', '!=', 'pending')]))
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
    .where((eb) => eb.or([eb('whmcs_state', 'is', null), eb('whmcs_state', '!=', 'pending')]))
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

/** How many of this space's codes promoset has already written to WHMCS (so WHMCS's count of the space is not counted twice). */
export async function countPublishedInSpace(db: Db, prefixKey: string, codeLength: number): Promise<number> {
  const row = await db
    .selectFrom('batches')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('count'), sql<number>`0`).as('issued'))
    .where('prefix_key', '=', prefixKey)
    .where('code_length', '=', codeLength)
    .where('whmcs_state', '=', 'done')
    .executeTakeFirstOrThrow();
  return Number(row.issued);
}

/** The highest promotion id: a cheap (index-only) upper bound on how many codes exist. */
export async function maxPromotionId(db: Db): Promise<number> {
  // Raw: it runs once per group commit, where compiling the builder's query cost more than running it.
  const { rows } = await db.executeQuery<{ max: number | string | null }>(MAX_PROMOTION_ID);
  return Number(rows[0]?.max ?? 0);
}

const MAX_PROMOTION_ID = CompiledQuery.raw('select max(id) as max from promotions');

/** A code as stored: its id and its exact text. */
export interface IssuedCode {
  id: number;
  code: string;
}

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
 * per-row conflict handling, so it is the fastest way in), then the batch's
 * rows read back for their ids. COPY has no ON CONFLICT: it runs in a
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
  const { rows } = await client.query<{ id: number; code: string }>('select id, code from promotions where batch_id = $1 order by id', [batchId]);
  return rows;
}

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
    text = `insert into promotions (set_id, batch_id, code) values ${values.join(', ')} on conflict do nothing returning id, code, uses, set_id, batch_id, voided_at`;
    insertSqlCache.set(cacheKey, text);
  }
  const parameters: unknown[] = new Array(rows.length * 3);
  for (let i = 0; i < rows.length; i++) {
    parameters[3 * i] = rows[i].set_id;
    parameters[3 * i + 1] = rows[i].batch_id;
    parameters[3 * i + 2] = rows[i].code;
  }
  const result = await db.executeQuery<PromotionRow>(CompiledQuery.raw(text, parameters));
  return result.rows.map((row) => ({ id: Number(row.id), seq: Number(row.id), code: row.code, uses: Number(row.uses), set_id: Number(row.set_id), batch_id: Number(row.batch_id), voided_at: row.voided_at ?? null }));
}

export interface PromotionFilter {
  setId?: number;
  batchId?: number;
  /** Matched case-insensitively, through the unique index. */
  code?: string;
}

/** A stored promotion without its terms: those live on its batch. */
export interface PromotionRow {
  /** The id shown everywhere: its tblpromotions id when WHMCS holds it, else promoset's own. */
  id: number;
  /** promoset's own row id: the order listings page through. */
  seq: number;
  code: string;
  uses: number;
  set_id: number;
  batch_id: number;
  /** When it was voided; null while it may be used. */
  voided_at: string | null;
  /** Its tblpromotions id, when WHMCS holds it (set where the row was read with it). */
  whmcs_id?: number | null;
}

/**
 * One page of promotions in id order, after `afterId`. Keyset paging keeps
 * memory flat for 100k+, and rows stay narrow: callers attach the batch's
 * terms once per batch rather than once per row.
 */
export async function listPromotionRows(db: Db, filter: PromotionFilter, afterId: number, limit: number): Promise<PromotionRow[]> {
  let query = db
    .selectFrom('promotions')
    .select(['id', 'whmcs_id', 'code', 'uses', 'set_id', 'batch_id', 'voided_at'])
    .where('id', '>', afterId)
    .where(notPending)
    .orderBy('id')
    .limit(limit);
  if (filter.setId !== undefined) query = query.where('set_id', '=', filter.setId);
  if (filter.batchId !== undefined) query = query.where('batch_id', '=', filter.batchId);
  if (filter.code !== undefined) query = query.where(sql`lower(code)`, '=', filter.code.trim().toLowerCase());
  const rows = await query.execute();
  // pg may hand back ids as strings; SQLite already gives numbers.
  return rows.map((row) => ({
    id: Number(row.whmcs_id ?? row.id),
    seq: Number(row.id),
    code: row.code,
    uses: Number(row.uses),
    set_id: Number(row.set_id),
    batch_id: Number(row.batch_id),
    voided_at: row.voided_at ?? null,
  }));
}

/**
 * Hides promotions whose batch is still on its way into WHMCS: no listing,
 * export or lookup shows a code before WHMCS accepts it. Pending batches are
 * few (the ones in flight), found through their own index.
 */
const notPending = sql<boolean>`batch_id not in (select id from batches where whmcs_state = 'pending')`;

/**
 * Promotions ever counted or voided, word for word the predicate of the partial
 * index promotions_touched_idx (migration 009): a query that ANDs this in reads
 * only those rows (SQLite and PostgreSQL both match the index by its predicate).
 * Counts of uses and voids need nothing else: every other promotion adds zero.
 */
export const TOUCHED = sql<boolean>`(promotions.uses <> 0 or promotions.voided_at is not null)`;

export async function countPromotions(db: Db, filter: { setId?: number } = {}): Promise<number> {
  let query = db.selectFrom('promotions').select((eb) => eb.fn.countAll<number | string>().as('n')).where(notPending);
  if (filter.setId !== undefined) query = query.where('set_id', '=', filter.setId);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

/** Codes, batches and uses ("redeemed") per set, for list views. */
export async function countsBySet(db: Db): Promise<Map<number, { promotions: number; batches: number; redeemed: number }>> {
  const [rows, used] = await Promise.all([
    db
      .selectFrom('batches')
      .select((eb) => ['set_id', eb.fn.sum<number | string>('count').as('promotions'), eb.fn.countAll<number | string>().as('batches')])
      .where((eb) => eb.or([eb('whmcs_state', 'is', null), eb('whmcs_state', '!=', 'pending')]))
      .groupBy('set_id')
      .execute(),
    db
      .selectFrom('promotions')
      .select((eb) => ['set_id', eb.fn.sum<number | string>('uses').as('redeemed')])
      .where(TOUCHED)
      .where('uses', '>', 0)
      .groupBy('set_id')
      .execute(),
  ]);
  const redeemed = new Map(used.map((r) => [Number(r.set_id), Number(r.redeemed)]));
  return new Map(rows.map((r) => [Number(r.set_id), { promotions: Number(r.promotions), batches: Number(r.batches), redeemed: redeemed.get(Number(r.set_id)) ?? 0 }]));
}

/** Uses ("redeemed") per batch, for these batches. */
export async function redeemedByBatch(db: Db, batchIds: number[]): Promise<Map<number, number>> {
  if (batchIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('batches')
    .innerJoin('promotions', (join) => join.onRef('promotions.set_id', '=', 'batches.set_id').onRef('promotions.batch_id', '=', 'batches.id'))
    .select((eb) => ['batches.id', eb.fn.sum<number | string>('promotions.uses').as('redeemed')])
    .where('batches.id', 'in', batchIds)
    .where(TOUCHED)
    .where('promotions.uses', '>', 0)
    .groupBy('batches.id')
    .execute();
  return new Map(rows.map((r) => [Number(r.id), Number(r.redeemed)]));
}

/** Mark batches as on their way into WHMCS (in the transaction that wrote them). */
export async function markBatchesPending(db: Db, batchIds: number[]): Promise<void> {
  if (batchIds.length === 0) return;
  await db.updateTable('batches').set({ whmcs_state: 'pending' }).where('id', 'in', batchIds).execute();
}

/** Pending batches created before `createdBefore` (ISO): the ones repair may settle. */
export async function listPendingBatches(db: Db, createdBefore: string): Promise<{ id: number; created_at: string }[]> {
  const rows = await db.selectFrom('batches').select(['id', 'created_at']).where('whmcs_state', '=', 'pending').where('created_at', '<', createdBefore).orderBy('id').execute();
  return rows.map((row) => ({ id: Number(row.id), created_at: row.created_at }));
}

/** All codes of a batch, pending or not, in id order. */
export async function listBatchCodes(db: Db, batchId: number): Promise<string[]> {
  return (await listBatchIssued(db, batchId)).map((row) => row.code);
}

/** All promotions of a batch (id and code), pending or not, in id order. */
export async function listBatchIssued(db: Db, batchId: number): Promise<IssuedCode[]> {
  const rows = await db.selectFrom('promotions').select(['id', 'code']).where('batch_id', '=', batchId).orderBy('id').execute();
  return rows.map((row) => ({ id: Number(row.id), code: row.code }));
}

/** A batch that never reached WHMCS: its codes and its row go, as if it had never been asked for. */
export async function deleteBatchesWithCodes(db: Db, batchIds: number[]): Promise<void> {
  if (batchIds.length === 0) return;
  await db.deleteFrom('promotions').where('batch_id', 'in', batchIds).execute();
  await db.deleteFrom('batches').where('id', 'in', batchIds).execute();
}

/** Drop some codes of a pending batch (WHMCS already held them): fresh ones replace them. */
export async function deleteBatchCodes(db: Db, batchId: number, codes: string[]): Promise<void> {
  for (let i = 0; i < codes.length; i += PAIR_CHUNK) {
    await db.deleteFrom('promotions').where('batch_id', '=', batchId).where('code', 'in', codes.slice(i, i + PAIR_CHUNK)).execute();
  }
}

/**
 * Record each promotion's tblpromotions id (`pairs`: promotion id, WHMCS id)
 * and mark the batches done, so their codes show. Both sides hand out
 * consecutive ids to a batch's rows, so a run of pairs where both step by one
 * is ONE `whmcs_id = id + offset` UPDATE; what is left goes by the primary
 * key, 1,000 pairs per UPDATE.
 */
export async function finishWhmcsBatches(db: Db, batchIds: number[], pairs: [number, number][]): Promise<void> {
  const sorted = [...pairs].sort((a, b) => a[0] - b[0]);
  const scattered: [number, number][] = [];
  for (let start = 0; start < sorted.length; ) {
    let end = start + 1;
    while (end < sorted.length && sorted[end][0] === sorted[end - 1][0] + 1 && sorted[end][1] === sorted[end - 1][1] + 1) end++;
    if (end - start >= MIN_RUN) {
      const [first, whmcsFirst] = sorted[start];
      await db.updateTable('promotions').set({ whmcs_id: sql<number>`id + ${whmcsFirst - first}` }).where('id', '>=', first).where('id', '<=', sorted[end - 1][0]).execute();
    } else {
      for (let i = start; i < end; i++) scattered.push(sorted[i]);
    }
    start = end;
  }
  await updateFromPairs(db, scattered, (postgres) =>
    postgres
      ? 'update promotions set whmcs_id = v.w from unnest($1::int[], $2::int[]) as v(p, w) where promotions.id = v.p'
      : 'update promotions set whmcs_id = v.column2 from (values #) as v where promotions.id = v.column1',
  );
  if (batchIds.length > 0) await db.updateTable('batches').set({ whmcs_state: 'done' }).where('id', 'in', batchIds).where('whmcs_state', '=', 'pending').execute();
}

/** Shorter runs are cheaper in the pairs UPDATE than as statements of their own. */
const MIN_RUN = 16;

/** Copy WHMCS's `uses` (`pairs`: tblpromotions id, uses) onto the promotions holding those ids. */
export async function setUsesByWhmcsId(db: Db, pairs: [number, number][]): Promise<void> {
  await updateFromPairs(db, pairs, (postgres) =>
    postgres
      ? 'update promotions set uses = v.u from unnest($1::int[], $2::int[]) as v(w, u) where promotions.whmcs_id = v.w and promotions.uses <> v.u'
      : 'update promotions set uses = v.column2 from (values #) as v where promotions.whmcs_id = v.column1 and promotions.uses <> v.column2',
  );
}

/** One page of (tblpromotions id, uses) for promotions promoset counts as used, in whmcs_id order after `afterWhmcsId`. */
export async function countedWhmcsRowsAfter(db: Db, afterWhmcsId: number, limit: number): Promise<{ whmcsId: number; uses: number }[]> {
  const rows = await db.selectFrom('promotions').select(['whmcs_id', 'uses']).where(TOUCHED).where('uses', '<>', 0)
    .where('whmcs_id', 'is not', null).where('whmcs_id', '>', afterWhmcsId).orderBy('whmcs_id').limit(limit).execute();
  return rows.map((r) => ({ whmcsId: Number(r.whmcs_id), uses: Number(r.uses) }));
}

const PAIR_CHUNK = 1000;

/** Run an UPDATE … FROM over (key, value) pairs: two arrays on PostgreSQL, a VALUES list (`#`) on SQLite. */
async function updateFromPairs(db: Db, pairs: [string | number, number][], text: (postgres: boolean) => string): Promise<void> {
  const postgres = isPostgres(db);
  for (let i = 0; i < pairs.length; i += PAIR_CHUNK) {
    const chunk = pairs.slice(i, i + PAIR_CHUNK);
    if (postgres) {
      await db.executeQuery(CompiledQuery.raw(text(true), [chunk.map((p) => p[0]), chunk.map((p) => p[1])]));
    } else {
      await db.executeQuery(CompiledQuery.raw(text(false).replace('#', new Array(chunk.length).fill('(?, ?)').join(', ')), chunk.flat()));
    }
  }
}
