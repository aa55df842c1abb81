import { PromoError } from '../../domain/errors.js';
import { sendJson } from '../respond.js';
import type { Mount } from '../../service/mount.js';

/**
 * Slack's request URL while Slack is off. Slack checks the URL when the app
 * is created from the manifest, before the operator has the tokens to give
 * promoset; a 404 there reads like a wrong URL. A 503 naming the missing
 * variables says what to do instead: set them, restart, press Retry.
 */
export function slackOffMount(path: string, missing: string[]): Mount {
  const error = new PromoError(
    'slack_off',
    `Slack is off on this promoset server: ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set. Set ${missing.length === 1 ? 'it' : 'them'} from the Slack app's settings (or SLACK_APP_TOKEN for Socket Mode), restart promoset, then press Retry in Slack.`,
    Object.fromEntries(missing.map((name) => [name, `${name} is not set.`])),
  );
  return {
    path,
    listener(req, res) {
      // The body is not needed; read it off so the connection can be reused.
      req.resume();
      sendJson(res, error.status, error.toJSON(), { 'retry-after': '60' });
    },
  };
}
