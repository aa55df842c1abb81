import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import { PromoError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { Core } from '../service/core.js';
import { sendError, sendJson } from './respond.js';

export interface HttpContext {
  core: Core;
  config: Config;
  logger: Logger;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: HttpContext) => Promise<void> | void;

/** Requests the HTTP router does not own (Slack's /slack/events) go to a mounted listener. */
export interface Mount {
  path: string;
  listener: (req: IncomingMessage, res: ServerResponse) => void;
}

export function createHttpServer(ctx: HttpContext, mounts: Mount[] = []): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const mount = mounts.find((m) => path === m.path);
    if (mount) {
      mount.listener(req, res);
      return;
    }
    Promise.resolve()
      .then(() => route(req, res, ctx, path))
      .catch((error) => sendError(res, error, ctx.logger));
  });
  // Slow clients must not hold sockets for ever.
  server.requestTimeout = 120_000;
  server.headersTimeout = 30_000;
  return server;
}

async function route(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, path: string): Promise<void> {
  if (path === '/healthz') {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(['GET']);
    sendJson(res, 200, { status: 'ok' });
    return;
  }
  throw new PromoError('not_found', `Nothing lives at ${path.slice(0, 100)}. See the README for the endpoints.`);
}

export function methodNotAllowed(allowed: string[]): PromoError {
  return new PromoError('method_not_allowed', `Use ${allowed.join(' or ')} here.`);
}
