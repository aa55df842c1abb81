import { assertAsciiCode } from './codes.js';
import { NO_DATE } from './dates.js';
import { PromoError } from './errors.js';
import { parseFields, text } from './fields.js';
import type { PromotionTerms } from './promotion.js';

/** Why a promotion cannot be redeemed now; null when it can. */
export type RefusalReason = 'not_started' | 'expired' | 'used_up' | 'voided';
/** What validate answers: the promotion's own state, or (for a bound code) the customer's. */
export type ValidationReason = RefusalReason | 'other_client' | 'client_required';

/**
 * The one statement of the redemption rules, on a promotion's state. The
 * store's conditional UPDATE encodes the same rules in SQL (that is what makes
 * them hold under concurrency); this tells a person *which* one failed.
 * Voided first: it is what staff did on purpose, and no date or use changes it.
 */
export function refusalReason(terms: Pick<PromotionTerms, 'startdate' | 'expirationdate' | 'maxuses'>, uses: number, voided: boolean, today: string): RefusalReason | null {
  if (voided) return 'voided';
  if (terms.startdate !== NO_DATE && terms.startdate > today) return 'not_started';
  if (terms.expirationdate !== NO_DATE && terms.expirationdate < today) return 'expired';
  if (terms.maxuses > 0 && uses >= terms.maxuses) return 'used_up';
  return null;
}

/** The 409 for a refused redemption, with a sentence a person (a checkout, a support agent) can act on. */
export function refusal(reason: RefusalReason, code: string, terms: Pick<PromotionTerms, 'startdate' | 'expirationdate' | 'maxuses'>): PromoError {
  switch (reason) {
    case 'voided':
      return new PromoError('promotion_voided', `The code ${code} has been voided and can no longer be used. Ask the shop for a new code.`);
    case 'not_started':
      return new PromoError('promotion_not_started', `The code ${code} is valid from ${terms.startdate}. Try again on or after that date.`);
    case 'expired':
      return new PromoError('promotion_expired', `The code ${code} expired on ${terms.expirationdate}. Ask the shop for a new code.`);
    case 'used_up':
      return new PromoError('promotion_used_up', `The code ${code} has been used the maximum number of times (${terms.maxuses}). Ask the shop for a new code.`);
  }
}

export const alreadyRedeemedByClient = (code: string, clientId: string) =>
  new PromoError('promotion_already_redeemed_by_client', `The client ${clientId} has already redeemed ${code}; it can be used once per client.`);

export const promotionNotFound = (code: string) =>
  new PromoError('promotion_not_found', `There is no promotion ${code.slice(0, 60)} in this set. Check the code for typos.`);

export interface RedemptionRequest {
  code: string;
  clientId: string | null;
  /** The customer's e-mail: checked against a code bound to an e-mail (ignoring case). */
  clientEmail: string | null;
}

const REDEMPTION_PARSERS = {
  code: text('The code', 200, { required: true }),
  client_id: text('The client_id', 200),
  client_email: text('The client_email', 254),
};

/**
 * `code` and an optional `client_id` (a WHMCS client id, an e-mail, any stable
 * id of the customer). Unknown fields are refused, so a misspelt "clientid"
 * does not silently skip the once-per-client rule.
 */
export function parseRedemptionRequest(input: Record<string, unknown>): RedemptionRequest {
  const { values, errors } = parseFields(REDEMPTION_PARSERS, input);
  if (values.code === undefined && errors.code === undefined) errors.code = 'Send the promotion code to redeem as "code".';
  if (Object.keys(errors).length > 0) throw PromoError.validation(errors);
  return { code: assertAsciiCode(values.code ?? ''), clientId: values.client_id || null, clientEmail: values.client_email || null };
}

export const clientIdRequired = (code: string) =>
  PromoError.validation({ client_id: `The code ${code} can be used once per client: send the customer's client_id with the redemption.` });
