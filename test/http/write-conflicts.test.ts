import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { WRITE_TRANSACTION_ATTEMPTS } from '../../src/store/transactions.js';
import { createTestDatabase, POSTGRES_URL, type TestDatabase } from '../support/databases.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm } from './helpers.js';

/**
 * A deadlock or serialization failure on PostgreSQL is retried for the whole
 * transaction (issue 10, item 2). A trigger makes the database itself answer
 * the first N inserts of promotions with SQLSTATE 40P01 / 40001, exactly as a
 * real deadlock would reach us, through the real server and pg driver. A
 * sequence counts the attempts: it is not transactional, so the rollbacks
 * keep its count.
 */
describe.skipIf(!POSTGRES_URL)('write conflicts on PostgreSQL are retried, never a 500', () => {
  let database: TestDatabase;
  let service: TestService;
  let set: PromoSet;
  let url: string;

  /** The next `failures` statements inserting promotions fail with `sqlstate`; later ones go through. */
  async function injectConflicts(failures: number, sqlstate: 'deadlock_detected' | 'serialization_failure'): Promise<void> {
    await sql`drop sequence if exists conflict_attempts`.execute(service.core.db);
    await sql`create sequence conflict_attempts`.execute(service.core.db);
    await sql
      .raw(
        `create or replace function inject_conflict() returns trigger language plpgsql as $$
         begin
           if nextval('conflict_attempts') <= ${failures} then
             raise exception 'injected by the test' using errcode = '${sqlstate}';
           end if;
           return null;
         end $$`,
      )
      .execute(service.core.db);
  }

  async function attempts(): Promise<number> {
    const { rows } = await sql<{ last_value: string; is_called: boolean }>`select last_value, is_called from conflict_attempts`.execute(service.core.db);
    return rows[0].is_called ? Number(rows[0].last_value) : 0;
  }

  async function storedForSet(): Promise<{ batches: { id: number; count: number }[]; codes: { code: string; batch_id: number }[] }> {
    const batches = await service.core.db.selectFrom('batches').select(['id', 'count']).where('set_id', '=', set.id).execute();
    const codes = await service.core.db.selectFrom('promotions').select(['code', 'batch_id']).where('set_id', '=', set.id).execute();
    return { batches: batches.map((b) => ({ id: Number(b.id), count: Number(b.count) })), codes: codes.map((c) => ({ code: c.code, batch_id: Number(c.batch_id) })) };
  }

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    service = await startTestService({ DATABASE_URL: database.url, RATE_LIMIT_PER_MINUTE: '0' });
    await injectConflicts(0, 'deadlock_detected');
    await sql`create trigger inject_conflict before insert on promotions for each statement execute function inject_conflict()`.execute(service.core.db);
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('a bulk request whose transaction deadlocks twice succeeds on the third run: every code once, one whole batch', async () => {
    set = await makeSet(service, { code_length: 5 });
    url = localSetUrl(service, set);
    await injectConflicts(2, 'deadlock_detected');
    const reply = await postForm(`${url}/codes`, 'amount=3000');
    expect(reply.status, reply.text.slice(0, 300)).toBe(200);
    expect(reply.json.count).toBe(3000);
    const codes: string[] = reply.json.promotions.map((p: { code: string }) => p.code);
    expect(new Set(codes.map((c) => c.toLowerCase())).size).toBe(3000);
    // Two failed runs plus the statements of the run that committed.
    expect(await attempts()).toBeGreaterThanOrEqual(3);
    const stored = await storedForSet();
    // The failed runs left nothing behind: no extra batch row, no stray code.
    expect(stored.batches).toEqual([{ id: reply.json.batch_id, count: 3000 }]);
    expect(new Set(stored.codes.map((c) => c.code))).toEqual(new Set(codes));
    expect(stored.codes.every((c) => c.batch_id === reply.json.batch_id)).toBe(true);
  });

  it('single codes (the group commit) survive serialization failures: each request gets its own stored code', async () => {
    set = await makeSet(service, { code_length: 5 });
    url = localSetUrl(service, set);
    await injectConflicts(3, 'serialization_failure');
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => postForm(url, `notes=retry+${i}`)));
    expect(replies.map((r) => r.status)).toEqual(new Array(20).fill(200));
    expect(replies.map((r) => r.json.notes)).toEqual(Array.from({ length: 20 }, (_, i) => `retry ${i}`));
    expect(await attempts()).toBeGreaterThanOrEqual(4);
    const stored = await storedForSet();
    expect(stored.batches).toHaveLength(20);
    expect(stored.codes.map((c) => c.code).sort()).toEqual(replies.map((r) => r.json.code).sort());
  });

  it('when every run conflicts, the retries stop and the client gets a retryable 503 with Retry-After; nothing is saved', async () => {
    set = await makeSet(service, { code_length: 5 });
    url = localSetUrl(service, set);
    await injectConflicts(1_000_000, 'deadlock_detected');
    const bulk = await postForm(`${url}/codes`, 'amount=100');
    expect(bulk.status).toBe(503);
    expect(bulk.headers['retry-after']).toBe('1');
    expect(bulk.json).toEqual({
      result: 'error',
      message: 'The database is busy with other requests right now; nothing was saved. Please retry in a moment.',
      code: 'database_busy',
      fields: {},
    });
    // Bounded: exactly WRITE_TRANSACTION_ATTEMPTS runs, then it gave up.
    expect(await attempts()).toBe(WRITE_TRANSACTION_ATTEMPTS);
    const single = await postForm(url, '');
    expect(single.status).toBe(503);
    expect(single.json.code).toBe('database_busy');
    expect(await storedForSet()).toEqual({ batches: [], codes: [] });

    // Once the conflicts stop, the same requests go through.
    await injectConflicts(0, 'deadlock_detected');
    expect((await postForm(`${url}/codes`, 'amount=100')).status).toBe(200);
    expect((await postForm(url, '')).status).toBe(200);
  });
});
