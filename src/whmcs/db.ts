import { Kysely, MysqlDialect, sql, type Generated } from 'kysely';
import { createPool, type Pool } from 'mysql2';
import type { StoredPromotionTerms } from '../domain/promotion.js';

/**
 * WHMCS's promotions table, as WHMCS 8.x defines it (../shared/whmcs/tblpromotions.sql).
 * promoset never creates or alters it: its grants are SELECT, INSERT, UPDATE.
 */
export interface TblPromotionsTable extends Omit<StoredPromotionTerms, 'recurring' | 'expirationdate'> {
  id: Generated<number>;
  code: string;
  /** WHMCS allows NULL in these two; promoset always writes a value. */
  recurring: number | null;
  expirationdate: string | null;
  uses: number;
}

export interface WhmcsDatabase {
  tblpromotions: TblPromotionsTable;
}

export type WhmcsDb = Kysely<WhmcsDatabase>;

export interface WhmcsHandle {
  db: WhmcsDb;
  /**
   * Whether a multi-row INSERT's rows get consecutive AUTO_INCREMENT ids from
   * its insertId. InnoDB promises it for "simple inserts" in lock modes 0 and 1
   * (MariaDB's default); mode 2 interleaves concurrent statements, so ids are
   * then read back by code.
   */
  consecutiveIds?: boolean;
}

/**
 * Connections to WHMCS are few: one batch at a time per process writes there,
 * and each redemption or rollback holds one while its prepared XA transaction
 * waits for promoset's commit (whmcs/xa.ts).
 */
const POOL_SIZE = 12;
/** The longest any promoset statement waits for a tblpromotions row lock (see onCreateConnection). */
export const LOCK_WAIT_SECONDS = 10;
/** A WHMCS that does not answer fails the request quickly (503), instead of holding it. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * A Kysely handle on WHMCS's database over a mysql2 pool. Every pooled
 * connection runs with WHMCS's own sql_mode ('') so '0000-00-00' ("no date")
 * is stored as WHMCS stores it; MariaDB's default strict mode refuses it.
 * Dates come back as the text they are ('0000-00-00' is no JS Date).
 */
export function openWhmcsDatabase(url: string): WhmcsDb {
  const parsed = new URL(url.replace(/^mariadb:/, 'mysql:'));
  const pool = createPool({
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')),
    connectionLimit: POOL_SIZE,
    connectTimeout: CONNECT_TIMEOUT_MS,
    dateStrings: true,
    decimalNumbers: false,
    supportBigNumbers: true,
    // The table's own character set: a utf8mb4 literal would make MariaDB convert the column and skip its index.
    charset: 'UTF8_UNICODE_CI',
  });
  const db = new Kysely<WhmcsDatabase>({
    dialect: new MysqlDialect({
      pool,
      async onCreateConnection(connection) {
        // A lock wait is bounded at 10 s (MariaDB's default is 50): a void waiting on a row that a
        // redemption holds prepared (whmcs/xa.ts) while that redemption waits on the void's lock in
        // promoset's database is a deadlock neither database sees; this timeout breaks it (503, retried).
        await connection.executeQuery(sql`set session sql_mode = '', session innodb_lock_wait_timeout = ${sql.lit(LOCK_WAIT_SECONDS)}`.compile(nullKysely));
      },
    }),
  });
  pools.set(db, pool);
  return db;
}

/** The pool under each handle: an XA transaction needs a connection it can close instead of returning (whmcs/xa.ts). */
const pools = new WeakMap<WhmcsDb, Pool>();

export function poolOf(db: WhmcsDb): Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('this WHMCS handle was not opened by openWhmcsDatabase');
  return pool;
}

/** Compiles the one SET statement above; it never executes anything itself. */
const nullKysely = new Kysely<WhmcsDatabase>({
  dialect: new MysqlDialect({ pool: async () => { throw new Error('compile only'); } }),
});

/** Opening makes no connection: promoset starts (and serves) while WHMCS is down. */
export function openWhmcs(url: string): WhmcsHandle {
  return { db: openWhmcsDatabase(url) };
}

/** Asks the server once per handle (see WhmcsHandle.consecutiveIds). */
export async function hasConsecutiveIds(handle: WhmcsHandle): Promise<boolean> {
  if (handle.consecutiveIds === undefined) {
    const row = await sql<{ mode: number | string }>`select @@innodb_autoinc_lock_mode as mode`.execute(handle.db);
    handle.consecutiveIds = Number(row.rows[0]?.mode ?? 2) !== 2;
  }
  return handle.consecutiveIds;
}
