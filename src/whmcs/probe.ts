import { sql } from 'kysely';
import type { WhmcsDb } from './db.js';
import { TBL_COLUMNS } from './promotions.js';

/**
 * What is wrong with a WHMCS connection, told apart so an operator knows what
 * to check. MariaDB hides a table from a user with no grant on it (a missing
 * table and a missing grant then give the same 1142), so a refused SELECT is
 * reported as missing grants, with the table's name to check as well.
 */
export type WhmcsFailure = 'unreachable' | 'credentials_refused' | 'wrong_database' | 'missing_grants';

export interface WhmcsIdentity {
  database: string;
  /** tblpromotions' CREATE_TIME: a WHMCS restored elsewhere or a different install has another. */
  tableCreated: string;
}

export type WhmcsProbe = { state: 'ok'; identity: WhmcsIdentity } | { state: WhmcsFailure; detail: string };

/** MariaDB/MySQL error numbers (mysql2's `errno`) and what each means for promoset. */
const FAILURE_BY_ERRNO: Record<number, WhmcsFailure> = {
  1045: 'credentials_refused', // ER_ACCESS_DENIED_ERROR: wrong user or password
  1698: 'credentials_refused', // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  1049: 'wrong_database', // ER_BAD_DB_ERROR: no such database
  1146: 'wrong_database', // ER_NO_SUCH_TABLE
  1054: 'wrong_database', // ER_BAD_FIELD_ERROR: a column WHMCS's table has is missing
  1044: 'missing_grants', // ER_DBACCESS_DENIED_ERROR: no grant at all in that database
  1142: 'missing_grants', // ER_TABLEACCESS_DENIED_ERROR
  1143: 'missing_grants', // ER_COLUMNACCESS_DENIED_ERROR
};

/** Which failure `error` (from mysql2, through Kysely) is; anything unrecognised counts as unreachable. */
export function classifyWhmcsError(error: unknown): { state: WhmcsFailure; detail: string } {
  const e = error as { errno?: number; code?: string; message?: string };
  const detail = (e?.message ?? String(error)).slice(0, 300);
  const state = (typeof e?.errno === 'number' && FAILURE_BY_ERRNO[e.errno]) || 'unreachable';
  return { state, detail };
}

/**
 * Check everything promoset needs of WHMCS, changing nothing: the columns
 * (a SELECT of all of them, no rows), INSERT and UPDATE grants (EXPLAIN
 * checks privileges without running the statement, so no AUTO_INCREMENT value
 * is used up), and the table's identity.
 */
export async function probeWhmcs(db: WhmcsDb): Promise<WhmcsProbe> {
  try {
    return await db.connection().execute(async (conn) => {
      await conn.selectFrom('tblpromotions').select(['id', ...TBL_COLUMNS]).limit(0).execute();
      await sql`explain insert into tblpromotions (code) values ('')`.execute(conn);
      await sql`explain update tblpromotions set uses = uses where id = 0`.execute(conn);
      const { rows } = await sql<{ database: string; created: string | Date | null }>`
        select table_schema as ${sql.ref('database')}, create_time as created
        from information_schema.tables where table_schema = database() and table_name = 'tblpromotions'`.execute(conn);
      const row = rows[0];
      if (!row) return { state: 'wrong_database', detail: 'tblpromotions is not listed in information_schema.tables' } as const;
      const created = row.created instanceof Date ? row.created.toISOString() : String(row.created ?? '');
      return { state: 'ok', identity: { database: row.database, tableCreated: created } } as const;
    });
  } catch (error) {
    return classifyWhmcsError(error);
  }
}
