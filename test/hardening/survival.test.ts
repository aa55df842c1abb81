import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { startServerProcess } from '../support/processes.js';
import { startTestService } from '../support/service.js';

/**
 * Issue 28, item 1: nothing a client sends, and no fault while answering or
 * logging, takes the process down.
 */
const SIGNING_SECRET = 'survival-signing-secret-0123456789';

/** POST `bytes` bytes with Transfer-Encoding: chunked (no Content-Length), as curl --data-binary does from a pipe. */
function chunkedPost(url: string, bytes: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? 'error'));
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

describe('a server in Slack HTTP mode survives an unsigned 5 MB chunked request', () => {
  let dir: string;
  let fake: FakeSlack;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'promoset-survival-'));
    fake = await startFakeSlack();
  });
  afterAll(async () => {
    await fake?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 413, stays up and still answers /healthz (3 times over)', async () => {
    const server = await startServerProcess({
      DATABASE_URL: join(dir, 'promoset.db'), SLACK_BOT_TOKEN: 'xoxb-survival', SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: fake.apiUrl,
    });
    try {
      for (let round = 0; round < 3; round++) {
        const status = await chunkedPost(`${server.url}/slack/events`, 5_000_000);
        // The 413 is sent before the body ends; a client still writing may see the reset instead.
        expect([413, 'EPIPE', 'ECONNRESET']).toContain(status);
        const health = await fetch(`${server.url}/healthz`);
        expect(health.status).toBe(200);
      }
      expect(server.child.exitCode, server.log()).toBeNull();
      expect(server.log()).not.toMatch(/TypeError|remoteAddress/);
      // The access log still names the client of the refused request.
      expect(server.log()).toMatch(/"route":"\/slack\/events","status":413,[^\n]*"ip":"127\.0\.0\.1"/);
    } finally {
      const exit = await server.stop('SIGTERM');
      expect(exit.code, exit.stderr).toBe(0);
    }
  }, 60_000);
});

describe('a fault while logging or answering', () => {
  it('a throwing access log does not take the server down', async () => {
    let faults = 0;
    const service = await startTestService({}, {
      log: (line) => {
        if (line.includes('"msg":"request"')) {
          faults++;
          throw new Error('injected access-log fault');
        }
      },
    });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${service.url}/healthz`);
        expect(res.status).toBe(200);
      }
      const missing = await fetch(`${service.url}/nothing-here`);
      expect(missing.status).toBe(404);
      // Every request reached the (failing) access log, and the server kept answering.
      await expect.poll(() => faults).toBeGreaterThanOrEqual(4);
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    } finally {
      await service.stop();
    }
  });
});

describe('HTTP edges (issue 28, item 9)', () => {
  it('a request without Host gets the JSON error shape; a 404 never echoes the path', async () => {
    const service = await startTestService();
    try {
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(service.port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'));
        let text = '';
        socket.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text)).on('error', reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ result: 'error', message: 'The request has no Host header; HTTP/1.1 requires one.', code: 'bad_request', fields: {} });

      const token = 'abcdefghijklmnopqrstuvwxy-1-0123456789abcdef0123456789abcdef';
      const res = await fetch(`${service.url}/setz/${token}`);
      expect(res.status).toBe(404);
      const text = await res.text();
      expect(text).not.toContain(token.slice(0, 10));
      expect(JSON.parse(text)).toMatchObject({ result: 'error', code: 'not_found' });
    } finally {
      await service.stop();
    }
  });

  it('a request whose headers or body do not arrive in time gets 408 in the JSON shape', async () => {
    const service = await startTestService();
    try {
      // Shorten the server's patience for this test; the checks run every connectionsCheckingInterval (30 s by default), so use a fresh server.
      service.server.headersTimeout = 300;
      service.server.requestTimeout = 300;
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(service.port, '127.0.0.1', () => socket.write('POST /includes/api.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\naction='));
        let text = '';
        socket.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text)).on('close', () => resolve(text)).on('error', reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({ result: 'error', code: 'request_timeout' });
    } finally {
      await service.stop();
    }
  }, 60_000);
});
