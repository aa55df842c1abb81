import { PostgresAdapter, type Kysely } from 'kysely';

/**
 * Which SQL dialect a database speaks. Its own module, importing nothing of
 * ours, so db.ts (which runs the migrations) and migrations.ts (which branch
 * on the dialect) both depend on it instead of on each other.
 */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
