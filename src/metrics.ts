import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric promoset exports, in one registry of its own (not
 * prom-client's global one), served by GET /metrics. Metrics are per process:
 * each instance (and each CLI run) counts its own.
 *
 * Labels never hold a set token or a URL: routes are named by their template.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'promoset_' });

/** Where codes come from; what the caller's actor string says (see sourceOfActor). */
export type CodeSource = 'set_url' | 'bulk' | 'slack' | 'cli' | 'admin';

export const codesIssued = new Counter({
  name: 'promoset_codes_issued_total',
  help: 'Promo codes issued, by source (set_url, bulk, slack, cli).',
  labelNames: ['source'] as const,
  registers: [registry],
});

export const httpRequestDuration = new Histogram({
  name: 'promoset_http_request_duration_seconds',
  help: 'HTTP request duration by method, route template (never a URL with a token) and status.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const httpRefused = new Counter({
  name: 'promoset_http_refused_total',
  help: 'Requests refused before doing any work: rate_limited (429), forbidden (403, e.g. IP allowlist), not_found (404, e.g. a forged set token), unauthorized (401).',
  labelNames: ['route', 'reason'] as const,
  registers: [registry],
});

export const slackAcks = new Counter({
  name: 'promoset_slack_acks_total',
  help: 'Slack requests acknowledged, by kind (command, action, view, event, options).',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/* For features other branches add; created here so they wire in by import. */

export const redemptions = new Counter({
  name: 'promoset_redemptions_total',
  help: 'Promo code redemptions recorded, by outcome.',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const webhookDeliveries = new Counter({
  name: 'promoset_webhook_deliveries_total',
  help: 'Webhook delivery attempts, by outcome: delivered, retry (failed, will retry), failed (given up).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const whmcsWriteDuration = new Histogram({
  name: 'promoset_whmcs_write_duration_seconds',
  help: 'Time to write promotions to the WHMCS database, by outcome.',
  labelNames: ['outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const logLinesDropped = new Counter({
  name: 'promoset_log_lines_dropped_total',
  help: 'Log lines not written to stderr, by reason: buffer_full (the reader stalled and LOG_BUFFER_BYTES were held), destination_gone (EPIPE: the reader closed).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

/**
 * The source of codes from the actor string the transports pass to the core
 * ("http:<ip>", "slack:<user>", "cli:<user>", "admin-api"). HTTP makes single
 * codes at the set URL and batches at its /codes, hence `bulk` for the latter.
 */
export function sourceOfActor(actor: string, bulk: boolean): CodeSource {
  if (actor.startsWith('slack:')) return 'slack';
  if (actor.startsWith('cli')) return 'cli';
  if (actor.startsWith('http:')) return bulk ? 'bulk' : 'set_url';
  return 'admin';
}
