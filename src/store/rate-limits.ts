import { sql } from 'kysely';
import type { Db } from './db.js';

export interface RateLimitHits {
  key: string;
  /** The minute counted: Math.floor(epoch ms / 60,000). */
  window: number;
  /** Requests to add. */
  n: number;
}

/**
 * Add hits to shared per-minute counters and read back their totals, in one
 * statement for any number of keys (PostgreSQL: an upsert over unnest, so
 * the row lock orders concurrent instances and every count is exact).
 * Returns total hits by `${window}|${key}`.
 */
export async function addRateLimitHits(db: Db, hits: RateLimitHits[]): Promise<Map<string, number>> {
  const { rows } = await sql<{ key: string; window_start: string | number; hits: number }>`
    insert into rate_limits (key, window_start, hits)
    select * from unnest(${hits.map((h) => h.key)}::text[], ${hits.map((h) => h.window)}::bigint[], ${hits.map((h) => h.n)}::int[])
    on conflict (key, window_start) do update set hits = rate_limits.hits + excluded.hits
    returning key, window_start, hits`.execute(db);
  return new Map(rows.map((row) => [`${Number(row.window_start)}|${row.key}`, Number(row.hits)]));
}

/** Forget minutes that can no longer be counted against. */
export async function deleteRateLimitsBefore(db: Db, window: number): Promise<void> {
  await sql`delete from rate_limits where window_start < ${window}`.execute(db);
}
