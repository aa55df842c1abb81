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
import type { PromotionTerms } from '../src/domain/promotion.js';
import { BULK, freshSqlite, type FreshDatabase } from './bulk.js';
import { URL_SECRET, serverWithSet, timedRequest } from './http.js';
import { summarise, type Sample } from './stats.js';

/**
 * 100,000 codes with the WHMCS sink on (promoset on SQLite, tblpromotions on
 * MariaDB), end to end through the use case and over HTTP (CSV), against the
 * floor: a raw multi-row INSERT of the very same 100,000 rows into a fresh
 * tblpromotions, in one transaction, on the same server in the same run.
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

/** The same rows, raw: multi-row INSERTs of WHMCS_CHUNK rows into a fresh tblpromotions, in one transaction. */
async function rawInsertOnce(serverUrl: string, codes: string[], terms: PromotionTerms): Promise<number> {
  const target = await freshWhmcs(serverUrl);
  const conn = await connect(target.url, new URL(target.url).pathname.slice(1));
  try {
    await conn.query("set session sql_mode = ''");
    const rows = codes.map((code) => toTblPromotion(code, terms));
    const t0 = performance.now();
    await conn.beginTransaction();
    for (let start = 0; start < rows.length; start += WHMCS_CHUNK) {
      const chunk = rows.slice(start, start + WHMCS_CHUNK);
      await conn.query(`insert into tblpromotions (${TBL_COLUMNS.join(', ')}) values ?`, [chunk.map((row) => TBL_COLUMNS.map((c) => row[c]))]);
    }
    await conn.commit();
    return performance.now() - t0;
  } finally {
    await conn.end();
    await target.drop();
  }
}

/** The batch promoset issued last on `fresh`: its codes (id order) and terms, for the raw floor. */
async function lastBatch(fresh: FreshDatabase): Promise<{ codes: string[]; terms: PromotionTerms }> {
  const core = await fresh.open(URL_SECRET);
  try {
    const { id } = await core.db.selectFrom('batches').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow();
    const codes = await listBatchCodes(core.db, Number(id));
    if (codes.length !== BULK) throw new Error(`expected ${BULK} codes, found ${codes.length}`);
    const published = await core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).where('batch_id', '=', id).where('whmcs_id', 'is not', null).executeTakeFirstOrThrow();
    if (Number(published.n) !== BULK) throw new Error(`only ${published.n} of ${BULK} codes have their tblpromotions id`);
    return { codes, terms: (await findBatch(core.db, Number(id)))!.terms };
  } finally {
    await core.db.destroy();
  }
}

export interface WhmcsFigures {
  /** Floor of the service rounds, and the service call (generatePromotions) end to end. */
  raw: Sample;
  service: Sample;
  /** Floor of the HTTP rounds, and POST {set URL}/codes for 100k as CSV to a server process with the sink on. */
  httpRaw: Sample;
  http: Sample;
}

/**
 * Rounds alternate promoset and the raw floor (each on fresh databases), and
 * the floor inserts the very rows promoset just wrote to WHMCS.
 */
export async function benchWhmcs(serverUrl: string, runs: number): Promise<WhmcsFigures> {
  const raw: number[] = [];
  const service: number[] = [];
  const httpRaw: number[] = [];
  const http: number[] = [];
  for (let i = 0; i < runs; i++) {
    // promoset with the sink on, through the use case.
    {
      const whmcs = await freshWhmcs(serverUrl);
      const fresh = freshSqlite();
      const core = await openCore({ databaseUrl: fresh.url, publicUrl: 'http://bench.invalid', whmcsDatabaseUrl: whmcs.url });
      const set = await createSet(core, { name: 'whmcs' }, 'bench');
      const started = performance.now();
      await generatePromotions(core, set, { amount: BULK }, 'bench');
      service.push(performance.now() - started);
      await closeCore(core);
      await whmcs.drop();
      const { codes, terms } = await lastBatch(fresh);
      await fresh.remove();
      raw.push(await rawInsertOnce(serverUrl, codes, terms));
    }
    // The same over HTTP: a server process with the sink on, 100k as streamed CSV.
    {
      const whmcs = await freshWhmcs(serverUrl);
      const fresh = freshSqlite();
      const { server, setPath } = await serverWithSet(fresh, { WHMCS_DATABASE_URL: whmcs.url });
      try {
        const res = await timedRequest(`${server.url}${setPath}/codes`, {
          method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/csv' }, body: JSON.stringify({ amount: BULK }),
        });
        if (res.status !== 200) throw new Error(`bulk with WHMCS answered ${res.status}`);
        http.push(res.ms);
      } finally {
        await server.stop();
        await whmcs.drop();
      }
      const { codes, terms } = await lastBatch(fresh);
      await fresh.remove();
      httpRaw.push(await rawInsertOnce(serverUrl, codes, terms));
    }
  }
  return { raw: summarise(raw), service: summarise(service), httpRaw: summarise(httpRaw), http: summarise(http) };
}

// `node dist/bench/whmcs.js`: this case alone.
if (process.argv[1]?.endsWith(join('bench', 'whmcs.js'))) {
  const url = process.env.TEST_WHMCS_DATABASE_URL;
  if (!url) throw new Error('Set TEST_WHMCS_DATABASE_URL=mysql://root@127.0.0.1:3306/test');
  const { raw, service, httpRaw, http } = await benchWhmcs(url, Number(process.env.BENCH_RUNS ?? 3));
  const line = (what: string, x: Sample) => `${what}: median ${x.median.toFixed(0)} ms (${x.min.toFixed(0)}–${x.max.toFixed(0)})`;
  console.log(line('raw multi-row INSERT (service rounds)', raw));
  console.log(`${line('promoset + WHMCS sink, service call', service)}, ${(service.median / raw.median).toFixed(2)}×`);
  console.log(line('raw multi-row INSERT (HTTP rounds)', httpRaw));
  console.log(`${line('promoset + WHMCS sink, HTTP CSV', http)}, ${(http.median / httpRaw.median).toFixed(2)}×`);
}
