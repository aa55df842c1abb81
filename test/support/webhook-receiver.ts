import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { verifyWebhookSignature, type WebhookEventBody } from '../../src/domain/webhooks.js';
import { waitFor } from './wait-for.js';

/**
 * A real webhook receiver on 127.0.0.1: it verifies every delivery's
 * signature (with the secret the test gives it, as a real receiver would),
 * dedupes by event id, and can answer 500 or go down (connection refused) and
 * come back on the same port.
 */
export interface ReceivedEvent {
  body: WebhookEventBody<any>;
  raw: string;
  headers: Record<string, string | string[] | undefined>;
  /** How many times this event id arrived (at least once: duplicates are possible, and counted). */
  deliveries: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  /** Verified events by id, in first-arrival order. */
  events: Map<string, ReceivedEvent>;
  /** Deliveries whose signature did not verify (should stay empty). */
  rejected: { reason: string; raw: string }[];
  /** Requests answered 500 while failing. */
  failedRequests: number;
  /** Requests being received or waiting for their answer right now, and the most ever at once. */
  inFlight: number;
  maxInFlight: number;
  secret: string;
  setSecret(secret: string): void;
  /** Answer every delivery 500 (true) or accept (false). */
  fail(on: boolean): void;
  /** Never answer (the sender's timeout must end the attempt). */
  hang(on: boolean): void;
  /** Stop listening: deliveries get connection refused. */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  /** Resolve once `predicate` holds (checked on every delivery and every 50 ms). */
  waitFor(predicate: (r: WebhookReceiver) => boolean, what: string, timeoutMs?: number): Promise<void>;
  ofType(type: string): ReceivedEvent[];
  close(): Promise<void>;
}

/** `nowMs` is the receiver's clock (tests that move the sender's clock move it too). */
export async function startWebhookReceiver(secret = '', { nowMs = () => Date.now() }: { nowMs?: () => number } = {}): Promise<WebhookReceiver> {
  let failing = false;
  let hanging = false;
  const sockets = new Set<Socket>();
  const receiver = {} as WebhookReceiver;
  const handler = createServer((req, res) => {
    receiver.inFlight++;
    receiver.maxInFlight = Math.max(receiver.maxInFlight, receiver.inFlight);
    res.once('close', () => receiver.inFlight--);
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString('utf8');
      if (hanging) return;
      if (failing) {
        receiver.failedRequests++;
        res.writeHead(500).end('down for maintenance');
        return;
      }
      const check = verifyWebhookSignature(receiver.secret, raw, req.headers['promoset-signature'] as string | undefined, { nowSeconds: Math.floor(nowMs() / 1000) });
      if (!check.ok || req.headers['content-type'] !== 'application/json') {
        receiver.rejected.push({ reason: check.ok ? 'content-type' : check.reason, raw });
        res.writeHead(400).end();
        return;
      }
      const body = JSON.parse(raw) as WebhookEventBody<any>;
      if (req.headers['promoset-event-id'] !== body.id) receiver.rejected.push({ reason: 'event id header', raw });
      const seen = receiver.events.get(body.id);
      if (seen) {
        seen.deliveries++;
        if (seen.raw !== raw) receiver.rejected.push({ reason: 'same id, different body', raw });
      } else {
        receiver.events.set(body.id, { body, raw, headers: req.headers, deliveries: 1 });
      }
      res.writeHead(204).end();
    });
  });
  handler.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  let server: Server = handler;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let listening = true;

  Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/hooks/promoset`,
    port,
    events: new Map(),
    rejected: [],
    failedRequests: 0,
    inFlight: 0,
    maxInFlight: 0,
    secret,
    setSecret(next: string) {
      receiver.secret = next;
    },
    fail(on: boolean) {
      failing = on;
    },
    hang(on: boolean) {
      hanging = on;
    },
    async down() {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async up() {
      if (listening) return;
      server = handler;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      listening = true;
    },
    async waitFor(predicate: (r: WebhookReceiver) => boolean, what: string, timeoutMs = 30_000) {
      await waitFor(() => receiver, predicate, `${what} at the webhook receiver (have ${receiver.events.size} events, ${receiver.rejected.length} rejected)`, { timeoutMs });
    },
    ofType(type: string) {
      return [...receiver.events.values()].filter((e) => e.body.type === type);
    },
    close: () => receiver.down(),
  });
  return receiver;
}
