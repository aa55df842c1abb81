import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the bare floors (floor.ts, redeem-floor.ts) share: a node:http server
 * whose requests are grouped as promoset groups them (everything that arrived
 * in one event-loop turn, one group in flight, at most 200), and that prints
 * {"port":N} once listening.
 */
export interface FloorRequest {
  /** The set id: the middle part of /sets/{api_key}-{id}-{hex}. */
  setId: number;
  body: Buffer;
  res: ServerResponse;
}

export function serveInGroups(accepts: (req: IncomingMessage) => boolean, write: (group: FloorRequest[]) => void | Promise<void>): void {
  let waiting: FloorRequest[] = [];
  let scheduled = false;
  let writing = false;
  const schedule = () => {
    if (scheduled || writing || waiting.length === 0) return;
    scheduled = true;
    setImmediate(async () => {
      scheduled = false;
      writing = true;
      const group = waiting.splice(0, 200);
      try {
        await write(group);
      } finally {
        writing = false;
        schedule();
      }
    });
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const setId = Number(/^\/sets\/[A-Z0-9]+-(\d+)-/.exec(req.url ?? '')?.[1]);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || !setId || !accepts(req)) {
        res.writeHead(404).end();
        return;
      }
      waiting.push({ setId, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), res });
      schedule();
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
}

export function fail(res: ServerResponse, error: unknown): void {
  res.writeHead(500, { 'content-type': 'text/plain' });
  res.end(String(error));
}
