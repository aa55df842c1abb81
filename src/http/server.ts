import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { PromoError } from '../domain/errors.js';
import { httpRefused, httpRequestDuration } from '../metrics.js';
import { IpAllowlists } from './allowlist.js';
import { createClientIpResolver } from './client-ip.js';
import { createRateLimits } from './rate-limit.js';
import { sendError } from './respond.js';
import { adminRoutes } from './routes/admin.js';
import { accessRoutes } from './routes/access.js';
import { bulkRoutes } from './routes/bulk.js';
import { opsRoutes } from './routes/ops.js';
import { redemptionRoutes } from './routes/redemptions.js';
import { setUrlRoutes } from './routes/set-url.js';
import { whmcsRoutes } from './routes/whmcs.js';
import type { Mount } from '../service/mount.js';
import type { AppContext, HttpContext, Method, Route } from './routing.js';

/**
 * The HTTP server, top-down: every request gets a request id, is dispatched
 * to a mount (Slack) or a route, and ends with one access-log line and its
 * duration in the metrics, both named by the route's template (never its URL,
 * which may hold a set token).
 */
export const ROUTES: Route[] = [...opsRoutes, ...setUrlRoutes, ...bulkRoutes, ...redemptionRoutes, ...whmcsRoutes, ...adminRoutes, ...accessRoutes];

export function createHttpServer(ctx: HttpContext, mounts: Mount[] = []): Server {
  const app: AppContext = {
    ...ctx,
    clientIp: createClientIpResolver(ctx.config.TRUST_PROXY),
    allowlists: new IpAllowlists(),
    rateLimits: createRateLimits(ctx.config.RATE_LIMIT_PER_MINUTE),
  };
  const server = createServer((req, res) => handle(req, res, app, mounts));
  server.on('clientError', answerBrokenHttp);
  // Slow clients must not hold sockets for ever.
  server.requestTimeout = 120_000;
  server.headersTimeout = 30_000;
  return server;
}

function handle(req: IncomingMessage, res: ServerResponse, app: AppContext, mounts: Mount[]): void {
  const started = process.hrtime.bigint();
  const requestId = requestIdFor(req);
  res.setHeader('x-request-id', requestId);
  const { path, query } = splitUrl(req.url ?? '/');
  const mount = mounts.find((m) => path === m.path);
  const found = mount ? undefined : findRoute(path);
  const routeName = mount?.path ?? found?.route.name ?? 'unmatched';
  res.once('close', () => recordRequest(app, req, res, { routeName, requestId, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));

  if (mount) {
    mount.listener(req, res);
    return;
  }
  Promise.resolve()
    .then(async () => {
      if (!found) throw new PromoError('not_found', `Nothing lives at ${path.slice(0, 100)}. See the README for the endpoints.`);
      const handler = handlerFor(found.route, req, res);
      await handler({ req, res, app, params: found.params, query });
    })
    .catch((error) => {
      // A body we did not read to the end is not drained: the connection closes after the answer.
      if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
      sendError(res, error, app.logger);
    });
}

/** The caller's X-Request-Id when it is a sane token (it goes into our logs), else a fresh one. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
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

function findRoute(path: string): { route: Route; params: string[] } | undefined {
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (match) return { route, params: match.slice(1) };
  }
  return undefined;
}

function handlerFor(route: Route, req: IncomingMessage, res: ServerResponse) {
  // HEAD is GET without a body (node:http drops the body for us).
  const method = req.method === 'HEAD' ? 'GET' : (req.method as Method);
  const handler = route.methods[method];
  if (handler) return handler;
  const allowed = Object.keys(route.methods);
  res.setHeader('allow', (allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed).join(', '));
  const what = req.method ? `${req.method.slice(0, 10)} is not supported here. ` : '';
  throw new PromoError('method_not_allowed', `${what}Use ${allowed.join(' or ')} here.`);
}

/** Statuses that mean "refused before any work", counted by reason. */
const REFUSALS: Record<number, string> = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 429: 'rate_limited' };

function recordRequest(app: AppContext, req: IncomingMessage, res: ServerResponse, done: { routeName: string; requestId: string; seconds: number }): void {
  // A client that hung up before the answer gets status 499, as nginx logs it.
  const status = res.writableFinished ? res.statusCode : 499;
  const method = (req.method ?? '').slice(0, 10);
  httpRequestDuration.observe({ method, route: done.routeName, status: String(status) }, done.seconds);
  const refusal = REFUSALS[status];
  if (refusal) httpRefused.inc({ route: done.routeName, reason: refusal });
  app.logger.info('request', {
    method,
    route: done.routeName,
    status,
    durationMs: Math.round(done.seconds * 1e6) / 1e3,
    ip: app.clientIp(req),
    requestId: done.requestId,
  });
}

/** Bytes that are not HTTP at all never reach a route; they still get the error shape, not Node's bare 400. */
function answerBrokenHttp(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify({
    result: 'error',
    message: tooLarge ? 'The request headers are too large.' : 'The request is not valid HTTP (check Content-Length or Transfer-Encoding).',
    code: tooLarge ? 'payload_too_large' : 'bad_request',
    fields: {},
  });
  socket.end(`HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
