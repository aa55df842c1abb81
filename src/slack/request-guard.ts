import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { printable } from '../domain/fields.js';
import { readRawBody } from '../service/request-body.js';

/**
 * Slack's biggest payloads are modal submissions: at most 100 blocks of
 * inputs (3,000 characters each at most) plus the view itself, well under
 * 1 MiB. Bolt allows 4 MiB; anything past 1 MiB is not from Slack.
 */
export const SLACK_BODY_LIMIT = 1024 * 1024;

type Body = Record<string, unknown>;

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * The body the way Bolt reads it: a form (exactly this content type) whose
 * `payload` field is JSON, or JSON. Undefined when it cannot be read.
 */
export function parseSlackBody(raw: string, contentType: string | undefined): unknown {
  try {
    if (contentType === 'application/x-www-form-urlencoded') {
      const form = parseQuery(raw);
      return typeof form.payload === 'string' ? JSON.parse(form.payload) : { ...form };
    }
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/**
 * Why a signed body cannot be a delivery we handle, or undefined if it looks
 * like one. Bolt assumes Slack's shapes (it reads body.user.id, actions[0], …)
 * and answers a malformed body with a 500 or an unhandled rejection; this
 * check turns those into a 400 before Bolt sees them.
 */
/** What this app has listeners for; anything else would wait 3 s for an ack that never comes. */
export interface Handled {
  commands: readonly string[];
  callbackIds: readonly string[];
  actionIds: readonly string[];
}

export function malformedReason(body: unknown, handled?: Handled): string | undefined {
  if (!isObject(body)) return 'The body is not a Slack payload object.';
  if (body.ssl_check !== undefined || body.type === 'url_verification') return undefined;
  if (body.command !== undefined) {
    if (!isText(body.command) || !isText(body.user_id) || !isText(body.trigger_id) || !isText(body.response_url)) return 'A slash command needs command, user_id, trigger_id and response_url.';
    if (body.text !== undefined && typeof body.text !== 'string') return 'A slash command text must be text.';
    if (handled && !handled.commands.includes(body.command)) return `The command ${body.command.slice(0, 40)} is not handled here.`;
    return undefined;
  }
  const user = body.user;
  switch (body.type) {
    case 'view_submission':
    case 'view_closed': {
      const view = body.view;
      if (!isObject(user) || !isText(user.id)) return 'A view payload needs user.id.';
      if (!isObject(view) || !isText(view.id) || !isText(view.callback_id)) return 'A view payload needs view.id and view.callback_id.';
      if (body.type === 'view_submission' && (!isObject(view.state) || !isObject(view.state.values))) return 'A view submission needs view.state.values.';
      if (view.private_metadata !== undefined && typeof view.private_metadata !== 'string') return 'view.private_metadata must be text.';
      if (handled && body.type === 'view_submission' && !handled.callbackIds.includes(view.callback_id)) return 'This form is not handled here.';
      return undefined;
    }
    case 'block_actions': {
      const actions = body.actions;
      if (!isObject(user) || !isText(user.id)) return 'A block action needs user.id.';
      if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => isObject(a) && isText(a.action_id))) return 'A block action needs actions with an action_id.';
      if (actions.some((a) => (a as Body).value !== undefined && typeof (a as Body).value !== 'string')) return 'An action value must be text.';
      if (handled && !actions.every((a) => handled.actionIds.includes((a as Body).action_id as string))) return 'This button is not handled here.';
      return undefined;
    }
    case 'shortcut':
    case 'message_action': {
      if (!isObject(user) || !isText(user.id)) return 'A shortcut needs user.id.';
      if (!isText(body.callback_id) || !isText(body.trigger_id)) return 'A shortcut needs callback_id and trigger_id.';
      if (body.type === 'message_action') {
        const channel = body.channel;
        const message = body.message;
        if (!isObject(channel) || !isText(channel.id) || !isObject(message) || !isText(message.ts)) return 'A message shortcut needs channel.id and message.ts.';
      }
      if (handled && !handled.callbackIds.includes(body.callback_id)) return 'This shortcut is not handled here.';
      return undefined;
    }
    case 'event_callback': {
      const event = body.event;
      if (!isText(body.event_id) || !isObject(event) || !isText(event.type)) return 'An event callback needs event_id and an event with a type.';
      if (event.type === 'app_home_opened' && !isText(event.user)) return 'app_home_opened needs a user.';
      if (event.type === 'function_executed') {
        const fn = event.function;
        if (!isObject(fn) || !isText(fn.callback_id) || !isText(event.function_execution_id)) return 'function_executed needs function.callback_id and function_execution_id.';
        if (event.inputs !== undefined && !isObject(event.inputs)) return 'function_executed inputs must be an object.';
        if (handled && !handled.callbackIds.includes(fn.callback_id)) return 'This workflow step is not handled here.';
      }
      return undefined;
    }
    default:
      return `Payloads of type "${printable(body.type)}" are not handled here.`;
  }
}

