import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook events and their signature (DESIGN.md, "Redemption, voiding and webhooks").
 * Pure: the outbox (src/store/outbox.ts) stores bodies built here, the
 * dispatcher (src/webhooks/) signs them, and receivers verify with verifyWebhookSignature.
 */
export const WEBHOOK_EVENT_TYPES = [
  'promotions.issued',
  'promotion.redeemed',
  'promotion.voided',
  'promotion.unvoided',
  'set.rotated',
  'set.archived',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The POST body of every event. */
export interface WebhookEventBody<D = Record<string, unknown>> {
  id: string;
  type: WebhookEventType;
  created_at: string;
  set_id: number;
  data: D;
}

/** `promotions.issued` carries the promotions themselves up to this many, else a link to the batch CSV. */
export const MAX_INLINE_PROMOTIONS = 1000;

/** A receiver rejects signatures older than this (replays). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export const EVENT_ID_HEADER = 'Promoset-Event-Id';
export const SIGNATURE_HEADER = 'Promoset-Signature';

function hmacHex(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` */
export function signWebhook(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${hmacHex(secret, timestamp, body)}`;
}

export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'mismatch' | 'too_old' | 'too_new' };

/**
 * What a receiver does with a delivery: recompute the HMAC over the raw body
 * (bytes as received, before any JSON parsing), compare in constant time, and
 * refuse a timestamp more than 5 minutes away from its own clock.
 */
export function verifyWebhookSignature(
  secret: string,
  rawBody: string | Buffer,
  header: string | undefined,
  { nowSeconds = Math.floor(Date.now() / 1000), toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS } = {},
): SignatureCheck {
  const parts = new Map((header ?? '').split(',').map((part) => {
    const at = part.indexOf('=');
    return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
  }));
  const t = parts.get('t') ?? '';
  const v1 = parts.get('v1') ?? '';
  if (!/^\d{1,12}$/.test(t) || !/^[0-9a-f]{64}$/.test(v1)) return { ok: false, reason: 'malformed' };
  const timestamp = Number(t);
  const expected = hmacHex(secret, timestamp, Buffer.isBuffer(rawBody) ? rawBody.toString('utf8') : rawBody);
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(v1))) return { ok: false, reason: 'mismatch' };
  if (nowSeconds - timestamp > toleranceSeconds) return { ok: false, reason: 'too_old' };
  if (timestamp - nowSeconds > toleranceSeconds) return { ok: false, reason: 'too_new' };
  return { ok: true, timestamp };
}

/** Delay before the retry after `attempts` failed attempts: base, 2×base, 4×base, … capped at an hour. */
export function retryDelaySeconds(baseSeconds: number, attempts: number): number {
  return Math.min(baseSeconds * 2 ** Math.max(0, attempts - 1), 3600);
}

/** Deliveries are retried for this long after the event was written, then marked failed. */
export const RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Config the webhook use cases and the dispatcher share. */
export interface WebhookSettings {
  /** WEBHOOK_ALLOW_PRIVATE_NETWORKS: deliver to loopback/private addresses (tests, internal receivers). */
  allowPrivateNetworks: boolean;
  /** WEBHOOK_RETRY_BASE_SECONDS: the first retry delay; each next one doubles. */
  retryBaseSeconds: number;
}
