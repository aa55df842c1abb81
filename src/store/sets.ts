import type { PromoSet, SetFields } from '../domain/set.js';
import { isPostgres, type Db } from './db.js';
import type { PromoSetRow, PromoSetsTable } from './schema.js';
import { heldSqlite, rawRows } from './sqlite-direct.js';

const splitList = (text: string): string[] => (text === '' ? [] : text.split(','));

/** Columns that are not copied as they are: name_key is left out, the rest are converted (and come last, in this order). */
const CONVERTED_COLUMNS = new Set(['id', 'name_key', 'applies_to', 'requires', 'cycles', 'config_option_upgrades']);

/**
 * The one place set rows become domain sets: the columns are the fields
 * (schema.ts derives them), but for the id and the lists. A copy loop, not
 * `{ id, name_key, ...fields } = row`: that rest pattern cost ~25 µs a row,
 * paid by every group commit's set check.
 */
export function toPromoSet(row: PromoSetRow): PromoSet {
  const fields: Record<string, unknown> = {};
  for (const column in row) if (!CONVERTED_COLUMNS.has(column)) fields[column] = row[column as keyof PromoSetRow];
  fields.id = Number(row.id);
  fields.applies_to = splitList(row.applies_to);
  fields.requires = splitList(row.requires);
  fields.cycles = splitList(row.cycles);
  fields.config_option_upgrades = splitList(row.config_option_upgrades);
  return fields as unknown as PromoSet;
}

function fieldColumns(fields: SetFields) {
  return {
    ...fields,
    name_key: fields.name.toLowerCase(),
    applies_to: fields.applies_to.join(','),
    requires: fields.requires.join(','),
    cycles: fields.cycles.join(','),
    config_option_upgrades: fields.config_option_upgrades.join(','),
  } satisfies Partial<PromoSetsTable>;
}

export async function insertSet(db: Db, fields: SetFields, meta: { api_key: string; created_by: string; now: string; webhook_secret?: string | null }): Promise<PromoSet> {
  const row = await db
    .insertInto('promo_sets')
    .values({ ...fieldColumns(fields), webhook_secret: meta.webhook_secret ?? null, api_key: meta.api_key, created_by: meta.created_by, created_at: meta.now, updated_at: meta.now, archived_at: null })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toPromoSet(row);
}

export async function updateSetFields(db: Db, id: number, fields: SetFields, now: string): Promise<PromoSet> {
  const row = await db.updateTable('promo_sets').set({ ...fieldColumns(fields), updated_at: now }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  return toPromoSet(row);
}

export async function setApiKey(db: Db, id: number, apiKey: string, now: string): Promise<PromoSet> {
  const row = await db.updateTable('promo_sets').set({ api_key: apiKey, updated_at: now }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  return toPromoSet(row);
}

export async function setWebhookSecret(db: Db, id: number, secret: string | null, now: string): Promise<PromoSet> {
  const row = await db.updateTable('promo_sets').set({ webhook_secret: secret, updated_at: now }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  return toPromoSet(row);
}

export async function setArchivedAt(db: Db, id: number, archivedAt: string | null): Promise<PromoSet> {
  const row = await db.updateTable('promo_sets').set({ archived_at: archivedAt, updated_at: archivedAt ?? new Date().toISOString() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  return toPromoSet(row);
}

/** A set's row by id, for statements run directly on SQLite (sqlite-direct.ts). */
export const SET_BY_ID = 'select * from promo_sets where id = ?';

export async function findSetById(db: Db, id: number): Promise<PromoSet | undefined> {
  // In a SQLite write transaction (a group commit's set check), the statement runs directly (sqlite-direct.ts).
  const row = heldSqlite(db) ? (await rawRows<PromoSetRow>(db, SET_BY_ID, [id]))[0] : await db.selectFrom('promo_sets').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toPromoSet(row);
}

/** Statement texts by dialect and id count: built once, since compiling the query cost more than running it. */
const setsByIdsSql = new Map<string, string>();

/**
 * What a group commit reads first, in one statement (one round trip on
 * PostgreSQL): the sets of its requests by id, and the highest promotion id,
 * the cheap bound on how many codes exist that feasibility starts from.
 */
export async function findSetsAndPromotionBound(db: Db, ids: number[]): Promise<{ sets: Map<number, PromoSet>; promotionBound: number }> {
  const postgres = isPostgres(db);
  const cacheKey = `${postgres}:${ids.length}`;
  let text = setsByIdsSql.get(cacheKey);
  if (text === undefined) {
    const list = ids.length === 0 ? 'null' : ids.map((_, i) => (postgres ? `$${i + 1}` : '?')).join(', ');
    // The left join keeps the bound's row when no set matches.
    text = `select m.promotion_bound, s.* from (select max(id) as promotion_bound from promotions) m left join promo_sets s on s.id in (${list})`;
    setsByIdsSql.set(cacheKey, text);
  }
  const rows = await rawRows<PromoSetRow & { promotion_bound: number | string | null }>(db, text, ids);
  const sets = new Map<number, PromoSet>();
  // promotion_bound is the query's, not a set column: kept out of the set.
  for (const { promotion_bound: _bound, ...row } of rows) if (row.id !== null) sets.set(Number(row.id), toPromoSet(row));
  return { sets, promotionBound: Number(rows[0]?.promotion_bound ?? 0) };
}

export async function findSetByName(db: Db, name: string): Promise<PromoSet | undefined> {
  const row = await db.selectFrom('promo_sets').selectAll().where('name_key', '=', name.trim().toLowerCase()).executeTakeFirst();
  return row && toPromoSet(row);
}

export async function listSetRows(db: Db, { includeArchived = false } = {}): Promise<PromoSet[]> {
  let query = db.selectFrom('promo_sets').selectAll().orderBy('id');
  if (!includeArchived) query = query.where('archived_at', 'is', null);
  return (await query.execute()).map(toPromoSet);
}

export async function listSetNames(db: Db): Promise<{ id: number; name: string }[]> {
  const rows = await db.selectFrom('promo_sets').select(['id', 'name']).orderBy('id').execute();
  return rows.map((r) => ({ id: Number(r.id), name: r.name }));
}
