import { get, request as httpRequest } from 'node:http';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { migrations as MIGRATIONS } from '../../src/store/migrations.js';
import { createTestDatabase, describeEachDialect, useTestDatabase } from '../support/databases.js';
import { collect, runCli, spawnCli, startServerProcess } from '../support/processes.js';
import { waitForLine } from '../support/wait-for.js';

async function countRows(url: string): Promise<{ promotions: number; batches: { id: number; count: number }[]; migrations: string[] }> {
  const db = openDatabase(url);
  try {
    const promotions = await db.selectFrom('promotions').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    const batches = await db.selectFrom('batches').select(['id', 'count']).orderBy('id').execute();
    const { rows: migrations } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    return { promotions: Number(promotions.n), batches: batches.map((b) => ({ id: Number(b.id), count: Number(b.count) })), migrations: migrations.map((m) => m.name) };
  } finally {
    await db.destroy();
  }
}

describeEachDialect('start-up and shutdown of several instances', (dialect) => {
  const ctx = useTestDatabase(dialect);

  it('instances migrating at the same time start without error', async () => {
    const fresh = await createTestDatabase(dialect);
    try {
      const env = { DATABASE_URL: fresh.url };
      const [migrations, servers] = await Promise.all([
        Promise.all([1, 2, 3].map(() => runCli(['migrate'], env))),
        Promise.all([1, 2].map(() => startServerProcess(env))),
      ]);
      for (const result of migrations) {
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
        expect([`Applied: ${Object.keys(MIGRATIONS).join(', ')}\n`, 'The database is up to date.\n']).toContain(result.stdout);
      }
      for (const server of servers) {
        expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
        expect(server.log()).not.toMatch(/"level":"error"/);
      }
      const exits = await Promise.all(servers.map((s) => s.stop('SIGTERM')));
      for (const exit of exits) expect(exit.code, exit.stderr).toBe(0);
      expect((await countRows(fresh.url)).migrations).toEqual(Object.keys(MIGRATIONS).sort());
    } finally {
      await fresh.drop();
    }
  });

  it('SIGTERM and SIGINT: a serving instance with open keep-alive connections closes the database and exits 0', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const server = await startServerProcess({ DATABASE_URL: ctx.database.url, LOG_FORMAT: 'json' });
      // fetch keeps the connection alive: shutdown must not wait on it for ever.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const exit = await server.stop(signal);
      expect(exit.code, exit.stderr).toBe(0);
      expect(exit.signal).toBeNull();
      // LOG_FORMAT=json: every line on stderr, the shutdown's own included, is a JSON object.
      const lines = exit.stderr.split('\n').filter((line) => line !== '');
      for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
      expect(lines.map((line) => JSON.parse(line))).toContainEqual(expect.objectContaining({ level: 'info', msg: `${signal}: no new connections; finishing in-flight requests and batches, then exiting`, signal }));
      expect(exit.stderr).toContain('"msg":"promoset stopped"');
      expect(exit.stderr).not.toMatch(/"level":"error"|\n\s+at /);
    }
  });

  it('SIGTERM during a CLI bulk run: the batch is all or nothing, and the database stays usable', async () => {
    const created = await runCli(['sets', 'create', 'Interrupted'], { DATABASE_URL: ctx.database.url });
    expect(created.code, created.stderr).toBe(0);
    const before = await countRows(ctx.database.url);
    const child = spawnCli(['codes', 'Interrupted', '--amount', '100000'], { DATABASE_URL: ctx.database.url });
    const done = collect(child);
    // Interrupt once the first progress line is out (printed inside the transaction, every 10%).
    await new Promise<void>((resolve) => {
      let seen = '';
      child.stderr?.on('data', (chunk: string) => {
        seen += chunk;
        if (seen.includes('Generating… ')) resolve();
      });
      void done.then(() => resolve());
    });
    child.kill('SIGTERM');
    const exit = await done;
    const after = await countRows(ctx.database.url);
    const newBatches = after.batches.filter((b) => !before.batches.some((old) => old.id === b.id));
    const added = after.promotions - before.promotions;
    if (exit.code === 0) {
      expect(newBatches.map((b) => b.count)).toEqual([100_000]);
      expect(added).toBe(100_000);
    } else {
      expect(newBatches).toEqual([]);
      expect(added).toBe(0);
    }
    // No lock or half-written state is left behind.
    const again = await runCli(['codes', 'Interrupted', '--amount', '500'], { DATABASE_URL: ctx.database.url });
    expect(again.code, again.stderr).toBe(0);
    expect((await countRows(ctx.database.url)).promotions).toBe(after.promotions + 500);
  });

  it('SIGTERM during an HTTP bulk request: it completes (or fails cleanly), all or nothing, new connections refused, exit 0', async () => {
    const created = await runCli(['sets', 'create', 'Deploy Day'], { DATABASE_URL: ctx.database.url });
    const path = /URL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(created.stdout)?.[1];
    const server = await startServerProcess({ DATABASE_URL: ctx.database.url });
    try {
      // A set URL that answers 404 here is a routing regression: it fails, never skips.
      expect((await fetch(`${server.url}${path}`)).status).toBe(200);
      const before = await countRows(ctx.database.url);
      type Outcome = { status: number; body: { result: string; count?: number; batch_id?: number; promotions?: unknown[]; code?: string } };
      let sent!: () => void;
      const written = new Promise<void>((resolve) => (sent = resolve));
      const request = new Promise<Outcome>((resolve) => {
        const req = httpRequest(`${server.url}${path}/codes`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          res.on('error', (error) => resolve({ status: 0, body: { result: `network error: ${String(error)}` } }));
        });
        req.on('error', (error) => {
          sent();
          resolve({ status: 0, body: { result: `network error: ${String(error)}` } });
        });
        // Not a sleep: SIGTERM once the whole request has been written to the server's socket.
        req.on('finish', () => sent());
        req.end(JSON.stringify({ amount: 100_000 }));
      });
      await written;
      server.child.kill('SIGTERM');
      await waitForLine(server.log, 'SIGTERM: no new connections');
      // Stopped accepting: a new connection is refused while the bulk request is still being served.
      // On a new connection (agent: false): fetch could reuse the keep-alive socket of the GET above, which the
      // server closes as it stops (ECONNRESET), whereas this asks whether new connections are refused.
      const late = await new Promise<number | string>((resolve) => {
        get(`${server.url}/healthz`, { agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      const outcome = await request;
      const exit = await server.exited;
      console.info(`[shutdown ${dialect}] SIGTERM during a 100,000-code HTTP request: status ${outcome.status}, ${outcome.body.count ?? 0} codes; a new connection meanwhile got ${late}`);
      expect(exit.code, exit.stderr).toBe(0);
      const after = await countRows(ctx.database.url);
      const added = after.promotions - before.promotions;
      if (outcome.status === 200 || outcome.status === 201) {
        expect(outcome.body.count).toBe(100_000);
        expect(outcome.body.promotions).toHaveLength(100_000);
        expect(added).toBe(100_000);
        expect(late).toBe('ECONNREFUSED');
      } else {
        // A clean refusal, never a 5xx stack trace; and nothing half-written.
        expect(outcome.status === 0 || outcome.status === 503).toBe(true);
        expect(added).toBe(0);
      }
    } finally {
      await server.stop('SIGTERM');
    }
  });
});
