import { afterAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/databases.js';
import { startServerProcess, type ServerProcess } from '../support/processes.js';

/**
 * Issue 22's stuck shutdown: a server whose stderr reader stopped reading and
 * then went away stayed alive for minutes (sonic-boom's flushSync retried
 * EPIPE for ever). Whatever the reader does, the held log lines stay bounded
 * (LOG_BUFFER_BYTES, drops counted in /metrics) and the process exits within
 * the 60 s grace period.
 */
const EXIT_WITHIN_MS = 30_000;

function exitOf(server: ServerProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return Promise.resolve({ code: server.child.exitCode, signal: server.child.signalCode });
  return new Promise((resolve) => server.child.once('exit', (code, signal) => resolve({ code, signal })));
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function dropped(server: ServerProcess, reason: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const match = new RegExp(`^promoset_log_lines_dropped_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** Access lines until the held bytes overflow: bounded in count. */
async function logUntilDropped(server: ServerProcess): Promise<number> {
  for (let round = 0; round < 100; round++) {
    await Promise.all(Array.from({ length: 100 }, () => fetch(`${server.url}/healthz`).then((r) => r.arrayBuffer())));
    const n = await dropped(server, 'buffer_full');
    if (n > 0) return n;
  }
  throw new Error('no log line was dropped after 10,000 requests');
}

// The log path is the same on either database: SQLite only.
describe('a stalled, then closed, stderr reader', () => {
  const ctx = useTestDatabase('sqlite');
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const server of servers) if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  });

  it('holds at most LOG_BUFFER_BYTES (drops counted in /metrics), and after the reader closes SIGTERM still exits 0 within the grace period', async () => {
    const server = await startServerProcess({ DATABASE_URL: ctx.database.url, LOG_BUFFER_BYTES: '65536' });
    servers.push(server);
    server.child.stderr!.pause();
    expect(await logUntilDropped(server)).toBeGreaterThan(0);
    // Still serving while its log is stuck.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    server.child.stderr!.destroy();
    // Lines from now on meet EPIPE.
    await Promise.all(Array.from({ length: 50 }, () => fetch(`${server.url}/healthz`).then((r) => r.arrayBuffer())));
    const exited = exitOf(server);
    server.child.kill('SIGTERM');
    expect(await within(exited, EXIT_WITHIN_MS, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('SIGTERM while the reader is stalled (never closed): exits 0 within the grace period', async () => {
    const server = await startServerProcess({ DATABASE_URL: ctx.database.url, LOG_BUFFER_BYTES: '65536' });
    servers.push(server);
    server.child.stderr!.pause();
    await logUntilDropped(server);
    const exited = exitOf(server);
    server.child.kill('SIGTERM');
    expect(await within(exited, EXIT_WITHIN_MS, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });
  }, 120_000);
});
