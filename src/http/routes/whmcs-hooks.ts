import { PromoError } from '../../domain/errors.js';
import { assertHookSigned } from '../../domain/whmcs-hooks.js';
import { handleWhmcsHook } from '../../service/whmcs-hooks.js';
import { readRawBody } from '../../service/request-body.js';
import { MAX_BODY_BYTES, parseJsonObject } from '../body.js';
import { sendJson } from '../respond.js';
import type { Route, RouteRequest } from '../routing.js';

/**
 * `POST /whmcs/hooks`: the promoset WHMCS addon's calls. The signature is the
 * only credential, checked on the raw bytes before anything is parsed, so an
 * unsigned, stale or forged call gets the same 401 and changes nothing. With
 * WHMCS_HOOK_SECRET unset the endpoint does not exist (404).
 */
async function hook({ req, res, app }: RouteRequest): Promise<void> {
  const secret = app.config.WHMCS_HOOK_SECRET;
  if (secret === undefined) throw new PromoError('not_found', 'WHMCS hooks are off on this server. Set WHMCS_HOOK_SECRET (16+ characters) and the same secret in the promoset addon.');
  const raw = await readRawBody(req, MAX_BODY_BYTES);
  const header = req.headers['promoset-signature'];
  assertHookSigned(secret, raw, Array.isArray(header) ? header[0] : header, Math.floor(app.core.now().getTime() / 1000));
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new PromoError('unsupported_media_type', 'Send the hook call as application/json.');
  sendJson(res, 200, await handleWhmcsHook(app.core, parseJsonObject(raw.toString('utf8'))));
}

export const whmcsHookRoutes: Route[] = [{ name: '/whmcs/hooks', pattern: /^\/whmcs\/hooks$/, methods: { POST: hook } }];
