import { sql } from 'kysely';
import { emailKey, type Binding } from '../domain/binding.js';
import type { Db } from './db.js';

/**
 * Customer bindings of promotions (migration 014_bindings), keyed by
 * promoset's own promotion id. Written in the transaction that issues the
 * codes; never changed after.
 */

/** Rows per INSERT: 5 parameters each, far below either dialect's limit. */
const CHUNK = 500;

export async function insertBindings(db: Db, setId: number, rows: { promotionId: number; binding: Binding }[], createdAt: string): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await db
      .insertInto('promotion_bindings')
      .values(rows.slice(i, i + CHUNK).map(({ promotionId, binding }) => ({
        promotion_id: promotionId, set_id: setId, client_id: binding.client_id, client_email: binding.client_email,
        email_key: binding.client_email === null ? null : emailKey(binding.client_email), created_at: createdAt,
      })))
      .execute();
  }
}

/** Bindings of these promotions (promoset ids); unbound ones are absent. */
export async function bindingsOf(db: Db, promotionIds: number[]): Promise<Map<number, Binding>> {
  const found = new Map<number, Binding>();
  for (let i = 0; i < promotionIds.length; i += CHUNK) {
    const rows = await db.selectFrom('promotion_bindings').select(['promotion_id', 'client_id', 'client_email']).where('promotion_id', 'in', promotionIds.slice(i, i + CHUNK)).execute();
    for (const row of rows) found.set(Number(row.promotion_id), toBinding(row));
  }
  return found;
}

/** Bindings of the promotions with ids in [from, to] (one page of a listing), in one range read. */
export async function bindingsInRange(db: Db, from: number, to: number): Promise<Map<number, Binding>> {
  const rows = await db.selectFrom('promotion_bindings').select(['promotion_id', 'client_id', 'client_email']).where('promotion_id', '>=', from).where('promotion_id', '<=', to).execute();
  return new Map(rows.map((row) => [Number(row.promotion_id), toBinding(row)]));
}

/** A batch's bound codes, in id order. */
export async function listBatchBindings(db: Db, setId: number, batchId: number): Promise<{ code: string; binding: Binding }[]> {
  // Driven from the (small) bindings table by set: an unbound batch costs one index probe, not a scan of its codes.
  const rows = await db
    .selectFrom('promotion_bindings')
    .innerJoin('promotions', 'promotions.id', 'promotion_bindings.promotion_id')
    .select(['promotions.code', 'promotion_bindings.client_id', 'promotion_bindings.client_email'])
    .where('promotion_bindings.set_id', '=', setId)
    .where('promotions.batch_id', '=', batchId)
    .orderBy('promotions.id')
    .execute();
  return rows.map((row) => ({ code: row.code, binding: toBinding(row) }));
}

export async function findBinding(db: Db, promotionId: number): Promise<Binding | undefined> {
  return (await bindingsOf(db, [promotionId])).get(promotionId);
}

/** The binding of a code (any letter case), in one indexed lookup; undefined when unbound or unknown. */
export async function findBindingByCode(db: Db, code: string, setId?: number): Promise<Binding | undefined> {
  let query = db
    .selectFrom('promotions')
    .innerJoin('promotion_bindings', 'promotion_bindings.promotion_id', 'promotions.id')
    .select(['promotion_bindings.client_id', 'promotion_bindings.client_email'])
    .where(sql`lower(promotions.code)`, '=', code.trim().toLowerCase());
  if (setId !== undefined) query = query.where('promotions.set_id', '=', setId);
  const row = await query.executeTakeFirst();
  return row && toBinding(row);
}

/** Bindings of a batch's promotions by code (lower-cased), for moving them onto replacement codes. */
export async function bindingsOfBatchCodes(db: Db, batchId: number, codes: string[]): Promise<Map<string, Binding>> {
  const found = new Map<string, Binding>();
  for (let i = 0; i < codes.length; i += CHUNK) {
    const rows = await db
      .selectFrom('promotions')
      .innerJoin('promotion_bindings', 'promotion_bindings.promotion_id', 'promotions.id')
      .select(['promotions.code', 'promotion_bindings.client_id', 'promotion_bindings.client_email'])
      .where('promotions.batch_id', '=', batchId)
      .where('promotions.code', 'in', codes.slice(i, i + CHUNK))
      .execute();
    for (const row of rows) found.set(row.code.toLowerCase(), toBinding(row));
  }
  return found;
}

export async function deleteBindings(db: Db, promotionIds: number[]): Promise<void> {
  for (let i = 0; i < promotionIds.length; i += CHUNK) {
    await db.deleteFrom('promotion_bindings').where('promotion_id', 'in', promotionIds.slice(i, i + CHUNK)).execute();
  }
}

export interface BoundPromotion {
  seq: number;
  id: number;
  code: string;
  set_id: number;
  batch_id: number;
  uses: number;
  voided: boolean;
  binding: Binding;
}

/** The promotions bound to one customer (by client id or e-mail), newest first. */
export async function findBoundPromotions(db: Db, customer: { clientId: number } | { email: string }, limit: number): Promise<BoundPromotion[]> {
  let query = db
    .selectFrom('promotion_bindings')
    .innerJoin('promotions', 'promotions.id', 'promotion_bindings.promotion_id')
    .select(['promotions.id', 'promotions.whmcs_id', 'promotions.code', 'promotions.set_id', 'promotions.batch_id', 'promotions.uses', 'promotions.voided_at', 'promotion_bindings.client_id', 'promotion_bindings.client_email']);
  query = 'clientId' in customer ? query.where('promotion_bindings.client_id', '=', customer.clientId) : query.where('promotion_bindings.email_key', '=', emailKey(customer.email));
  const rows = await query.orderBy('promotions.id', 'desc').limit(limit).execute();
  return rows.map((row) => ({
    seq: Number(row.id), id: row.whmcs_id === null ? Number(row.id) : Number(row.whmcs_id), code: row.code, set_id: Number(row.set_id),
    batch_id: Number(row.batch_id), uses: Number(row.uses), voided: row.voided_at !== null, binding: toBinding(row),
  }));
}

/** How many of a set's codes are bound to a customer (for `/promo info`). */
export async function countBoundInSet(db: Db, setId: number): Promise<number> {
  const row = await db.selectFrom('promotion_bindings').select((eb) => eb.fn.countAll<number | string>().as('n')).where('set_id', '=', setId).executeTakeFirstOrThrow();
  return Number(row.n);
}

function toBinding(row: { client_id: number | string | null; client_email: string | null }): Binding {
  return { client_id: row.client_id === null ? null : Number(row.client_id), client_email: row.client_email };
}