export interface GuardResult {
  ok: boolean;
  status?: number;
  message?: string;
}

/**
 * Check a request to /slack/events before Bolt: signature first (401, as
 * Bolt would answer, so a forger learns nothing about payload shapes), then
 * shape (400). The buffered body is left on `req.rawBody`, where Bolt's
 * receiver looks for an already-read body.
 */
/** Slack's own rule for signed requests: five minutes. */
const SIGNATURE_MAX_AGE_S = 5 * 60;

export async function guardSlackRequest(req: IncomingMessage, signingSecret: string, handled?: Handled, nowMs = Date.now()): Promise<GuardResult> {
  const raw = await readRawBody(req, SLACK_BODY_LIMIT);
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = raw;
  const contentType = req.headers['content-type'];
  // The signature is checked on the bytes, before any parsing: an unsigned body costs one HMAC, never a JSON parse.
  if (!signedBySlack(req, raw, signingSecret, nowMs)) {
    // Slack's ssl_check is unsigned by design (a tiny form); Bolt strips everything else from it.
    if (contentType === 'application/x-www-form-urlencoded' && raw.length <= SSL_CHECK_MAX_BYTES && parseQuery(raw.toString('utf8')).ssl_check === '1') return { ok: true };
    return { ok: false, status: 401 };
  }
  const body = parseSlackBody(raw.toString('utf8'), contentType);
  const reason = malformedReason(body, handled);
  if (reason) return { ok: false, status: 400, message: reason };
  return { ok: true };
}

/** An ssl_check is `ssl_check=1&token=…`: a few dozen bytes. */
const SSL_CHECK_MAX_BYTES = 512;

/**
 * Slack's v0 signature: HMAC-SHA256 of `v0:<timestamp>:<raw body>` under the
 * signing secret, compared in constant time, with a timestamp within five
 * minutes either way (Bolt refuses old ones only; one from the future would
 * make a captured request replayable later).
 */
export function signedBySlack(req: IncomingMessage, raw: Buffer, signingSecret: string, nowMs: number): boolean {
  const signature = req.headers['x-slack-signature'];
  const stamp = req.headers['x-slack-request-timestamp'];
  if (typeof signature !== 'string' || typeof stamp !== 'string' || !/^\d{1,12}$/.test(stamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(stamp)) > SIGNATURE_MAX_AGE_S) return false;
  const expected = Buffer.from(`v0=${createHmac('sha256', signingSecret).update(`v0:${stamp}:`).update(raw).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function refuse(res: ServerResponse, result: GuardResult): void {
  if (result.status === 401) {
    // Exactly Bolt's answer to a bad signature: no body.
    res.writeHead(401);
    res.end();
    return;
  }
  const text = JSON.stringify({ result: 'error', message: result.message ?? 'This is not a Slack request promoset handles.', code: 'bad_request', fields: {} });
  res.writeHead(result.status ?? 400, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
