import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { runCli, startServerProcess, type ServerProcess } from '../support/processes.js';
import { waitForLine } from '../support/wait-for.js';

/**
 * Issue 10, item 1, as a real process: Bolt's start-up auth.test used to
 * reject unhandled when Slack was unreachable or refused the token, and
 * Node exits on an unhandled rejection (a vitest worker might not). So this
 * runs `promoset serve` and checks it is still serving a few seconds later.
 */
const SIGNING_SECRET = 'process-signing-secret-0123456789';

/** A loopback port that nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function waitForLog(server: ServerProcess, pattern: RegExp): Promise<string> {
  return waitForLine(server.log, pattern, String(pattern), { stopIf: () => (server.child.exitCode !== null ? `the server exited (${server.child.exitCode}); log:\n${server.log()}` : undefined) });
}

describe('promoset serve keeps serving when Slack is unreachable or refuses the token', () => {
  let dir: string;
  let databaseUrl: string;
  let setPath: string;
  let fake: FakeSlack;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'promoset-outage-'));
    databaseUrl = join(dir, 'promoset.db');
    const created = await runCli(['sets', 'create', 'Outage', 'promo_value=10'], { DATABASE_URL: databaseUrl });
    expect(created.code, created.stderr).toBe(0);
    setPath = /\nURL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(created.stdout)![1];
    fake = await startFakeSlack();
    fake.refuseToken('invalid_auth');
  });
  afterAll(async () => {
    await fake?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['unreachable', /Slack is unreachable at http:\/\/127\.0\.0\.1:\d+\/api\/ \(ECONNREFUSED\): check SLACK_API_URL/],
    ['refused', /Slack refused SLACK_BOT_TOKEN \(invalid_auth\): check the token/],
  ] as const)('Slack %s: the process stays up and answers /healthz, /readyz and the set URL', async (state, logLine) => {
    const apiUrl = state === 'unreachable' ? `http://127.0.0.1:${await deadPort()}/api/` : fake.apiUrl;
    const server = await startServerProcess({ DATABASE_URL: databaseUrl, SLACK_BOT_TOKEN: 'xoxb-process-token', SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: apiUrl, LOG_LEVEL: 'debug' });
    try {
      const line = JSON.parse(await waitForLog(server, logLine)) as { level: string; msg: string };
      expect(line.level).toBe('error');
      // Not a sleep: wait for the background re-check (2 s after the first) to have failed too; Bolt's
      // start-up auth.test and its retries took the old process down in ~2 s.
      await waitForLog(server, /"msg":"Slack check failed; checking again later".*"failures":2/);
      expect(server.child.exitCode, server.log()).toBeNull();
      expect(server.log()).not.toMatch(/unhandled|WebAPIRequestError|UnhandledPromiseRejection/i);

      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${server.url}/readyz`);
      expect({ status: ready.status, body: await ready.json() }).toEqual({ status: 200, body: { status: 'ready', dependencies: { database: 'ok', slack: state } } });
      const post = await fetch(`${server.url}${setPath}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'notes=still+up' });
      expect(post.status).toBe(200);
      expect(await post.json()).toMatchObject({ notes: 'still up', value: '10.00' });
      // One line about it, however many times it was retried meanwhile.
      expect(server.log().split('\n').filter((l) => logLine.test(l))).toHaveLength(1);
      expect(server.log()).not.toContain('xoxb-process-token');
    } finally {
      const exit = await server.stop('SIGTERM');
      expect(exit.code, exit.stderr).toBe(0);
    }
  }, 60_000);
});
