import { randomBytes } from 'node:crypto';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe } from 'vitest';
import { readSharedFile } from './shared-files.js';

/**
 * A throwaway WHMCS database per test file on real MariaDB: created with
 * tblpromotions exactly as WHMCS defines it (../shared/whmcs/tblpromotions.sql),
 * dropped afterwards. Without TEST_WHMCS_DATABASE_URL the suites are skipped, visibly.
 */
export const WHMCS_SERVER_URL = process.env.TEST_WHMCS_DATABASE_URL || undefined;

export function describeWithWhmcs(title: string, suite: () => void): void {
  if (!WHMCS_SERVER_URL) {
    console.warn('[promoset tests] TEST_WHMCS_DATABASE_URL is not set: the WHMCS (MariaDB) suites are SKIPPED. Set TEST_WHMCS_DATABASE_URL=mysql://root@127.0.0.1:3306/test to run them.');
  }
  describe.skipIf(!WHMCS_SERVER_URL)(`${title}${WHMCS_SERVER_URL ? '' : ' (skipped: TEST_WHMCS_DATABASE_URL unset)'}`, suite);
}

export interface WhmcsTestDatabase {
  /** WHMCS_DATABASE_URL for this database. */
  url: string;
  name: string;
  /** A connection (WHMCS's sql_mode) for the test's own reads and writes. */
  sql: Connection;
  rows<T = RowDataPacket>(text: string, values?: unknown[]): Promise<T[]>;
}

function serverConnection(database?: string): Promise<Connection> {
  const url = new URL(WHMCS_SERVER_URL!.replace(/^mariadb:/, 'mysql:'));
  return createConnection({
    host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password),
    database, dateStrings: true, multipleStatements: false,
  });
}

export function useWhmcsDatabase(): { readonly whmcs: WhmcsTestDatabase } {
  const holder = {} as { whmcs: WhmcsTestDatabase };
  let admin: Connection | undefined;
  beforeAll(async () => {
    const name = `whmcs_test_${randomBytes(6).toString('hex')}`;
    admin = await serverConnection();
    await admin.query(`create database \`${name}\``);
    const sql = await serverConnection(name);
    await sql.query("set session sql_mode = ''");
    const create = readSharedFile('whmcs/tblpromotions.sql', 'A WHMCS test database (tblpromotions as WHMCS defines it)').split('\n').filter((line) => !line.startsWith('--')).join('\n');
    await sql.query(create);
    const url = new URL(WHMCS_SERVER_URL!);
    url.pathname = `/${name}`;
    holder.whmcs = {
      url: url.toString(),
      name,
      sql,
      async rows<T>(text: string, values: unknown[] = []) {
        const [rows] = await sql.query(text, values);
        return rows as T[];
      },
    };
  });
  afterAll(async () => {
    await holder.whmcs?.sql.end();
    if (admin && holder.whmcs) await admin.query(`drop database if exists \`${holder.whmcs.name}\``);
    await admin?.end();
  });
  return holder;
}
