import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { FreshDatabase } from './bulk.js';
import { openCore } from '../src/service/core.js';

/** A throwaway schema on the given PostgreSQL, reached through search_path, dropped afterwards. */
export function freshPostgres(baseUrl: string): FreshDatabase {
  const schema = `promoset_bench_${randomBytes(4).toString('hex')}`;
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: baseUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  let created: Promise<void> | undefined;
  return {
    url: url.toString(),
    open: async (urlSecret?: string) => {
      await (created ??= admin(`create schema ${schema}`));
      return openCore({ databaseUrl: url.toString(), publicUrl: 'http://bench.invalid', urlSecret });
    },
    remove: () => admin(`drop schema if exists ${schema} cascade`),
  };
}
