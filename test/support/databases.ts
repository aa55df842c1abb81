import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { openCore, type Core } from '../../src/service/core.js';

/**
 * One isolated database per test file and dialect: a temp SQLite file always,
 * and a fresh PostgreSQL schema when TEST_DATABASE_URL is set (CI sets it).
 * Each database is addressed by a plain DATABASE_URL, so spawned processes
 * (CLI, servers, workers) reach exactly the same one as the test.
 */
export type Dialect = 'sqlite' | 'postgres';

export const POSTGRES_URL = process.env.TEST_DATABASE_URL || undefined;
export const DIALECTS: Dialect[] = ['sqlite', 'postgres'];

export interface TestDatabase {
  dialect: Dialect;
  /** DATABASE_URL for this database: a SQLite path, or a postgres:// URL pinned to the schema. */
  url: string;
  /** The PostgreSQL schema, if any. */
  schema?: string;
  /** A scratch directory that is removed with the database (CSV files, logs). */
  dir: string;
  drop(): Promise<void>;
}

/** `url` with `search_path` pinned to `schema`, via libpq's `options` parameter (understood by pg). */
export function postgresUrlWithSchema(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return parsed.toString();
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), `promoset-${dialect}-`));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  if (dialect === 'sqlite') {
    return { dialect, url: join(dir, 'promoset.db'), dir, drop: async () => removeDir() };
  }
  if (!POSTGRES_URL) throw new Error('TEST_DATABASE_URL is not set');
  const schema = `promoset_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create schema ${schema}`);
  return {
    dialect,
    url: postgresUrlWithSchema(POSTGRES_URL, schema),
    schema,
    dir,
    async drop() {
      await adminQuery(`drop schema if exists ${schema} cascade`);
      removeDir();
    },
  };
}

let skipNoted = false;
function noteSkippedPostgres(): void {
  if (skipNoted) return;
  skipNoted = true;
  console.warn('[promoset tests] TEST_DATABASE_URL is not set: the PostgreSQL variants are SKIPPED (SQLite variants run). Set TEST_DATABASE_URL=postgres://… to run them.');
}

/**
 * Declare the same suite once per dialect: "title [sqlite]" always and
 * "title [postgres]" when TEST_DATABASE_URL is set (skipped, visibly, otherwise).
 */
export function describeEachDialect(title: string, suite: (dialect: Dialect) => void): void {
  for (const dialect of DIALECTS) {
    const skip = dialect === 'postgres' && !POSTGRES_URL;
    if (skip) noteSkippedPostgres();
    describe.skipIf(skip)(`${title} [${dialect}]${skip ? ' (skipped: TEST_DATABASE_URL unset)' : ''}`, () => suite(dialect));
  }
}

/** Register hooks giving the enclosing suite a fresh database of `dialect`. */
export function useTestDatabase(dialect: Dialect): { readonly database: TestDatabase } {
  const holder = {} as { database: TestDatabase };
  beforeAll(async () => {
    holder.database = await createTestDatabase(dialect);
  });
  afterAll(async () => {
    await holder.database?.drop();
  });
  return holder;
}

export interface CoreOverrides {
  now?: () => Date;
  timeZone?: string;
}

/** Register hooks giving the enclosing suite a migrated Core on a fresh database of `dialect`. */
export function useTestCore(dialect: Dialect, overrides: CoreOverrides = {}): { readonly core: Core; readonly database: TestDatabase } {
  const holder = {} as { core: Core; database: TestDatabase };
  beforeAll(async () => {
    holder.database = await createTestDatabase(dialect);
    holder.core = await openCore({
      databaseUrl: holder.database.url,
      publicUrl: 'http://promo.test',
      urlSecret: 'test-url-secret-0123456789',
      ...overrides,
    });
  });
  afterAll(async () => {
    await holder.core?.db.destroy();
    await holder.database?.drop();
  });
  return holder;
}
