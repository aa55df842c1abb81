import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_URL, useTestDatabase } from '../support/databases.js';
import { runCli, startServerProcess, type ServerProcess } from '../support/processes.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Issue 22 item 3 and issue 28 item 5: on PostgreSQL a limit holds for the
 * whole deployment. Three `promoset serve` processes on one schema, one
 * client taking turns between them: the client gets the limit, not three
 * times it.
 */
const LIMIT = 12;
const AUTH_LIMIT = 6;

/** A window of calendar minutes is shared: start well inside one, so the whole burst counts against a single minute. */
async function awayFromMinuteEdge(): Promise<void> {
  await waitFor(() => Date.now() % 60_000, (intoMinute) => intoMinute <= 40_000, 'a minute with 20 s left', { timeoutMs: 25_000, intervalMs: 50 });
}

describe.skipIf(!POSTGRES_URL)('rate limits across 3 instances on one PostgreSQL schema', () => {
  const ctx = useTestDatabase('postgres');
  let servers: ServerProcess[] = [];
  let path = '';

  beforeAll(async () => {
    const created = await runCli(['sets', 'create', 'Shared limits'], { DATABASE_URL: ctx.database.url });
    expect(created.code, created.stderr).toBe(0);
    path = /\nURL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(created.stdout)![1];
    servers = await Promise.all([0, 1, 2].map(() => startServerProcess({
      DATABASE_URL: ctx.database.url,
      RATE_LIMIT_PER_MINUTE: String(LIMIT),
      REDEMPTION_RATE_LIMIT_PER_MINUTE: String(LIMIT),
      AUTH_FAILURES_PER_MINUTE: String(AUTH_LIMIT),
      ADMIN_API_TOKEN: 'shared-limits-admin-token-0123',
    })));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it(`RATE_LIMIT_PER_MINUTE=${LIMIT}: ${LIMIT * 3} POSTs spread over 3 instances, some at once, issue exactly ${LIMIT} codes`, async () => {
    await awayFromMinuteEdge();
    const statuses = await Promise.all(
      Array.from({ length: LIMIT * 3 }, async (_, i) => {
        const res = await fetch(`${servers[i % 3].url}${path}`, { method: 'POST' });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(LIMIT * 2);
  });

  it(`validations are limited deployment-wide too (REDEMPTION_RATE_LIMIT_PER_MINUTE=${LIMIT})`, async () => {
    await awayFromMinuteEdge();
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT * 2; i++) {
      const res = await fetch(`${servers[i % 3].url}${path}/promotions/NOSUCHCODE`);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 404)).toHaveLength(LIMIT);
    expect(statuses.slice(LIMIT).every((s) => s === 429)).toBe(true);
  });

  it(`failed authentication: after ${AUTH_LIMIT} wrong guesses (counted on any instance) the client gets 429 everywhere`, async () => {
    await awayFromMinuteEdge();
    const forged = path.replace(/.{4}$/, '0000');
    const statuses: number[] = [];
    for (let i = 0; i < AUTH_LIMIT * 3; i++) {
      const target = i % 2 === 0 ? `${servers[i % 3].url}${forged}` : `${servers[i % 3].url}/api/sets`;
      const res = await fetch(target, { headers: { authorization: 'Bearer wrong-token-wrong-token' } });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    // Exactly AUTH_LIMIT answers that say "wrong": the guesses past it are 429, whichever instance took them.
    expect(statuses.filter((s) => s === 404 || s === 401)).toHaveLength(AUTH_LIMIT);
    expect(statuses.slice(AUTH_LIMIT).every((s) => s === 429)).toBe(true);
    // Blocked, the right token from the same address is not even checked until the minute is over.
    const right = await fetch(`${servers[0].url}/api/sets`, { headers: { authorization: 'Bearer shared-limits-admin-token-0123' } });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
