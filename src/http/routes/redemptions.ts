import type { IncomingMessage, ServerResponse } from 'node:http';
import { PromoError } from '../../domain/errors.js';
import { sameSet } from '../../domain/set.js';
import { redeemPromotion, validatePromotion, type RedemptionResult } from '../../service/redemptions.js';
import { rollbackRedemption } from '../../service/rollbacks.js';
import { readBody } from '../body.js';
import { abandonIdempotent, beginIdempotent, finishIdempotent } from '../../service/idempotency.js';
import { redemptions } from '../../metrics.js';
import { sendJson } from '../respond.js';
import type { AppContext, Route, RouteRequest } from '../routing.js';
import { cachedCaller, enforceRateLimit, resolveCaller, type SetCaller } from './set-url.js';

/**
 * The checkout's side of a set URL: validate a code, redeem it, roll a
 * redemption back. The set URL's secret and allowlist guard these as they
 * guard issuing (resolveCaller). An archived set issues no new codes, but
 * the codes it issued stay valid, so its URL still validates and redeems them.
 * Redemptions are not rate limited: a shop's checkout server legitimately
 * sends many from one address.
 */

const ISSUED_CODES_OUTLIVE_ARCHIVING = { includeArchived: true };
/** The redemption's hot path: the set from this process's cache, checked in the write transaction. */
const CACHED_SET = { ...ISSUED_CODES_OUTLIVE_ARCHIVING, cached: true };

/** How often a redemption is re-run against a set that changed under it before the client is told. */
const SET_CHANGED_RETRIES = 3;

function codeParam(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new PromoError('bad_request', 'The code in the path is not valid URL encoding.');
  }
}

/** `GET {set URL}/promotions/{code}`: valid or not, why, and the promotion. Changes nothing. */
async function validate({ req, res, app, params, query }: RouteRequest): Promise<void> {
  const caller = await resolveCaller(app, req, params[0], ISSUED_CODES_OUTLIVE_ARCHIVING);
  await enforceRateLimit(app.rateLimits.redemptions, res, caller, 'validation');
  const { set } = caller;
  // The customer at the checkout, for a code bound to one: ?client_id=…&client_email=…
  const customer = { clientId: query.get('client_id'), clientEmail: query.get('client_email') };
  sendJson(res, 200, await validatePromotion(app.core, set, codeParam(params[1]), customer));
}

/**
 * `POST {set URL}/redemptions`: count one use. An Idempotency-Key replays the
 * first result, a refusal (409) included: a retried checkout gets the same
 * answer, and never a second use.
 */
async function redeem({ req, res, app, params }: RouteRequest): Promise<void> {
  const caller = cachedCaller(app, req, params[0]) ?? (await resolveCaller(app, req, params[0], CACHED_SET));
  const limited = enforceRateLimit(app.rateLimits.redemptions, res, caller, 'redemption');
  if (limited) await limited;
  const read = readBody(req);
  const body = read instanceof Promise ? await read : read;
  const key = req.headers['idempotency-key'];
  const claim = key === undefined ? null : await beginIdempotent(app.core, key, caller.set.id, ['redeem', body.raw]);
  if (claim?.kind === 'replay') {
    sendStored(res, claim.record.status ?? 200, claim.record.body ?? '{}');
    return;
  }
  let status = 200;
  let text: string;
  try {
    const result = await redeemWithCachedSet(app, req, params[0], caller, body.fields, claim?.kind === 'new' ? claim.requestKey : undefined);
    text = JSON.stringify(result);
    redemptions.inc({ outcome: 'redeemed' });
  } catch (error) {
    if (!(error instanceof PromoError) || error.status !== 409) {
      // Saved or not is unknown: the claim stays pending, so a retry with its key finds the redemption if it was (idempotency.ts).
      if (!(error instanceof PromoError && error.code === 'outcome_unknown')) await abandonIdempotent(app.core, claim);
      throw error;
    }
    status = 409;
    text = JSON.stringify(error.toJSON());
    // The refusal's code (promotion_used_up, promotion_expired, …): a bounded set of labels.
    redemptions.inc({ outcome: error.code });
  }
  if (claim) await finishIdempotent(app.core, claim, { status, body: text });
  sendStored(res, status, text, false);
}

/**
 * Redeem against the cached set. If it changed meanwhile (set_changed), the
 * token, allowlist and set are decided again from the database, as if the
 * request had just arrived; a refusal made from the cached set is likewise
 * confirmed against the database (a refusal writes nothing, so re-running is safe).
 */
async function redeemWithCachedSet(app: AppContext, req: IncomingMessage, token: string, caller: SetCaller, fields: Record<string, unknown>, requestKey: string | undefined): Promise<RedemptionResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await redeemPromotion(app.core, caller.set, fields, `http:${caller.ip}`, { requestKey, setMayBeStale: true });
    } catch (error) {
      if (!(error instanceof PromoError) || attempt > SET_CHANGED_RETRIES) throw error;
      const fresh = await resolveCaller(app, req, token, ISSUED_CODES_OUTLIVE_ARCHIVING);
      if (error.code !== 'set_changed' && sameSet(fresh.set, caller.set)) throw error;
      caller = fresh;
    }
  }
}

function sendStored(res: ServerResponse, status: number, text: string, replayed = true): void {
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) };
  if (replayed) headers['idempotent-replayed'] = 'true';
  res.writeHead(status, headers);
  res.end(text);
}

/** `POST {set URL}/redemptions/{id}/rollback`: the use back, once; a second rollback is a 409. */
async function rollback({ req, res, app, params }: RouteRequest): Promise<void> {
  const caller = await resolveCaller(app, req, params[0], ISSUED_CODES_OUTLIVE_ARCHIVING);
  await enforceRateLimit(app.rateLimits.redemptions, res, caller, 'redemption');
  const { set } = caller;
  await readBody(req);
  sendJson(res, 200, await rollbackRedemption(app.core, set, params[1]));
}

export const redemptionRoutes: Route[] = [
  { name: '/sets/{token}/promotions/{code}', pattern: /^\/sets\/([^/]+)\/promotions\/([^/]{1,600})$/, methods: { GET: validate } },
  { name: '/sets/{token}/redemptions', pattern: /^\/sets\/([^/]+)\/redemptions$/, methods: { POST: redeem } },
  { name: '/sets/{token}/redemptions/{id}/rollback', pattern: /^\/sets\/([^/]+)\/redemptions\/([^/]{1,40})\/rollback$/, methods: { POST: rollback } },
];
