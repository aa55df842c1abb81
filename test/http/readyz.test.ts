import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, POSTGRES_URL, type TestDatabase } from '../support/databases.js';
import { startTestService, type TestService } from '../support/service.js';
import type { PromoSet } from '../../src/domain/set.js';
import { localSetUrl, makeSet, postForm, rawRequest } from './helpers.js';

async function readyz(service: TestService): Promise<{ status: number; body: any; cacheControl: string | null }> {
  const res = await fetch(`${service.url}/readyz`);
  return { status: res.status, body: await res.json(), cacheControl: res.headers.get('cache-control') };
}

describe('GET /readyz and /healthz', () => {
  let service: TestService;

  beforeAll(async () => {
    // One request a minute on set URLs: the probes must not count against it.
    service = await startTestService({ RATE_LIMIT_PER_MINUTE: '1' });
  });
  afterAll(() => service.stop());

  it('ready with the database answering; Slack without credentials is "off"; no auth, never cached', async () => {
    expect(await readyz(service)).toEqual({ status: 200, body: { status: 'ready', dependencies: { database: 'ok', slack: 'off' } }, cacheControl: 'no-store' });
    const head = await rawRequest(`${service.url}/readyz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('are exempt from rate limits, while a set URL is limited', async () => {
    const set = await makeSet(service);
    expect((await postForm(localSetUrl(service, set), '')).status).toBe(200);
    expect((await postForm(localSetUrl(service, set), '')).status).toBe(429);
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${service.url}/${i % 2 ? 'readyz' : 'healthz'}`).then((r) => r.status)));
    expect(statuses).toEqual(new Array(20).fill(200));
  });

  it('a dependency probe added by the composition root: required and failing (or hanging) is 503, optional is only reported', async () => {
    try {
      // How the WHMCS database would plug in: one line. A probe that never answers counts as unreachable.
      service.readiness.add('whmcs', () => new Promise<string>(() => undefined), { required: true });
      expect(await readyz(service)).toMatchObject({ status: 503, body: { status: 'not_ready', dependencies: { database: 'ok', slack: 'off', whmcs: 'unreachable' } } });
      // Liveness is not readiness: the process still serves.
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);

      service.readiness.add('whmcs', () => Promise.reject(new Error('connection refused')), { required: true });
      expect((await readyz(service)).body.dependencies.whmcs).toBe('unreachable');

      service.readiness.add('whmcs', () => 'unreachable', { required: false });
      expect(await readyz(service)).toMatchObject({ status: 200, body: { status: 'ready', dependencies: { whmcs: 'unreachable' } } });

      service.readiness.add('whmcs', () => 'ok', { required: true });
      expect(await readyz(service)).toMatchObject({ status: 200, body: { status: 'ready', dependencies: { database: 'ok', slack: 'off', whmcs: 'ok' } } });
    } finally {
      service.readiness.add('whmcs', () => 'ok');
    }
  });
});

/** A TCP hop between promoset and PostgreSQL that the test can cut and restore, as a network or database outage would. */
class CuttableProxy {
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

describe.skipIf(!POSTGRES_URL)('GET /readyz when PostgreSQL goes away', () => {
  let database: TestDatabase;
  let proxy: CuttableProxy;
  let service: TestService;
  let set: PromoSet;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const direct = new URL(database.url);
    proxy = new CuttableProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    await proxy.open();
    const viaProxy = new URL(database.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    service = await startTestService({ DATABASE_URL: viaProxy.toString() });
    set = await makeSet(service, { name: 'outage' });
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('is 503 "database: unreachable" while the database cannot be reached, 200 again once it can; /healthz stays 200', async () => {
    expect(await readyz(service)).toMatchObject({ status: 200, body: { status: 'ready', dependencies: { database: 'ok' } } });
    await proxy.cut();
    expect(await readyz(service)).toEqual({ status: 503, body: { status: 'not_ready', dependencies: { database: 'unreachable', slack: 'off' } }, cacheControl: 'no-store' });
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    // Issuing meanwhile is a 503 a client can act on (retry later), never a 500.
    const refused = await rawRequest(localSetUrl(service, set), { method: 'POST' });
    expect(refused.status).toBe(503);
    expect(refused.json).toMatchObject({ result: 'error', code: 'database_unavailable' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    await proxy.open();
    expect(await readyz(service)).toMatchObject({ status: 200, body: { status: 'ready', dependencies: { database: 'ok' } } });
    expect((await rawRequest(localSetUrl(service, set), { method: 'POST' })).status).toBe(200);
  });
});
