import { PromoError } from '../../domain/errors.js';
import { getPromotions } from '../../service/whmcs.js';
import type { z } from 'zod';
import { readBody } from '../body.js';
import { assertNotBlocked, authenticationFailed } from '../rate-limit.js';
import { whmcsApiRequest } from '../schemas.js';
import { secretEquals } from '../secrets.js';
import type { Route, RouteRequest } from '../routing.js';
import { jsonArrayPieces, streamPieces } from '../stream.js';

/** WHMCS's own sentences, verbatim: WHMCS client libraries match on them. */
export const WHMCS_ERRORS = {
  authentication: 'Authentication Failed',
  command: 'Command Not Found',
} as const;

type WhmcsFields = z.output<typeof whmcsApiRequest>;

/**
 * WHMCS API credentials: an API identifier and secret, sent as
 * identifier/secret or (the older style seed 002 shows) username/password.
 * Unset on the server: nobody gets in.
 */
function authenticated(fields: WhmcsFields, identifier: string | undefined, secret: string | undefined): boolean {
  const givenIdentifier = fields.identifier ?? fields.username;
  const givenSecret = fields.secret ?? fields.password;
  if (identifier === undefined || secret === undefined || givenIdentifier === undefined || givenSecret === undefined) return false;
  // Both compared, always: no early exit that would time which one was wrong.
  const identifierOk = secretEquals(identifier, givenIdentifier);
  const secretOk = secretEquals(secret, givenSecret);
  return identifierOk && secretOk;
}

/** POST /includes/api.php: the WHMCS API, for the one command promoset answers (GetPromotions). */
async function whmcsApi({ req, res, app }: RouteRequest): Promise<void> {
  const ip = app.clientIp(req);
  assertNotBlocked(app.rateLimits, ip);
  const fields = whmcsApiRequest.parse((await readBody(req)).fields);
  if (!authenticated(fields, app.config.WHMCS_API_IDENTIFIER, app.config.WHMCS_API_SECRET)) {
    // WHMCS answers a failed login with 403 and this message.
    await authenticationFailed(app.rateLimits, ip, new PromoError('forbidden', WHMCS_ERRORS.authentication));
  }
  const responseType = (fields.responsetype ?? 'json').trim().toLowerCase();
  if (responseType !== 'json' && responseType !== '') {
    throw new PromoError('bad_request', `responsetype=${responseType.slice(0, 20)} is not supported here; use responsetype=json.`, { responsetype: 'Use json.' });
  }
  const action = fields.action?.trim() ?? '';
  if (action.toLowerCase() !== 'getpromotions') {
    throw new PromoError('bad_request', WHMCS_ERRORS.command, { action: 'promoset answers action=GetPromotions only.' });
  }
  const code = fields.code;
  const { total, promotions } = await getPromotions(app.core, { code: code === undefined || code.trim() === '' ? undefined : code });
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  await streamPieces(res, jsonArrayPieces(`{"result":"success","totalresults":${total},"promotions":{"promotion":[`, promotions, ']}}'));
}

export const whmcsRoutes: Route[] = [{ name: '/includes/api.php', pattern: /^\/includes\/api\.php$/, methods: { POST: whmcsApi } }];
