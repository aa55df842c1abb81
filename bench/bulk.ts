import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { codeGenerator } from '../src/domain/codes.js';
import { openCore, type Core } from '../src/service/core.js';
import { generatePromotions } from '../src/service/generate.js';
import { createSet } from '../src/service/sets.js';
import { summarise, type Sample } from './stats.js';

export const BULK = 100_000;

export interface FreshDatabase {
  url: string;
  /** The core on this database; `urlSecret` fixes the set-URL key so a server process agrees. */
  open(urlSecret?: string): Promise<Core>;
  remove(): Promise<void>;
}

export function freshSqlite(): FreshDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'promoset-bench-'));
  const url = join(dir, 'bench.db');
  return {
    url,
    open: (urlSecret?: string) => openCore({ databaseUrl: url, publicUrl: 'http://bench.invalid', urlSecret }),
    remove: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** 100k distinct codes, made before any clock starts: 100k random 8-character codes collide with each other about one run in 40. */
function distinctCodes(): string[] {
  const next = codeGenerator({ prefix: '', length: 8, alphabet: 'default' });
  const distinct = new Set<string>();
  while (distinct.size < BULK) distinct.add(next());
  return [...distinct];
}

const RAW_BATCH_SQL = `insert into batches (set_id, kind, count, prefix_key, code_length, code_alphabet, created_by, created_at, type, value, cycles, appliesto, requires, startdate, expirationdate, upgradeconfig, notes, recurring, requiresexisting, maxuses, lifetimepromo, applyonce, newsignups, existingclient, onceperclient, recurfor, upgrades)
      values ($1, 'bulk', $2, '', 8, 'default', 'bench', '', 'Percentage', '10.00', '', '', '', '0000-00-00', '0000-00-00', '', '', 0, 0, 1, 0, 0, 0, 0, 0, 0, 0) returning id`;

/**
 * PostgreSQL's floor: one COPY of the same 100k rows (pg-copy-streams) into a
 * table built like promotions (`like promotions including all`: its columns,
 * defaults, the unique lower(code) index and every lookup index) with no
 * foreign key, so no per-row check, whatever promotions itself carries
 * (issue 23), committed. Only the COPY and the COMMIT are timed.
 */
async function rawCopyOnce(fresh: FreshDatabase): Promise<number> {
  const core = await fresh.open();
  const set = await createSet(core, { name: 'baseline' }, 'bench');
  await core.db.destroy();
  const client = new pg.Client({ connectionString: fresh.url });
  await client.connect();
  try {
    const codes = distinctCodes();
    const batchId = Number((await client.query<{ id: number }>(RAW_BATCH_SQL, [set.id, BULK])).rows[0].id);
    await client.query('create table promotions_floor (like promotions including all)');
    const keys = await client.query("select 1 from pg_constraint where conrelid = 'promotions_floor'::regclass and contype = 'f'");
    if (keys.rowCount !== 0) throw new Error('the floor table must have no foreign key');
    const text = codes.map((code) => `${set.id}\t${batchId}\t${code}\n`).join('');
    const started = performance.now();
    await client.query('begin');
    await pipeline(Readable.from([text]), client.query(copyFrom('copy promotions_floor (set_id, batch_id, code) from stdin')));
    await client.query('commit');
    return performance.now() - started;
  } finally {
    await client.end();
    await fresh.remove();
  }
}

/**
 * SQLite's floor: better-sqlite3 alone, inside one transaction, into the same
 * table with the same indexes (made by promoset's own migrations). Codes are
 * made before the clock starts: nothing else is timed.
 */
/** How rawBaselineOnce inserts: one prepared INSERT per row (the plain way), or sorted 2,000-row INSERTs (the fastest raw way we know). */
type RawForm = 'per-row' | 'sorted-multi-row';

async function rawBaselineOnce(form: RawForm = 'per-row'): Promise<number> {
  const fresh = freshSqlite();
  const core = await fresh.open();
  const set = await createSet(core, { name: 'baseline' }, 'bench');
  await core.db.destroy();
  const sqlite = new SQLite(fresh.url);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  const codes = distinctCodes();
  const batchId = Number(
    sqlite.prepare(`insert into batches (set_id, kind, count, prefix_key, code_length, code_alphabet, created_by, created_at, type, value, cycles, appliesto, requires, startdate, expirationdate, upgradeconfig, notes, recurring, requiresexisting, maxuses, lifetimepromo, applyonce, newsignups, existingclient, onceperclient, recurfor, upgrades)
      values (?, 'bulk', ?, '', 8, 'default', 'bench', '', 'Percentage', '10.00', '', '', '', '0000-00-00', '0000-00-00', '', '', 0, 0, 1, 0, 0, 0, 0, 0, 0, 0)`).run(set.id, BULK).lastInsertRowid,
  );
  const insert = sqlite.prepare('insert into promotions (set_id, batch_id, code) values (?, ?, ?)');
  const rows = 2000;
  const insertMany = sqlite.prepare(`insert into promotions (set_id, batch_id, code) values ${new Array(rows).fill('(?, ?, ?)').join(', ')}`);
  // Sorted before the clock starts too: the order of the unique index, so its pages fill one after another.
  if (form === 'sorted-multi-row') codes.sort();
  const parameters: unknown[] = new Array(rows * 3);
  const started = performance.now();
  sqlite.transaction(() => {
    if (form === 'per-row') {
      for (const code of codes) insert.run(set.id, batchId, code);
      return;
    }
    for (let start = 0; start < codes.length; start += rows) {
      for (let i = 0; i < rows; i++) {
        parameters[3 * i] = set.id;
        parameters[3 * i + 1] = batchId;
        parameters[3 * i + 2] = codes[start + i];
      }
      insertMany.run(parameters);
    }
  })();
  const elapsed = performance.now() - started;
  sqlite.close();
  await fresh.remove();
  return elapsed;
}

/** promoset's use case: validation, feasibility, code generation, collision handling, one transaction. */
export async function serviceBulkOnce(fresh: FreshDatabase): Promise<number> {
  const core = await fresh.open();
  const set = await createSet(core, { name: 'service' }, 'bench');
  const started = performance.now();
  const result = await generatePromotions(core, set, { amount: BULK }, 'bench');
  const elapsed = performance.now() - started;
  if (result.count !== BULK) throw new Error(`expected ${BULK} codes, got ${result.count}`);
  await core.db.destroy();
  await fresh.remove();
  return elapsed;
}

export interface BulkFigures {
  raw: Sample;
  rawSortedMultiRow: Sample;
  service: Sample;
  rawCopy?: Sample;
  postgres?: Sample;
}

export async function benchBulk(runs: number, postgres?: () => FreshDatabase): Promise<BulkFigures> {
  const raw: number[] = [];
  const rawSortedMultiRow: number[] = [];
  const service: number[] = [];
  const rawCopy: number[] = [];
  const pgService: number[] = [];
  // Interleaved, so drift in machine load hits both sides alike.
  for (let i = 0; i < runs; i++) {
    raw.push(await rawBaselineOnce());
    rawSortedMultiRow.push(await rawBaselineOnce('sorted-multi-row'));
    service.push(await serviceBulkOnce(freshSqlite()));
    if (postgres) {
      rawCopy.push(await rawCopyOnce(postgres()));
      pgService.push(await serviceBulkOnce(postgres()));
    }
  }
  return {
    raw: summarise(raw),
    rawSortedMultiRow: summarise(rawSortedMultiRow),
    service: summarise(service),
    ...(postgres ? { rawCopy: summarise(rawCopy), postgres: summarise(pgService) } : {}),
  };
}
