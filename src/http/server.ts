import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { PromoError } from '../domain/errors.js';
import { httpRefused, httpRequestDuration } from '../metrics.js';
import { accessLogExtras } from './access-log.js';
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
import { whmcsHookRoutes } from './routes/whmcs-hooks.js';
import type { Mount } from '../service/mount.js';
import type { AppContext, HttpContext, Method, QueryParams, Route } from './routing.js';

/**
 * The HTTP server, top-down: every request gets a request id, is dispatched
 * to a mount (Slack) or a route, and ends with one access-log line and its
 * duration in the metrics, both named by the route's template (never its URL,
 * which may hold a set token).
 */
export const ROUTES: Route[] = [...opsRoutes, ...setUrlRoutes, ...bulkRoutes, ...redemptionRoutes, ...whmcsRoutes, ...whmcsHookRoutes, ...adminRoutes, ...accessRoutes];

export function createHttpServer(ctx: HttpContext, mounts: Mount[] = []): Server {
  const app: AppContext = {
    ...ctx,
    clientIp: createClientIpResolver(ctx.config.TRUST_PROXY),
    allowlists: new IpAllowlists(),
    rateLimits: createRateLimits(ctx.config, ctx.core, warnOncePerMinute(ctx.logger)),
  };
  // Host is checked by handle(), so a request without it gets the JSON error shape.
  const server = createServer({ requireHostHeader: false, connectionsCheckingInterval: 1_000 }, (req, res) => handle(req, res, app, mounts));
  server.on('clientError', answerBrokenHttp);
  // Slow clients must not hold sockets for ever (checked every second; answered 408 by answerBrokenHttp).
  server.requestTimeout = 120_000;
  server.headersTimeout = 30_000;
  return server;
}

function handle(req: IncomingMessage, res: ServerResponse, app: AppContext, mounts: Mount[]): void {
  // Nothing a request does may take the process down: every other request is someone's checkout.
  try {
    dispatch(req, res, app, mounts);
  } catch (error) {
    answerAfterFault(res, error);
  }
}

