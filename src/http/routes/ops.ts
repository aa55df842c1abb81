import type { IncomingMessage, ServerResponse } from 'node:http';
import { PromoError } from '../../domain/errors.js';
import { registry } from '../../metrics.js';
import { openApiDocument } from '../openapi.js';
import { sendJson } from '../respond.js';
import type { AppContext, Route, RouteRequest } from '../routing.js';
import { secretEquals } from '../secrets.js';

/** Liveness and readiness: no auth, no rate limit (a load balancer polls them). */

/** GET /healthz: liveness, 200 while the process serves. */
function health({ res }: RouteRequest): void {
  sendJson(res, 200, { status: 'ok' });
}

/** GET /readyz: 200 while every required dependency answers, else 503; never cached. */
async function ready({ res, app }: RouteRequest): Promise<void> {
  const { ready, body } = await app.readiness.report();
  sendJson(res, ready ? 200 : 503, body, { 'cache-control': 'no-store' });
}

/** GET /metrics: Prometheus text; behind a bearer token when METRICS_TOKEN is set. */
async function metrics({ req, res, app }: RouteRequest): Promise<void> {
  authorizeScrape(app, req, res);
  const text = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function authorizeScrape(app: AppContext, req: IncomingMessage, res: ServerResponse): void {
  const token = app.config.METRICS_TOKEN;
  if (token === undefined) return;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  if (!match || !secretEquals(token, match[1])) {
    res.setHeader('www-authenticate', 'Bearer realm="promoset-metrics"');
    throw new PromoError('unauthorized', 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>".');
  }
}

/** GET /openapi.json: the HTTP API, built from the zod schemas the routes validate with. */
function openApi({ res, app }: RouteRequest): void {
  sendJson(res, 200, openApiDocument(app.core.publicUrl), { 'cache-control': 'no-cache' });
}

export const opsRoutes: Route[] = [
  { name: '/healthz', pattern: /^\/healthz$/, methods: { GET: health } },
  { name: '/readyz', pattern: /^\/readyz$/, methods: { GET: ready } },
  { name: '/metrics', pattern: /^\/metrics$/, methods: { GET: metrics } },
  { name: '/openapi.json', pattern: /^\/openapi\.json$/, methods: { GET: openApi } },
];
