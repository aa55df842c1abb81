import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import { PromoError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { Core } from '../service/core.js';
import type { Readiness } from '../service/readiness.js';
import { IpAllowlists } from './allowlist.js';
import { createClientIpResolver, type ClientIpResolver } from './client-ip.js';
import { createRateLimits, type RateLimits } from './rate-limit.js';
import { sendError, sendJson } from './respond.js';
import { adminRoutes } from './routes/admin.js';
import { bulkRoutes } from './routes/bulk.js';
import { setUrlRoutes } from './routes/set-url.js';
import { whmcsRoutes } from './routes/whmcs.js';

export interface HttpContext {
  core: Core;
  config: Config;
  logger: Logger;
  /** The dependency probes behind GET /readyz (added by the composition root). */
  readiness: Readiness;
}

/** What route handlers get: the context plus the per-server helpers built once at start. */
export interface AppContext extends HttpContext {
  clientIp: ClientIpResolver;
  allowlists: IpAllowlists;
  rateLimits: RateLimits;
}

export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  app: AppContext;
  /** The pattern's capture groups. */
  params: string[];
  query: URLSearchParams;
}

export type RouteHandler = (request: RouteRequest) => Promise<void> | void;
export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface Route {
  pattern: RegExp;
  methods: Partial<Record<Method, RouteHandler>>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: HttpContext) => Promise<void> | void;

/** Requests the HTTP router does not own (Slack's /slack/events) go to a mounted listener. */
export interface Mount {
  path: string;
  listener: (req: IncomingMessage, res: ServerResponse) => void;
}

/** Liveness and readiness: no auth, no rate limit (a load balancer polls them). */
const healthRoutes: Route[] = [
  {
    pattern: /^\/healthz$/,
    methods: { GET: ({ res }) => sendJson(res, 200, { status: 'ok' }) },
  },
  {
    pattern: /^\/readyz$/,
    methods: {
      GET: async ({ res, app }) => {
        const { ready, body } = await app.readiness.report();
        sendJson(res, ready ? 200 : 503, body, { 'cache-control': 'no-store' });
      },
    },
  },
];

export const ROUTES: Route[] = [...healthRoutes, ...setUrlRoutes, ...bulkRoutes, ...whmcsRoutes, ...adminRoutes];

export function createHttpServer(ctx: HttpContext, mounts: Mount[] = []): Server {
  const app: AppContext = {
    ...ctx,
    clientIp: createClientIpResolver(ctx.config.TRUST_PROXY),
    allowlists: new IpAllowlists(),
    rateLimits: createRateLimits(ctx.config.RATE_LIMIT_PER_MINUTE),
  };
  const server = createServer((req, res) => {
    const { path, query } = splitUrl(req.url ?? '/');
    const mount = mounts.find((m) => path === m.path);
    if (mount) {
      mount.listener(req, res);
      return;
    }
    Promise.resolve()
      .then(() => route(req, res, app, path, query))
      .catch((error) => {
        // A body we did not read to the end is not drained: the connection closes after the answer.
        if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
        sendError(res, error, ctx.logger);
      });
  });
  // Bytes that are not HTTP at all never reach a route; they still get the error shape, not Node's bare 400.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({
      result: 'error',
      message: tooLarge ? 'The request headers are too large.' : 'The request is not valid HTTP (check Content-Length or Transfer-Encoding).',
      code: tooLarge ? 'payload_too_large' : 'bad_request',
      fields: {},
    });
    socket.end(`HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  // Slow clients must not hold sockets for ever.
  server.requestTimeout = 120_000;
  server.headersTimeout = 30_000;
  return server;
}

function splitUrl(url: string): { path: string; query: URLSearchParams } {
  let target = url;
  // Absolute-form request targets ("POST http://host/sets/…") are legal HTTP.
  if (!target.startsWith('/')) {
    try {
      const parsed = new URL(target);
      target = parsed.pathname + parsed.search;
    } catch {
      return { path: target, query: new URLSearchParams() };
    }
  }
  const q = target.indexOf('?');
  return q === -1 ? { path: target, query: new URLSearchParams() } : { path: target.slice(0, q), query: new URLSearchParams(target.slice(q + 1)) };
}

async function route(req: IncomingMessage, res: ServerResponse, app: AppContext, path: string, query: URLSearchParams): Promise<void> {
  for (const { pattern, methods } of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    // HEAD is GET without a body (node:http drops the body for us).
    const method = req.method === 'HEAD' ? 'GET' : (req.method as Method);
    const handler = methods[method];
    if (!handler) {
      const allowed = Object.keys(methods);
      res.setHeader('allow', (allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed).join(', '));
      throw methodNotAllowed(allowed, req.method ?? '');
    }
    await handler({ req, res, app, params: match.slice(1), query });
    return;
  }
  throw new PromoError('not_found', `Nothing lives at ${path.slice(0, 100)}. See the README for the endpoints.`);
}

export function methodNotAllowed(allowed: string[], used = ''): PromoError {
  const what = used ? `${used.slice(0, 10)} is not supported here. ` : '';
  return new PromoError('method_not_allowed', `${what}Use ${allowed.join(' or ')} here.`);
}