function dispatch(req: IncomingMessage, res: ServerResponse, app: AppContext, mounts: Mount[]): void {
  const started = process.hrtime.bigint();
  // The peer is read now, while the socket is certain to be there (see client-ip.ts).
  app.clientIp(req);
  const requestId = requestIdFor(req);
  res.setHeader('x-request-id', requestId);
  const { path, query } = splitUrl(req.url ?? '/');
  const mount = mounts.find((m) => path === m.path);
  const found = mount ? undefined : findRoute(path);
  const routeName = mount?.path ?? found?.route.name ?? 'unmatched';
  res.once('close', () => {
    try {
      recordRequest(app, req, res, { routeName, requestId, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
    } catch (error) {
      // The access log failing is no reason to stop serving; say so where it can still be seen.
      reportFault('the access log failed', error);
    }
  });

  if (missingHost(req)) {
    sendError(res, new PromoError('bad_request', 'The request has no Host header; HTTP/1.1 requires one.'), app.logger);
    return;
  }
  if (mount) {
    mount.listener(req, res);
    return;
  }
  // After the parser's turn, not in it: by then a small body has arrived with the headers, and is read without waiting (body.ts).
  // (A promise's reaction, not queueMicrotask: that one makes an AsyncResource per call.)
  void SETTLED.then(() => runRoute(req, res, app, found, query));
}

const SETTLED = Promise.resolve();

function runRoute(req: IncomingMessage, res: ServerResponse, app: AppContext, found: FoundRoute | undefined, query: QueryParams): void {
  let handled: Promise<void> | void;
  try {
    // Never the path itself: it may hold a set token, and error bodies end up in other people's logs.
    if (!found) throw new PromoError('not_found', 'Nothing lives at this address. See the README for the endpoints.');
    handled = handlerFor(found.route, req, res)({ req, res, app, params: found.params, query });
  } catch (error) {
    answerWithError(req, res, app, error);
    return;
  }
  if (handled) handled.catch((error) => answerWithError(req, res, app, error));
}

function answerWithError(req: IncomingMessage, res: ServerResponse, app: AppContext, error: unknown): void {
  try {
    // A body we did not read to the end is not drained: the connection closes after the answer.
    if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
    sendError(res, error, app.logger);
  } catch (fault) {
    answerAfterFault(res, fault);
  }
}

/** HTTP/1.1 requires Host (RFC 9112 §3.2); Node's own check would answer with an empty 400. */
function missingHost(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 1 && req.httpVersionMinor === 1 && req.headers.host === undefined;
}

/**
 * Last resort when answering itself threw (the logger, a listener): a bare
 * 500 if nothing was sent yet, else the connection is cut. Never rethrown.
 */
function answerAfterFault(res: ServerResponse, error: unknown): void {
  reportFault('a request failed while being answered', error);
  try {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = '{"result":"error","message":"Something went wrong on our side; nothing was saved. Please try again.","code":"internal_error","fields":{}}';
    res.writeHead(500, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  } catch {
    res.destroy();
  }
}

/** Straight to stderr: the logger may be what failed. */
export function reportFault(what: string, error: unknown): void {
  try {
    process.stderr.write(`${JSON.stringify({ level: 'error', time: new Date().toISOString(), msg: what, error: error instanceof Error ? error.stack : String(error) })}\n`);
  } catch {
    // stderr is gone too: nothing left to tell.
  }
}

/** A shared rate limit that cannot reach PostgreSQL counts in this process meanwhile; said once a minute, not per request. */
function warnOncePerMinute(logger: AppContext['logger']): (error: unknown) => void {
  let last = 0;
  return (error) => {
    if (Date.now() - last < 60_000) return;
    last = Date.now();
    logger.warn('rate limits are counted per instance for now: the shared counters cannot be reached', { error: error instanceof Error ? error.message : String(error) });
  };
}

/** The caller's X-Request-Id when it is a sane token (it goes into our logs), else a fresh one. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Most requests have no query string; they share this one (RouteRequest.query is read only). */
const NO_QUERY: QueryParams = new URLSearchParams();

function splitUrl(url: string): { path: string; query: QueryParams } {
  let target = url;
  // Absolute-form request targets ("POST http://host/sets/…") are legal HTTP.
  if (!target.startsWith('/')) {
    try {
      const parsed = new URL(target);
      target = parsed.pathname + parsed.search;
    } catch {
      return { path: target, query: NO_QUERY };
    }
  }
  const q = target.indexOf('?');
  return q === -1 ? { path: target, query: NO_QUERY } : { path: target.slice(0, q), query: new URLSearchParams(target.slice(q + 1)) };
}

/** ROUTES by the first segment of their template ("sets" for /sets/{token}/…), in ROUTES' order: a request tries only its own. */
const ROUTES_BY_SEGMENT = new Map<string, Route[]>();
for (const route of ROUTES) {
  const segment = firstSegment(route.name);
  ROUTES_BY_SEGMENT.set(segment, [...(ROUTES_BY_SEGMENT.get(segment) ?? []), route]);
}

function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end === -1 ? path.slice(1) : path.slice(1, end);
}

interface FoundRoute {
  route: Route;
  params: string[];
}

function findRoute(path: string): FoundRoute | undefined {
  for (const route of ROUTES_BY_SEGMENT.get(firstSegment(path)) ?? []) {
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
  app.logger.access({
    method,
    route: done.routeName,
    status,
    durationMs: Math.round(done.seconds * 1e6) / 1e3,
    ip: app.clientIp(req),
    requestId: done.requestId,
    extras: accessLogExtras(res),
  });
}

/** Bytes that are not HTTP at all never reach a route; they still get the error shape, not Node's bare 400. */
const BROKEN_HTTP: Record<string, { status: string; message: string; code: string }> = {
  HPE_HEADER_OVERFLOW: { status: '431 Request Header Fields Too Large', message: 'The request headers are too large.', code: 'payload_too_large' },
  // headersTimeout and requestTimeout: the client was too slow to send its request.
  ERR_HTTP_REQUEST_TIMEOUT: { status: '408 Request Timeout', message: 'The request took too long to arrive; send it again, all at once.', code: 'request_timeout' },
};
const NOT_HTTP = { status: '400 Bad Request', message: 'The request is not valid HTTP (check Content-Length or Transfer-Encoding).', code: 'bad_request' };

function answerBrokenHttp(error: NodeJS.ErrnoException, socket: Socket): void {
  // As Node's own handler: never write into a response that has already started.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const answer = BROKEN_HTTP[error.code ?? ''] ?? NOT_HTTP;
  const body = JSON.stringify({ result: 'error', message: answer.message, code: answer.code, fields: {} });
  socket.end(`HTTP/1.1 ${answer.status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
