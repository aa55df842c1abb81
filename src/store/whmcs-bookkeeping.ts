import { CompiledQuery, sql } from 'kysely';
import type { IssuedCode } from '../domain/batch.js';
import { isPostgres, type Db } from './db.js';
import { TOUCHED } from './promotions.js';

/** What promoset records of WHMCS: batches on their way into it, tblpromotions ids, WHMCS's uses. */

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

/**
 * A batch that never reached WHMCS: its codes and its row go, as if it had never been asked for.
 * promotions carries no foreign key (migration 018): the batch rows are locked first, so a
 * transaction adding codes to one (lockPendingBatch) either commits before the codes are
 * deleted, or finds the batch gone.
 */
export async function deleteBatchesWithCodes(db: Db, batchIds: number[]): Promise<void> {
  if (batchIds.length === 0) return;
  if (isPostgres(db)) await db.selectFrom('batches').select('id').where('id', 'in', batchIds).orderBy('id').forUpdate().execute();
  await db.deleteFrom('promotions').where('batch_id', 'in', batchIds).execute();
  await db.deleteFrom('batches').where('id', 'in', batchIds).execute();
}

/**
 * Before adding codes to a batch written by an earlier transaction: lock its row (PostgreSQL;
 * SQLite's write transaction holds the whole database) and say whether it is still pending.
 * Repair or an abandoned write may have deleted it, and no foreign key would refuse the codes.
 */
export async function lockPendingBatch(db: Db, batchId: number): Promise<boolean> {
  let query = db.selectFrom('batches').select('id').where('id', '=', batchId).where('whmcs_state', '=', 'pending');
  if (isPostgres(db)) query = query.forUpdate();
  return (await query.executeTakeFirst()) !== undefined;
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
  await recordWhmcsIds(db, pairs);
  if (batchIds.length > 0) await db.updateTable('batches').set({ whmcs_state: 'done' }).where('id', 'in', batchIds).where('whmcs_state', '=', 'pending').execute();
}

/** Each promotion's tblpromotions id (`pairs`: promotion id, WHMCS id), by runs as finishWhmcsBatches says. */
export async function recordWhmcsIds(db: Db, pairs: [number, number][]): Promise<void> {
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

/** The tblpromotions ids of a batch's promotions, with whether each is voided now (for void's WHMCS side). */
export async function listBatchWhmcsIds(db: Db, batchId: number): Promise<{ whmcsId: number; voided: boolean }[]> {
  const rows = await db.selectFrom('promotions').select(['whmcs_id', 'voided_at']).where('batch_id', '=', batchId).where('whmcs_id', 'is not', null).execute();
  return rows.map((row) => ({ whmcsId: Number(row.whmcs_id), voided: row.voided_at !== null }));
}
