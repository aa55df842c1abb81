import { sql } from 'kysely';
import type { Db } from './db.js';

/**
 * The set that owns a code space (prefix, ignoring case, and code length):
 * the first to claim it. Claiming an owned space changes nothing and returns
 * its owner, whichever instance claimed it first (the primary key decides).
 */
export async function claimCodeSpace(db: Db, prefixKey: string, codeLength: number, setId: number): Promise<number> {
  await db.insertInto('code_spaces').values({ prefix_key: prefixKey, code_length: codeLength, set_id: setId }).onConflict((oc) => oc.columns(['prefix_key', 'code_length']).doNothing()).execute();
  const row = await db.selectFrom('code_spaces').select('set_id').where('prefix_key', '=', prefixKey).where('code_length', '=', codeLength).executeTakeFirstOrThrow();
  return Number(row.set_id);
}

/**
 * PostgreSQL: hold the code space for the rest of this transaction, so
 * batches in one space are counted and written one after another (their
 * feasibility checks see each other). SQLite's write lock already does this.
 */
export async function lockCodeSpace(trx: Db, prefixKey: string, codeLength: number): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`code-space:${prefixKey}:${codeLength}`}))`.execute(trx);
}

export async function findCodeSpaceOwner(db: Db, prefixKey: string, codeLength: number): Promise<number | undefined> {
  const row = await db.selectFrom('code_spaces').select('set_id').where('prefix_key', '=', prefixKey).where('code_length', '=', codeLength).executeTakeFirst();
  return row === undefined ? undefined : Number(row.set_id);
}
