/**
 * The one error type the core throws. Each transport maps it once, at its edge:
 * HTTP turns it into `{result:"error",message,code,fields}` with `status`,
 * Slack into an ephemeral message or `response_action: 'errors'`, the CLI into
 * a line on stderr and a non-zero exit.
 */
export type ErrorCode =
  | 'validation_failed'
  | 'not_found'
  | 'forbidden'
  | 'unauthorized'
  | 'conflict'
  | 'code_space_exhausted'
  | 'rate_limited'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'bad_request'
  | 'method_not_allowed'
  | 'generation_failed'
  | 'billing_unavailable'
  /** promoset's database is connected to a WHMCS this process is not configured for: nothing is issued, redeemed or voided. */
  | 'billing_not_configured'
  | 'promotion_not_found'
  | 'promotion_not_started'
  | 'promotion_expired'
  | 'promotion_used_up'
  | 'promotion_voided'
  | 'promotion_already_redeemed_by_client'
  | 'redemption_not_found'
  | 'redemption_already_rolled_back'
  | 'database_busy'
  | 'database_unavailable'
  /** The database's answer to a write was lost: it may or may not have been saved (a retry with the same Idempotency-Key learns which). */
  | 'outcome_unknown'
  /** Slack's requests arrived, but this instance has no Slack credentials (yet). */
  | 'slack_off'
  /** A code bound to one customer (DESIGN.md), redeemed by another, or with no customer named. */
  | 'promotion_bound_to_other_client'
  | 'client_required'
  /** The set was edited, rotated or archived while the request ran; the HTTP route retries it against the new set. */
  | 'set_changed';

const STATUS_BY_CODE: Record<ErrorCode, number> = {
  validation_failed: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  code_space_exhausted: 422,
  rate_limited: 429,
  // Only reachable if the collision retry bound is hit, which feasibility rules out.
  generation_failed: 503,
  // WHMCS (the billing database) refused or could not be reached: nothing was issued.
  billing_unavailable: 503,
  billing_not_configured: 503,
  promotion_not_found: 404,
  redemption_not_found: 404,
  // A refusal to redeem: the request was fine, the promotion's state says no.
  promotion_not_started: 409,
  promotion_expired: 409,
  promotion_used_up: 409,
  promotion_voided: 409,
  promotion_already_redeemed_by_client: 409,
  redemption_already_rolled_back: 409,
  // Write conflicts between instances that outlasted their retries: nothing was saved, retrying is safe.
  database_busy: 503,
  // promoset's own database could not be reached (a network cut, a restart): nothing was saved.
  database_unavailable: 503,
  // The connection was lost while a write was on its way: saved or not, nobody can tell yet.
  outcome_unknown: 503,
  slack_off: 503,
  set_changed: 409,
  promotion_bound_to_other_client: 409,
  client_required: 409,
};


export class PromoError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Per-field messages, keyed by the field's public name (seed 001 names). */
  readonly fields: Record<string, string>;
  /** When set, the client may retry after this many seconds (HTTP: Retry-After). */
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, fields: Record<string, string> = {}, options: { retryAfterSeconds?: number } = {}) {
    super(message);
    this.name = 'PromoError';
    this.code = code;
    this.status = STATUS_BY_CODE[code];
    this.fields = fields;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  static validation(fields: Record<string, string>): PromoError {
    const first = Object.values(fields)[0] ?? 'The request is not valid.';
    return new PromoError('validation_failed', first, fields);
  }

  toJSON() {
    return { result: 'error', message: this.message, code: this.code, fields: this.fields };
  }
}

/** The codes answered with `status`: the OpenAPI document lists them per response. */
export function codesWithStatus(status: number): ErrorCode[] {
  return (Object.keys(STATUS_BY_CODE) as ErrorCode[]).filter((code) => STATUS_BY_CODE[code] === status);
}
