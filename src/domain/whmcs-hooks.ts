import { PromoError } from './errors.js';
import { parseClientEmail, parseClientId } from './binding.js';
import { verifyWebhookSignature } from './webhooks.js';

/**
 * Calls from the promoset WHMCS addon (integrations/whmcs/modules/addons/promoset/):
 * their shape, and the signature that is their only credential. Pure.
 */
export const HOOK_EVENTS = ['validate_checkout', 'checkout', 'cancel', 'fraud', 'delete'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

export interface HookCall {
  event: HookEvent;
  orderId: number | null;
  invoiceId: number | null;
  /** Lower-cased, without repeats: an order may carry more than one code. */
  codes: string[];
  clientId: number | null;
  clientEmail: string | null;
}

/** Codes per order: WHMCS applies one, a customised cart a few; this bounds the work of one call. */
const MAX_CODES = 20;

/** The call's JSON, checked field by field; anything off is a 400 that names the field. */
export function parseHookCall(input: Record<string, unknown>): HookCall {
  const errors: Record<string, string> = {};
  const known = new Set(['event', 'order_id', 'invoice_id', 'promocodes', 'promocode', 'client_id', 'client_email']);
  for (const key of Object.keys(input)) if (!known.has(key)) errors[key] = `Unknown field "${key.slice(0, 40)}".`;
  const event = input.event;
  if (typeof event !== 'string' || !(HOOK_EVENTS as readonly string[]).includes(event)) errors.event = `The event must be one of ${HOOK_EVENTS.join(', ')}.`;
  const orderId = optionalId(input.order_id);
  if (orderId === 'invalid') errors.order_id = 'The order_id must be a WHMCS order id: a whole number from 1.';
  const invoiceId = input.invoice_id === 0 ? null : optionalId(input.invoice_id);
  if (invoiceId === 'invalid') errors.invoice_id = 'The invoice_id must be a WHMCS invoice id: a whole number from 1, or 0 for none.';
  const clientId = optionalId(input.client_id);
  if (clientId === 'invalid') errors.client_id = 'The client_id must be a WHMCS client id: a whole number from 1.';
  const clientEmail = parseClientEmail(input.client_email);
  if (clientEmail === 'invalid') errors.client_email = 'The client_email must be an e-mail address such as name@example.com.';
  const raw = input.promocodes ?? (input.promocode === undefined || input.promocode === null ? [] : [input.promocode]);
  let codes: string[] = [];
  if (!Array.isArray(raw) || raw.some((code) => typeof code !== 'string' || code.length > 200)) errors.promocodes = 'The promocodes must be a list of codes (text, up to 200 characters each).';
  else codes = [...new Set((raw as string[]).map((code) => code.trim().toLowerCase()).filter((code) => code !== ''))];
  if (codes.length > MAX_CODES) errors.promocodes = `An order may carry at most ${MAX_CODES} promo codes.`;
  if (event !== 'validate_checkout' && orderId === null && errors.order_id === undefined) errors.order_id = 'Send the WHMCS order id as order_id.';
  if (Object.keys(errors).length > 0) throw PromoError.validation(errors);
  return {
    event: event as HookEvent, orderId: orderId as number | null, invoiceId: invoiceId as number | null, codes,
    clientId: clientId as number | null, clientEmail: clientEmail as string | null,
  };
}

function optionalId(value: unknown): number | null | 'invalid' {
  return parseClientId(value);
}

/** Every refusal of a hook call is this one 401: the caller learns nothing about which check failed. */
export const hookUnauthorized = () =>
  new PromoError('unauthorized', 'This call is not signed with WHMCS_HOOK_SECRET, or its signature is more than 5 minutes old. Check the shared secret in the promoset addon settings and the WHMCS server clock.');

/**
 * `Promoset-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`, as webhooks are
 * signed (domain/webhooks.ts): constant-time, 5-minute window either way.
 */
export function assertHookSigned(secret: string, rawBody: Buffer, header: string | undefined, nowSeconds: number): void {
  const check = verifyWebhookSignature(secret, rawBody, header, { nowSeconds });
  if (!check.ok) throw hookUnauthorized();
}
