import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import { closeCore, openCore } from '../src/service/core.js';
import { generatePromotions } from '../src/service/generate.js';
import { createSet } from '../src/service/sets.js';
import { listBatchCodes } from '../src/store/whmcs-bookkeeping.js';
import { findBatch } from '../src/store/batches.js';
import { WHMCS_CHUNK } from '../src/whmcs/batch-writer.js';
import { TBL_COLUMNS, toTblPromotion } from '../src/whmcs/promotions.js';
import { BULK, freshSqlite } from './bulk.js';
import { summarise, type Sample } from './stats.js';

/**
 * 100,000 codes with the WHMCS sink on (promoset on SQLite, tblpromotions on
 * MariaDB), end to end through the use case, against the floor: a raw
 * multi-row INSERT of the very same 100,000 rows into a fresh tblpromotions,
 * in one transaction, on the same server in the same run.
 */
const SQL_FILE = join(import.meta.dirname, '..', '..', '..', 'shared', 'whmcs', 'tblpromotions.sql');

async function connect(serverUrl: string, database?: string): Promise<Connection> {
  const url = new URL(serverUrl.replace(/^mariadb:/, 'mysql:'));
  return createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database });
}

/** A fresh database holding an empty tblpromotions; returns its URL and a dropper. */
async function freshWhmcs(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `whmcs_bench_${randomBytes(5).toString('hex')}`;
  const admin = await connect(serverUrl);
  await admin.query(`create database \`${name}\``);
  await admin.query(`use \`${name}\``);
  await admin.query("set session sql_mode = ''");
  await admin.query(readFileSync(SQL_FILE, 'utf8').split('\n').filter((line) => !line.startsWith('--')).join('\n'));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`drop database if exists \`${name}\``);
      await admin.end();
    },
  };
}

export async function benchWhmcs(serverUrl: string, runs: number): Promise<{ raw: Sample; service: Sample }> {
  const raw: number[] = [];
  const service: number[] = [];
  for (let i = 0; i < runs; i++) {
    // promoset with the sink on, end to end.
    const whmcs = await freshWhmcs(serverUrl);
    const fresh = freshSqlite();
    const core = await openCore({ databaseUrl: fresh.url, publicUrl: 'http://bench.invalid', whmcsDatabaseUrl: whmcs.url });
    const set = await createSet(core, { name: 'whmcs' }, 'bench');
    const started = performance.now();
    const result = await generatePromotions(core, set, { amount: BULK }, 'bench');
    service.push(performance.now() - started);
    const codes = await listBatchCodes(core.db, result.batchId);
    const terms = (await findBatch(core.db, result.batchId))!.terms;
    await closeCore(core);
    await fresh.remove();
    await whmcs.drop();

    // The same 100,000 rows, raw: multi-row INSERTs of 2,000 in one transaction.
    const target = await freshWhmcs(serverUrl);
    const conn = await connect(target.url.replace(/^mariadb:/, 'mysql:'), new URL(target.url).pathname.slice(1));
    await conn.query("set session sql_mode = ''");
    const rows = codes.map((code) => toTblPromotion(code, terms));
    const t0 = performance.now();
    await conn.beginTransaction();
    for (let start = 0; start < rows.length; start += WHMCS_CHUNK) {
      const chunk = rows.slice(start, start + WHMCS_CHUNK);
      await conn.query(`insert into tblpromotions (${TBL_COLUMNS.join(', ')}) values ?`, [chunk.map((row) => TBL_COLUMNS.map((c) => row[c]))]);
    }
    await conn.commit();
    raw.push(performance.now() - t0);
    await conn.end();
    await target.drop();
  }
  return { raw: summarise(raw), service: summarise(service) };
}

// `node dist/bench/whmcs.js`: this case alone.
if (process.argv[1]?.endsWith(join('bench', 'whmcs.js'))) {
  const url = process.env.TEST_WHMCS_DATABASE_URL;
  if (!url) throw new Error('Set TEST_WHMCS_DATABASE_URL=mysql://root@127.0.0.1:3306/test');
  const { raw, service } = await benchWhmcs(url, Number(process.env.BENCH_RUNS ?? 3));
  console.log(`raw multi-row INSERT: median ${raw.median.toFixed(0)} ms (${raw.min.toFixed(0)}–${raw.max.toFixed(0)})`);
  console.log(`promoset + WHMCS sink: median ${service.median.toFixed(0)} ms (${service.min.toFixed(0)}–${service.max.toFixed(0)}), ${(service.median / raw.median).toFixed(2)}×`);
}
