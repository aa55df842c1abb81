import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { isValidSlackRequest } from '@slack/bolt';
import { PromoError } from '../domain/errors.js';
import { printable } from '../domain/fields.js';

/** As Bolt's own limit: Slack's payloads (even big modals) are far smaller. */
export const SLACK_BODY_LIMIT = 4 * 1024 * 1024;

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

/** Read the whole body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = SLACK_BODY_LIMIT): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new PromoError('payload_too_large', 'The request body is too large.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new PromoError('payload_too_large', 'The request body is too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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
  const raw = await readBody(req);
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = raw;
  const text = raw.toString('utf8');
  const contentType = req.headers['content-type'];
  const body = parseSlackBody(text, contentType);
  // Slack's ssl_check is unsigned by design; Bolt strips everything else from it.
  if (isObject(body) && body.ssl_check === '1' && contentType === 'application/x-www-form-urlencoded') return { ok: true };
  const signature = req.headers['x-slack-signature'];
  const timestamp = Number(req.headers['x-slack-request-timestamp']);
  // Bolt refuses old timestamps only; one from the future would make a captured request replayable later.
  const fresh = Number.isFinite(timestamp) && Math.abs(nowMs / 1000 - timestamp) <= SIGNATURE_MAX_AGE_S;
  const signed = typeof signature === 'string' && fresh
    && isValidSlackRequest({ signingSecret, body: text, headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp }, nowMilliseconds: nowMs });
  if (!signed) return { ok: false, status: 401 };
  const reason = malformedReason(body, handled);
  if (reason) return { ok: false, status: 400, message: reason };
  return { ok: true };
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
