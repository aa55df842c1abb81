import type { IncomingMessage, ServerResponse } from 'node:http';
import { PromoError } from '../../domain/errors.js';
import { sameSet, type PromoSet } from '../../domain/set.js';
import { toSetResponse } from '../../domain/set.js';
import { generatePromotion } from '../../service/generate.js';
import { bindingHeader, bindingNoteFor, requestedBinding } from '../../service/bindings.js';
import { cachedSetFor, resolveSetToken, setUrl, type ResolveOptions } from '../../service/set-urls.js';
import { listPromotions } from '../../service/promotions.js';
import { readBody } from '../body.js';
import { abandonIdempotent, beginIdempotent, finishIdempotent } from '../../service/idempotency.js';
import { assertNotBlocked, authenticationFailed, rateLimitClient, rateLimited, type Limiter } from '../rate-limit.js';
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
  const ip = app.clientIp(req);
  assertNotBlocked(app.rateLimits, ip);
  let set: PromoSet;
  try {
    set = await resolveSetToken(app.core, token, options);
  } catch (error) {
    // A token that names no set is a guess: counted, as wrong passwords are.
    if (error instanceof PromoError && error.code === 'not_found') return authenticationFailed(app.rateLimits, ip, error);
    throw error;
  }
  // A cached set may have been widened since: only the database's copy can refuse.
  if (options.cached && !app.allowlists.allows(set.api_ip_address, ip)) return resolveCaller(app, req, token);
  app.allowlists.assertAllowed(set.api_ip_address, ip);
  return { set, ip };
}

/**
 * resolveCaller's hot path (options.cached), without waiting for anything: the
 * set from this process's cache for a token it knows, from an address its
 * allowlist allows. Undefined when any of that is not so: resolveCaller decides.
 */
export function cachedCaller(app: AppContext, req: IncomingMessage, token: string): SetCaller | undefined {
  const ip = app.clientIp(req);
  assertNotBlocked(app.rateLimits, ip);
  const set = cachedSetFor(app.core, token);
  return set && app.allowlists.allows(set.api_ip_address, ip) ? { set, ip } : undefined;
}

/**
 * Count a request against its limit; over it, 429 with Retry-After. A limiter
 * that answers at once (this process's own counts) is not waited for.
 */
export function enforceRateLimit(limiter: Limiter, res: ServerResponse, caller: SetCaller, what: string): Promise<void> | undefined {
  const wait = limiter.hit(`${caller.set.id}|${rateLimitClient(caller.ip)}`);
  if (typeof wait === 'number') {
    refuseOverLimit(limiter, res, wait, what);
    return undefined;
  }
  return wait.then((w) => refuseOverLimit(limiter, res, w, what));
}

function refuseOverLimit(limiter: Limiter, res: ServerResponse, wait: number, what: string): void {
  if (wait === 0) return;
  res.setHeader('retry-after', String(wait));
  throw rateLimited(wait, limiter.limitPerMinute, what);
}

async function getSet({ req, res, app, params }: RouteRequest): Promise<void> {
  const { set } = await resolveCaller(app, req, params[0]);
  sendJson(res, 200, toSetResponse(set, setUrl(app.core, set)));
}

const CACHED: ResolveOptions = { cached: true };

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
  let caller = cachedCaller(app, req, params[0]) ?? (await resolveCaller(app, req, params[0], CACHED));
  const limited = enforceRateLimit(app.rateLimits.single, res, caller, 'code');
  if (limited) await limited;
  const read = readBody(req);
  const body = read instanceof Promise ? await read : read;
  const key = req.headers['idempotency-key'];
  const claim = key === undefined ? null : await beginIdempotent(app.core, key, caller.set.id, ['single', body.raw]);
  if (claim?.kind === 'replay') {
    // A claim recovered from its batch (see recoverCommitted) has no stored body: render it from the batch.
    const { record } = claim;
    const text = record.body ?? JSON.stringify((await listPromotions(app.core, { batchId: record.batchId ?? 0 }))[0] ?? {});
    // The same key carries the same body (its fingerprint), so the binding headers are the first reply's too.
    sendReplay(res, record.status ?? 200, text, record.status === 200 || record.status === undefined ? boundHeaders(body.fields, text) : {});
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
  if (claim) await finishIdempotent(app.core, claim, { status: 200, body: text });
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...boundHeaders(body.fields, text) });
  res.end(text);
}

/**
 * A bound code's customer rides in headers (seed 001's body is WHMCS's exact
 * shape): `Promoset-Client`, and `Promoset-Note` when the code can be used
 * more than once. Nothing for an unbound code.
 */
function boundHeaders(fields: Record<string, unknown>, promotionJson: string): Record<string, string> {
  const binding = requestedBinding(fields);
  if (!binding) return {};
  const headers: Record<string, string> = { 'promoset-client': bindingHeader(binding) };
  const { maxuses } = JSON.parse(promotionJson) as { maxuses?: number };
  const note = typeof maxuses === 'number' ? bindingNoteFor(maxuses) : null;
  if (note) headers['promoset-note'] = note;
  return headers;
}

function sendReplay(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'idempotent-replayed': 'true', ...headers });
  res.end(text);
}

export const setUrlRoutes: Route[] = [
  {
    name: '/sets/{token}',
    pattern: /^\/sets\/([^/]+)$/,
    methods: { GET: getSet, POST: postPromotion },
  },
];
