import type SQLite from 'better-sqlite3';
import { CompiledQuery, type Kysely } from 'kysely';
import type { Checkpointer } from './sqlite-tuning.js';

/**
 * SQLite only: the hot path's statements (a group commit's BEGIN, COMMIT and
 * per-member statements) run on the better-sqlite3 connection itself, prepared
 * once. Kysely's layers per query (executor, connection provider, promise
 * hops) cost more than the statements did. A statement runs directly only on
 * a handle that holds SQLite's one connection (a write transaction opened by
 * transactions.ts), so no other query of this process can run in between;
 * everywhere else, and on PostgreSQL, the same functions go through Kysely.
 */
export type Prepare = (text: string) => SQLite.Statement;

/** The statement cache of each open SQLite database (db.ts), by its Kysely handle. */
const databases = new WeakMap<Kysely<any>, Prepare>();
/** Its checkpointer (sqlite-tuning.ts), for a database in a file. */
const checkpointers = new WeakMap<Kysely<any>, Checkpointer>();
/** Connection-bound handles while they hold the connection in a write transaction. */
const held = new WeakMap<Kysely<any>, Prepare>();

export function registerSqlite(db: Kysely<any>, prepare: Prepare, checkpointer?: Checkpointer): void {
  databases.set(db, prepare);
  if (checkpointer) checkpointers.set(db, checkpointer);
}

export function sqliteOf(db: Kysely<any>): Prepare | undefined {
  return databases.get(db);
}

export function checkpointerOf(db: Kysely<any>): Checkpointer | undefined {
  return checkpointers.get(db);
}

/** Rows changed on the connection since it opened (SQLite's total_changes()): a transaction's size is the difference. */
export function totalChanges(prepare: Prepare): number {
  return (prepare('select total_changes() as n').get() as { n: number }).n;
}

/** `conn` holds the connection (until releaseConnection): statements on it may run directly. */
export function holdConnection(conn: Kysely<any>, prepare: Prepare): void {
  held.set(conn, prepare);
}

export function releaseConnection(conn: Kysely<any>): void {
  held.delete(conn);
}

/** The direct statements of `db`, if it is a SQLite handle holding the connection; else undefined (use Kysely). */
export function heldSqlite(db: Kysely<any>): Prepare | undefined {
  return held.get(db);
}

/**
 * A statement's rows, `text` already in the dialect's placeholders: run
 * directly when `db` is a SQLite handle holding the connection, else through Kysely.
 */
export async function rawRows<T>(db: Kysely<any>, text: string, params: unknown[]): Promise<T[]> {
  const direct = held.get(db);
  if (direct === undefined) return (await db.executeQuery<T>(CompiledQuery.raw(text, params))).rows;
  const statement = direct(text);
  if (statement.reader) return statement.all(params) as T[];
  statement.run(params);
  return [];
}

/** A statement that returns nothing, or whose rows are not wanted. */
export function runDirect(prepare: Prepare, text: string): void {
  const statement = prepare(text);
  if (statement.reader) statement.get();
  else statement.run();
}
