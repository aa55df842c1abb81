import { CompiledQuery } from 'kysely';
import { PROMOTION_TERM_COLUMNS } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import type { NewBatch } from './batches.js';
import { postgresPoolOf, type Db } from './db.js';
import { toPromotionRow, type PromotionRow, type StoredPromotion } from './promotions.js';
import { cachedSetChecks } from './redemptions-postgres.js';

/**
 * PostgreSQL only: a group commit's single codes in one round trip, on their
 * own (no BEGIN/COMMIT: one statement is all or nothing). The function
 * promoset_issue (migration 021, store/migrations.ts) checks the cached sets,
 * the cheap feasibility bound, and writes each member's code and batch row.
 * As separate statements in a transaction that was five round trips a group,
 * and at 50 connections the round trips set the pace (as for redemptions, 019).
 */

export interface PostgresSingleCode {
  /** The set as this process cached it, checked against the stored row first; undefined when it was read fresh. */
  cachedSet?: PromoSet;
  /** The size of the member's code space (codeSpace). */
  space: number;
  code: string;
  batch: NewBatch;
}

/** What the function decided for one member (migration 021 says what each means). */
export type PostgresIssueOutcome = { outcome: 'set_changed' | 'collided' | 'recount' } | { outcome: 'issued'; row: PromotionRow };

const ISSUE = 'select * from promoset_issue($1::jsonb[], $2::integer[], $3::integer[], $4::float8[], $5::text[], $6::jsonb, $7::integer[], $8::text[], $9::text[], $10::text[])';

type Returned = StoredPromotion & { outcome: PostgresIssueOutcome['outcome'] };

/** Write `members` in one statement; one outcome per member, in the same order. */
export async function issueInPostgres(db: Db, members: PostgresSingleCode[]): Promise<PostgresIssueOutcome[]> {
  const { expected, checks } = cachedSetChecks(members.map((m) => m.cachedSet));
  // A batch row's shape (set, format, terms) is sent once for the members that share it: filling a
  // row from JSON per member cost the function more than its inserts. Told apart by their values
  // (a JSON text per member cost ~5% of a request's CPU).
  const shapes = new Map<string, { n: number; batch: NewBatch }>();
  const shapeOf = members.map(({ batch }) => {
    const key = shapeKey(batch);
    let shape = shapes.get(key);
    if (shape === undefined) shapes.set(key, (shape = { n: shapes.size + 1, batch }));
    return shape.n;
  });
  const shapesJson = JSON.stringify([...shapes.values()].map(({ batch: b }) => [b.set_id, b.kind, b.count, b.prefix_key, b.code_length, b.code_alphabet, b.terms]));
  const values = [
    expected,
    checks,
    members.map((m) => m.batch.set_id),
    members.map((m) => m.space),
    members.map((m) => m.code),
    shapesJson,
    shapeOf,
    members.map((m) => m.batch.created_by),
    members.map((m) => m.batch.created_at),
    members.map((m) => m.batch.request_key ?? null),
  ];
  // A statement on its own needs no transaction's connection: straight to the pool, prepared once per connection (as promoset_redeem's).
  const pool = postgresPoolOf(db);
  const { rows } = pool ? await pool.query<Returned>({ name: 'promoset-issue', text: ISSUE, values }) : await db.executeQuery<Returned>(CompiledQuery.raw(ISSUE, values));
  if (rows.length !== members.length) throw new Error(`promoset_issue answered ${rows.length} rows for ${members.length} members`);
  return rows.map((r): PostgresIssueOutcome => (r.outcome === 'issued' ? { outcome: 'issued', row: toPromotionRow(r) } : { outcome: r.outcome }));
}

/** What tells batch shapes apart: every value of one, NUL-separated (PostgreSQL text holds no NUL). */
function shapeKey(b: NewBatch): string {
  let key = `${b.set_id}\0${b.kind}\0${b.count}\0${b.prefix_key}\0${b.code_length}\0${b.code_alphabet}`;
  for (const column of PROMOTION_TERM_COLUMNS) key += `\0${b.terms[column]}`;
  return key;
}
