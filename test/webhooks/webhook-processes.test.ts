import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { rawRequest } from '../http/helpers.js';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { runCli, startServerProcess, type ServerProcess } from '../support/processes.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Webhooks across real `promoset serve` processes: pending deliveries survive
 * kill -9, and several instances on one database deliver each event once.
 */
const TOKEN = 'admin-token-webhooks-0123456789';

async function createHookedSet(env: Record<string, string>, name: string, webhookUrl: string): Promise<{ id: number; path: string; secret: string }> {
  const created = await runCli(['sets', 'create', name, `webhook_url=${webhookUrl}`, 'code_length=10'], env);
  expect(created.code, created.stderr).toBe(0);
  const match = /^Created set (\d+) .*\nURL: https?:\/\/[^/]+(\/sets\/\S+)[\s\S]*Webhook signing secret: (whsec_[0-9a-f]{64})/.exec(created.stdout);
  if (!match) throw new Error(`unexpected output: ${created.stdout}`);
  return { id: Number(match[1]), path: match[2], secret: match[3] };
}

async function outbox(url: string): Promise<{ event_id: string; status: string; attempts: number }[]> {
  const db = openDatabase(url);
  try {
    const rows = await db.selectFrom('webhook_events').select(['event_id', 'status', 'attempts']).orderBy('id').execute();
    return rows.map((r) => ({ ...r, attempts: Number(r.attempts) }));
  } finally {
    await db.destroy();
  }
}

const until = <T>(probe: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> => waitFor(probe, ok, what, { timeoutMs, intervalMs: 100 });

describeEachDialect('webhook delivery across processes', (dialect) => {
  const ctx = useTestDatabase(dialect);
  let receiver: WebhookReceiver;
  const servers: ServerProcess[] = [];
  const env = () => ({ DATABASE_URL: ctx.database.url, URL_SECRET: 'webhook-process-secret-0123456789', ADMIN_API_TOKEN: TOKEN, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_BASE_SECONDS: '0.3' });
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    await receiver?.close();
  });

  it('kill -9 while deliveries are pending: after a restart every event arrives, signed', async () => {
    await receiver.down();
    const set = await createHookedSet(env(), 'Killed', receiver.url);
    receiver.setSecret(set.secret);
    const first = await startServerProcess(env());
    servers.push(first);
    const singles = await Promise.all(Array.from({ length: 12 }, () => rawRequest(`${first.url}${set.path}`, { method: 'POST' })));
    expect(singles.map((r) => r.status)).toEqual(Array(12).fill(200));
    const bulk = await rawRequest(`${first.url}${set.path}/codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"amount": 25}' });
    expect(bulk.status).toBe(200);
    // Every event has been tried (connection refused) and is waiting for its retry.
    await until(() => outbox(ctx.database.url), (rows) => rows.length === 13 && rows.every((r) => r.status === 'pending' && r.attempts >= 1), 'failed first attempts');
    const killed = await first.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');

    await receiver.up();
    const second = await startServerProcess(env());
    servers.push(second);
    const rows = await outbox(ctx.database.url);
    await receiver.waitFor((r) => rows.every((row) => r.events.has(row.event_id)), 'all 13 events after the restart', 60_000);
    expect(receiver.rejected).toEqual([]);
    const codes = [...receiver.events.values()].flatMap((e) => e.body.data.promotions.map((p: { code: string }) => p.code));
    expect(new Set(codes)).toEqual(new Set([...singles.map((r) => r.json.code), ...bulk.json.promotions.map((p: { code: string }) => p.code)]));
    await until(() => outbox(ctx.database.url), (all) => all.every((r) => r.status === 'delivered'), 'all marked delivered');
    await second.stop('SIGTERM');
  });

  it(`${dialect === 'postgres' ? 3 : 2} instances on one database deliver each event once`, async () => {
    const instances = dialect === 'postgres' ? 3 : 2;
    const set = await createHookedSet(env(), 'Shared', receiver.url);
    receiver.setSecret(set.secret);
    const before = new Set((await outbox(ctx.database.url)).map((r) => r.event_id));
    const started = await Promise.all(Array.from({ length: instances }, () => startServerProcess(env())));
    servers.push(...started);
    // Events written by each instance (woken at once) and by CLI processes (found by every instance's poll).
    const posts = started.flatMap((server) => Array.from({ length: 15 }, () => rawRequest(`${server.url}${set.path}`, { method: 'POST' })));
    const cli = Array.from({ length: 4 }, () => runCli(['codes', 'Shared', '--amount', '3'], env()));
    const [replies, cliResults] = await Promise.all([Promise.all(posts), Promise.all(cli)]);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(cliResults.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const expected = instances * 15 + 4;
    const rows = await until(() => outbox(ctx.database.url), (all) => all.filter((r) => !before.has(r.event_id)).length === expected && all.every((r) => r.status === 'delivered'), `${expected} events delivered`);
    const mine = rows.filter((r) => !before.has(r.event_id));
    await receiver.waitFor((r) => mine.every((row) => r.events.has(row.event_id)), 'every event at the receiver');
    // With a healthy receiver no event is sent twice, whichever instance took it.
    expect(mine.map((row) => receiver.events.get(row.event_id)!.deliveries)).toEqual(Array(expected).fill(1));
    expect(mine.every((row) => row.attempts === 1)).toBe(true);
    expect(receiver.rejected).toEqual([]);
    await Promise.all(started.map((s) => s.stop('SIGTERM')));
  });
});
