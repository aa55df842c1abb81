import type { ServerResponse } from 'node:http';
import { PromoError } from '../../domain/errors.js';
import { redeemPromotion, rollbackRedemption, validatePromotion } from '../../service/redemptions.js';
import { readBody } from '../body.js';
import { abandonIdempotent, beginIdempotent, finishIdempotent } from '../../service/idempotency.js';
import { redemptions } from '../../metrics.js';
import { sendJson } from '../respond.js';
import type { Route, RouteRequest } from '../routing.js';
import { resolveCaller } from './set-url.js';

/**
 * The checkout's side of a set URL: validate a code, redeem it, roll a
 * redemption back. The set URL's secret and allowlist guard these as they
 * guard issuing (resolveCaller). An archived set issues no new codes, but
 * the codes it issued stay valid, so its URL still validates and redeems them.
 * Redemptions are not rate limited: a shop's checkout server legitimately
 * sends many from one address.
 */

const ISSUED_CODES_OUTLIVE_ARCHIVING = { includeArchived: true };

function codeParam(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new PromoError('bad_request', 'The code in the path is not valid URL encoding.');
  }
}

/** `GET {set URL}/promotions/{code}`: valid or not, why, and the promotion. Changes nothing. */
async function validate({ req, res, app, params }: RouteRequest): Promise<void> {
  const { set } = await resolveCaller(app, req, params[0], ISSUED_CODES_OUTLIVE_ARCHIVING);
  sendJson(res, 200, await validatePromotion(app.core, set, codeParam(params[1])));
}

/**
 * `POST {set URL}/redemptions`: count one use. An Idempotency-Key replays the
 * first result, a refusal (409) included: a retried checkout gets the same
 * answer, and never a second use.
 */
async function redeem({ req, res, app, params }: RouteRequest): Promise<void> {
  const caller = await resolveCaller(app, req, params[0], ISSUED_CODES_OUTLIVE_ARCHIVING);
  const body = await readBody(req);
  const claim = await beginIdempotent(app.core, req.headers['idempotency-key'], caller.set.id, ['redeem', body.raw]);
  if (claim?.kind === 'replay') {
    sendStored(res, claim.record.status ?? 200, claim.record.body ?? '{}');
    return;
  }
  let status = 200;
  let text: string;
  try {
    const result = await redeemPromotion(app.core, caller.set, body.fields, `http:${caller.ip}`, { requestKey: claim?.kind === 'new' ? claim.requestKey : undefined });
    text = JSON.stringify(result);
    redemptions.inc({ outcome: 'redeemed' });
  } catch (error) {
    if (!(error instanceof PromoError) || error.status !== 409) {
      await abandonIdempotent(app.core, claim);
      throw error;
    }
    status = 409;
    text = JSON.stringify(error.toJSON());
    // The refusal's code (promotion_used_up, promotion_expired, …): a bounded set of labels.
    redemptions.inc({ outcome: error.code });
  }
  await finishIdempotent(app.core, claim, { status, body: text });
  sendStored(res, status, text, false);
}

function sendStored(res: ServerResponse, status: number, text: string, replayed = true): void {
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) };
  if (replayed) headers['idempotent-replayed'] = 'true';
  res.writeHead(status, headers);
  res.end(text);
}

/** `POST {set URL}/redemptions/{id}/rollback`: the use back, once; a second rollback is a 409. */
async function rollback({ req, res, app, params }: RouteRequest): Promise<void> {
  const { set } = await resolveCaller(app, req, params[0], ISSUED_CODES_OUTLIVE_ARCHIVING);
  await readBody(req);
  sendJson(res, 200, await rollbackRedemption(app.core, set, params[1]));
}

export const redemptionRoutes: Route[] = [
  { name: '/sets/{token}/promotions/{code}', pattern: /^\/sets\/([^/]+)\/promotions\/([^/]{1,600})$/, methods: { GET: validate } },
  { name: '/sets/{token}/redemptions', pattern: /^\/sets\/([^/]+)\/redemptions$/, methods: { POST: redeem } },
  { name: '/sets/{token}/redemptions/{id}/rollback', pattern: /^\/sets\/([^/]+)\/redemptions\/([^/]{1,40})\/rollback$/, methods: { POST: rollback } },
];
