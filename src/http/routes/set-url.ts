import type { IncomingMessage, ServerResponse } from 'node:http';
import { PromoError } from '../../domain/errors.js';
import { sameSet, type PromoSet } from '../../domain/set.js';
import { toSetResponse } from '../../domain/set.js';
import { generatePromotion } from '../../service/generate.js';
import { resolveSetToken, setUrl, type ResolveOptions } from '../../service/set-urls.js';
import { listPromotions } from '../../service/promotions.js';
import { readBody } from '../body.js';
import { abandonIdempotent, beginIdempotent, finishIdempotent } from '../../service/idempotency.js';
import { rateLimitClient, rateLimited, type RateLimiter } from '../rate-limit.js';
import { sendJson } from '../respond.js';
import type { AppContext, Route, RouteRequest } from '../routing.js';

export interface SetCaller {
  set: PromoSet;
  ip: string;
}

/**
 * Who is asking, about which set: the token must name a live set (else the
 * same 404 for everything) and the client address must be on its allowlist (403).
 */
export async function resolveCaller(app: AppContext, req: IncomingMessage, token: string, options: ResolveOptions = {}): Promise<SetCaller> {
  const set = await resolveSetToken(app.core, token, options);
  const ip = app.clientIp(req);
  // A cached set may have been widened since: only the database's copy can refuse.
  if (options.cached && !app.allowlists.allows(set.api_ip_address, ip)) return resolveCaller(app, req, token);
  app.allowlists.assertAllowed(set.api_ip_address, ip);
  return { set, ip };
}

/** Count a POST against its limit; over it, 429 with Retry-After. */
export function enforceRateLimit(limiter: RateLimiter, res: ServerResponse, caller: SetCaller, what: string): void {
  const wait = limiter.hit(`${caller.set.id}|${rateLimitClient(caller.ip)}`);
  if (wait === 0) return;
  res.setHeader('retry-after', String(wait));
  throw rateLimited(wait, limiter.limitPerMinute, what);
}

async function getSet({ req, res, app, params }: RouteRequest): Promise<void> {
  const { set } = await resolveCaller(app, req, params[0]);
  sendJson(res, 200, toSetResponse(set, setUrl(app.core, set)));
}

/** How often a POST is re-run against a set that changed under it before the client is told. */
const SET_CHANGED_RETRIES = 3;

/**
 * Seed 001's POST: one new promotion, with the optional overrides as form
 * fields or JSON. The hot path: the set comes from this process's cache, and
 * the group commit re-checks it in its transaction. If it changed meanwhile
 * (set_changed), everything that depends on it (token, allowlist, terms) is
 * decided again from the database, as if the request had just arrived; a
 * refusal made from the cached set is likewise confirmed against the database.
 */
async function postPromotion({ req, res, app, params }: RouteRequest): Promise<void> {
  let caller = await resolveCaller(app, req, params[0], { cached: true });
  enforceRateLimit(app.rateLimits.single, res, caller, 'code');
  const body = await readBody(req);
  const claim = await beginIdempotent(app.core, req.headers['idempotency-key'], caller.set.id, ['single', body.raw]);
  if (claim?.kind === 'replay') {
    // A claim recovered from its batch (see recoverCommitted) has no stored body: render it from the batch.
    const { record } = claim;
    const body = record.body ?? JSON.stringify((await listPromotions(app.core, { batchId: record.batchId ?? 0 }))[0] ?? {});
    sendReplay(res, record.status ?? 200, body);
    return;
  }
  let text: string;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const promotion = await generatePromotion(app.core, caller.set, body.fields, `http:${caller.ip}`, { requestKey: claim?.kind === 'new' ? claim.requestKey : undefined, setMayBeStale: true });
        text = JSON.stringify(promotion);
        break;
      } catch (error) {
        if (!(error instanceof PromoError) || attempt > SET_CHANGED_RETRIES) throw error;
        // A refusal made from a cached set stands only if the database holds the same set.
        const fresh = await resolveCaller(app, req, params[0]);
        if (error.code !== 'set_changed' && sameSet(fresh.set, caller.set)) throw error;
        caller = fresh;
      }
    }
  } catch (error) {
    await abandonIdempotent(app.core, claim);
    throw error;
  }
  await finishIdempotent(app.core, claim, { status: 200, body: text });
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendReplay(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'idempotent-replayed': 'true' });
  res.end(text);
}

export const setUrlRoutes: Route[] = [
  {
    name: '/sets/{token}',
    pattern: /^\/sets\/([^/]+)$/,
    methods: { GET: getSet, POST: postPromotion },
  },
];
