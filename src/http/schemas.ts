import { z } from 'zod';
import { CODE_ALPHABET_NAMES } from '../domain/codes.js';
import type { ErrorCode } from '../domain/errors.js';
import { PROMO_TYPES } from '../domain/fields.js';
import { BULK_PARSERS, OVERRIDE_PARSERS, type WhmcsPromotion } from '../domain/promotion.js';
import { SET_FIELD_PARSERS, UPGRADE_TYPES, type toSetAdminDetails, type toSetDetails, type toSetResponse } from '../domain/set.js';
import type { AuditAction } from '../domain/audit.js';

/**
 * The zod schemas of the HTTP API: request bodies are the very field parsers
 * the routes validate with (domain/*_PARSERS), responses are described here
 * and tied to the code's return types at compile time (see the `Agrees`
 * checks below). openapi.ts turns them into the OpenAPI document.
 */

/* Requests: the routes' own parsers. Every field is optional; unknown fields are refused. */
export const promotionRequest = z.strictObject(OVERRIDE_PARSERS).partial().meta({ description: 'A set URL POST: optional overrides of the set\'s terms for this one code.' });
export const bulkRequest = z
  .strictObject({ ...BULK_PARSERS, format: z.enum(['json', 'csv']) })
  .partial()
  .meta({ description: 'The amount (1 to 100000, default 10), the code format and the same overrides as a single code; `format` may also be a query parameter.' });
export const setCreateRequest = z.strictObject(SET_FIELD_PARSERS).partial().required({ name: true }).meta({ description: 'A new set: the set GET shape\'s field names; `name` is required.' });
export const setUpdateRequest = z.strictObject(SET_FIELD_PARSERS).partial().meta({ description: 'The fields to change.' });

/** POST /includes/api.php form fields. Non-text values count as absent, as WHMCS treats them. */
const formText = z.string().optional().catch(undefined);
export const whmcsApiRequest = z
  .object({
    action: formText.meta({ description: 'GetPromotions (the only command promoset answers).' }),
    identifier: formText.meta({ description: 'WHMCS API identifier (or `username`).' }),
    secret: formText.meta({ description: 'WHMCS API secret (or `password`).' }),
    username: formText,
    password: formText,
    responsetype: formText.meta({ description: 'json (the default; nothing else is supported).' }),
    code: formText.meta({ description: 'One promotion code; omit for all.' }),
  })
  .meta({ description: 'WHMCS API form fields.' });

/* Query parameters the admin API validates. */
/** A whole number from 1 to `max` in a query string, digits only. */
const wholeQueryNumber = (max: number, description: string) =>
  z
    .string()
    .regex(new RegExp(`^\\d{1,${String(max).length}}$`))
    .transform(Number)
    .pipe(z.number().int().min(1).max(max))
    .meta({ description });
export const auditLimit = wholeQueryNumber(1000, 'How many events, newest first: 1 to 1000 (default 50).');
export const usageDays = wholeQueryNumber(366, 'How many days, ending today in PROMO_TIMEZONE: 1 to 366 (default 30).');
export const listFormat = z.enum(['json', 'csv']).meta({ description: 'json (default) or csv.' });

/* Responses. */
const flag = z.union([z.literal(0), z.literal(1)]);
const date = z.string().meta({ description: 'YYYY-MM-DD, or 0000-00-00 for none (WHMCS\'s convention).' });

export const whmcsPromotion = z
  .object({
    id: z.int(), code: z.string(), type: z.enum(PROMO_TYPES), recurring: flag, value: z.string(), cycles: z.string(),
    appliesto: z.string(), requires: z.string(), requiresexisting: flag, startdate: date, expirationdate: date,
    maxuses: z.int(), uses: z.int(), lifetimepromo: flag, applyonce: flag, newsignups: flag, existingclient: flag,
    onceperclient: flag, recurfor: z.int(), upgrades: flag, upgradeconfig: z.string().meta({ description: 'PHP-serialized, as WHMCS stores it.' }), notes: z.string(),
  })
  .strict()
  .meta({ description: 'One promotion in WHMCS\'s tblpromotions shape (a set URL\'s POST answer, GetPromotions\' promotion[]).' });

const setFields = {
  id: z.int(), name: z.string(), api_ip_address: z.string(), api_key: z.string().meta({ description: 'The set\'s key (also inside its URL).' }),
  promo_code_type: z.enum(PROMO_TYPES), recurring: flag, recur_for: z.int(), promo_value: z.number(), applies_to: z.array(z.string()),
  requires: z.array(z.string()), requires_existing: flag, cycles: z.array(z.string()), start_date: date, expiration_date: date,
  max_uses: z.int(), lifetime_promo: flag, apply_once: flag, new_signups: flag, once_per_client: flag, existing_client: flag, upgrades: flag,
  upgrade_type: z.enum(UPGRADE_TYPES), upgrade_discount_type: z.enum(PROMO_TYPES), upgrade_value: z.string(), config_option_upgrades: z.array(z.string()),
  notes: z.string(), url: z.string().meta({ description: 'The set URL, holding its token.' }),
};
export const setResponse = z.object(setFields).strict().meta({ description: 'The set GET shape: the set, exactly its keys.' });
export const setDetails = z
  .object({
    ...setFields,
    code_prefix: z.string(), code_length: z.int(), code_alphabet: z.enum(CODE_ALPHABET_NAMES), valid_days: z.int().nullable(),
    created_by: z.string(), created_at: z.string(), updated_at: z.string(), archived: z.boolean(),
    webhook_url: z.string().nullable().meta({ description: 'Where events are POSTed, signed; null for none.' }),
  })
  .strict()
  .meta({ description: 'The set GET shape plus promoset\'s own fields (admin API).' });
/** What the admin API shows: the details plus the webhook signing secret (the API is the operator's). */
export const setAdminDetails = setDetails.extend({ webhook_secret: z.string().nullable().meta({ description: 'The whsec_ secret webhook deliveries are signed with; null without a webhook.' }) });
export const setList = z.object({ result: z.literal('success'), totalresults: z.int(), sets: z.array(setAdminDetails.extend({ promotions: z.int(), batches: z.int(), redeemed: z.int().meta({ description: 'Uses counted so far across the set (WHMCS checkouts included when WHMCS is connected).' }) })) }).strict();
const boundClient = z.object({ client_id: z.int().nullable(), client_email: z.string().nullable() }).strict();
export const bulkResponse = z
  .object({
    result: z.literal('success'), batch_id: z.int(), count: z.int(), promotions: z.array(whmcsPromotion),
    clients: z.array(boundClient.extend({ code: z.string() })).optional().meta({ description: 'Bound batches only: the customer each code is bound to.' }),
    note: z.string().optional().meta({ description: 'Bound codes usable more than once: what binding means for them.' }),
  })
  .strict();
export const whmcsPromotionsResponse = z.object({ result: z.literal('success'), totalresults: z.int(), promotions: z.object({ promotion: z.array(whmcsPromotion) }).strict() }).strict().meta({ description: 'WHMCS\'s GetPromotions answer.' });
export const dailyUsage = z.object({
  date: z.iso.date().meta({ description: 'A calendar day in PROMO_TIMEZONE.' }),
  issued: z.int().min(0).meta({ description: 'Codes issued that day.' }),
  redeemed: z.int().min(0).meta({ description: 'Redemptions made that day (rolled back later or not).' }),
  voided: z.int().min(0).meta({ description: 'Codes voided that day and still voided.' }),
  rolled_back: z.int().min(0).meta({ description: 'Redemptions rolled back that day.' }),
}).strict();
export const setUsageResponse = z.object({
  result: z.literal('success'),
  set_id: z.int(),
  time_zone: z.string(),
  days: z.int(),
  totals: z.object({ issued: z.int(), redeemed: z.int(), voided: z.int(), rolled_back: z.int() }).strict(),
  usage: z.array(dailyUsage),
}).strict();
export const setPromotionsResponse = z.object({ result: z.literal('success'), set_id: z.int(), totalresults: z.int(), promotions: z.array(whmcsPromotion) }).strict();
const AUDIT_ACTIONS = ['created', 'edited', 'rotated', 'archived', 'generated', 'voided', 'unvoided', 'webhook_secret_rotated', 'webhook_resent', 'approval_requested', 'approval_approved', 'approval_denied', 'approval_expired', 'approval_issued'] as const satisfies readonly AuditAction[];
const everyAction: Agrees<(typeof AUDIT_ACTIONS)[number], AuditAction> = true;
void everyAction;
export const auditResponse = z
  .object({
    result: z.literal('success'), set_id: z.int(), totalresults: z.int(),
    events: z.array(z.object({ action: z.enum(AUDIT_ACTIONS), actor: z.string(), detail: z.record(z.string(), z.unknown()), created_at: z.string() }).strict()),
  })
  .strict();
const webhookDelivery = z.object({}).catchall(z.unknown()).meta({ description: 'One event and its delivery state (id, type, status, attempts, next and last attempt, last error).' });
export const webhookDeliveriesResponse = z
  .object({ result: z.literal('success'), set_id: z.int(), webhook_url: z.string().nullable(), counts: z.record(z.string(), z.number()), deliveries: z.array(webhookDelivery) })
  .strict();
export const webhookResendResponse = z.object({ result: z.literal('success'), delivery: webhookDelivery }).strict();
export const healthResponse = z.object({ status: z.literal('ok') }).strict();
const dependencyState = z.string().meta({ description: 'ok, or what is wrong: unreachable, refused, off (not configured), …' });
export const readyResponse = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    dependencies: z.object({ database: dependencyState, slack: dependencyState, whmcs: dependencyState.optional() }).catchall(dependencyState),
    messages: z.record(z.string(), z.string()).optional().meta({ description: 'For a dependency that is not ok: what is wrong and what to check.' }),
  })
  .strict()
  .meta({ description: 'Readiness: 200 when every required dependency (the database) is ok, else 503; optional ones (Slack, WHMCS) are reported only.' });

export const ERROR_CODES = [
  'validation_failed', 'not_found', 'forbidden', 'unauthorized', 'conflict', 'code_space_exhausted', 'rate_limited',
  'payload_too_large', 'unsupported_media_type', 'bad_request', 'method_not_allowed', 'generation_failed', 'billing_unavailable', 'billing_not_configured', 'database_busy', 'database_unavailable', 'outcome_unknown', 'slack_off',
  'promotion_not_found', 'promotion_not_started', 'promotion_expired', 'promotion_used_up', 'promotion_voided', 'promotion_already_redeemed_by_client',
  'redemption_not_found', 'redemption_already_rolled_back', 'set_changed', 'promotion_bound_to_other_client', 'client_required',
] as const satisfies readonly ErrorCode[];

/** The error shape, with the codes one response may carry. */
export function errorResponse(codes: readonly ErrorCode[]) {
  return z
    .object({
      result: z.literal('error'),
      message: z.string().meta({ description: 'A sentence for a person.' }),
      code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
      fields: z.record(z.string(), z.string()).meta({ description: 'Per-field messages, keyed by the field\'s name.' }),
    })
    .strict();
}

/* Compile-time: the response schemas and the code's return types agree (a drift is a type error). */
type Agrees<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const agreements: [
  Agrees<z.infer<typeof whmcsPromotion>, WhmcsPromotion>,
  Agrees<z.infer<typeof setResponse>, ReturnType<typeof toSetResponse>>,
  Agrees<z.infer<typeof setDetails>, ReturnType<typeof toSetDetails>>,
  Agrees<z.infer<typeof setAdminDetails>, ReturnType<typeof toSetAdminDetails>>,
] = [true, true, true, true];
void agreements;

// Keep ERROR_CODES complete: every ErrorCode is listed.
const everyCode: Agrees<(typeof ERROR_CODES)[number], ErrorCode> = true;
void everyCode;

// Issue 12: the checkout (validate, redeem, roll back), void and usage.
const usage = z.object({ issued: z.int(), redeemed: z.int(), voided: z.int(), used_up: z.int() }).strict();
export const setAdminDetailsWithUsage = setAdminDetails.extend({ usage });
export const validationResponse = z
  .object({
    result: z.literal('success'), valid: z.boolean(), reason: z.enum(['not_started', 'expired', 'used_up', 'voided', 'other_client', 'client_required']).nullable(), promotion: whmcsPromotion,
    client: boundClient.nullable().meta({ description: 'The customer the code is bound to; null when anyone may use it.' }),
  })
  .strict();
export const redemptionRequest = z.object({
  code: z.string().meta({ description: 'The code, any letter case.' }),
  client_id: z.string().optional().meta({ description: 'Required for once-per-client promotions, and for codes bound to a client id.' }),
  client_email: z.string().optional().meta({ description: 'The customer\'s e-mail: checked (ignoring case) against a code bound to an e-mail.' }),
});
export const redemptionResponse = z.object({ result: z.literal('success'), redemption_id: z.int(), promotion: whmcsPromotion }).strict();
export const rollbackResponse = z.object({ result: z.literal('success'), redemption_id: z.int(), rolled_back_at: z.string(), promotion: whmcsPromotion }).strict();
export const voidCodeResponse = z.object({ result: z.literal('success'), promotion: whmcsPromotion, set_id: z.int(), voided: z.boolean(), changed: z.boolean() }).strict();
export const voidBatchResponse = z.object({ result: z.literal('success'), batch_id: z.int(), set_id: z.int(), count: z.int(), voided: z.boolean() }).strict();

// Issue 19: who may do what (/api/access).
const grant = z.object({
  id: z.int(), subject: z.string().meta({ description: 'A Slack user (U…) or user group (S…).' }), role: z.enum(['viewer', 'issuer', 'manager', 'owner']),
  set_id: z.int().nullable().meta({ description: 'null: every set.' }), set_name: z.string().nullable(), created_by: z.string(), created_at: z.string(),
}).strict();
export const accessList = z.object({ result: z.literal('success'), default_role: z.enum(['viewer', 'issuer', 'manager', 'owner']), admins: z.array(z.string()).meta({ description: 'PROMO_ADMINS: owners, not revocable here.' }), grants: z.array(grant) }).strict();
export const accessGrantRequest = z.object({
  subject: z.string().meta({ description: 'U… (user), S… (user group), or a Slack mention.' }),
  role: z.enum(['viewer', 'issuer', 'manager', 'owner']),
  sets: z.union([z.array(z.string()), z.string()]).optional().meta({ description: 'Set names or ids (a list, or comma-separated); none: every set.' }),
});
export const accessRevokeRequest = accessGrantRequest.omit({ role: true });
export const accessGrantResponse = z.object({ result: z.literal('success'), subject: z.string(), role: z.string(), sets: z.array(z.object({ id: z.int(), name: z.string() }).strict()), replaced: z.array(z.string()) }).strict();
export const accessRevokeResponse = z.object({ result: z.literal('success'), revoked: z.array(grant.omit({ set_name: true })) }).strict();
// Issue 21: codes bound to a customer, and the WHMCS addon's hooks.
export const adminIssueResponse = bulkResponse;
export const customerPromotionsResponse = z
  .object({
    result: z.literal('success'),
    client: z.string().meta({ description: 'The customer searched for: "client 42" or the e-mail.' }),
    totalresults: z.int(),
    promotions: z.array(whmcsPromotion.extend({ set_id: z.int(), set_name: z.string(), voided: z.boolean(), client_id: z.int().nullable(), client_email: z.string().nullable() })),
  })
  .strict();
export const whmcsHookRequest = z
  .object({
    event: z.enum(['validate_checkout', 'checkout', 'cancel', 'fraud', 'delete']),
    order_id: z.int().optional().meta({ description: 'WHMCS order id (checkout and cancel/fraud/delete).' }),
    invoice_id: z.int().nullable().optional(),
    promocodes: z.array(z.string()).optional().meta({ description: 'The order\'s promo codes (an order may carry more than one).' }),
    promocode: z.string().optional().meta({ description: 'validate_checkout: the code in the cart.' }),
    client_id: z.int().nullable().optional(),
    client_email: z.string().nullable().optional(),
  })
  .meta({ description: 'Sent by the promoset WHMCS addon, signed with Promoset-Signature (t=…,v1=HMAC-SHA256(WHMCS_HOOK_SECRET, "t.body")).' });
export const whmcsHookResponse = z
  .object({
    result: z.literal('success'),
    event: z.string(),
    allowed: z.boolean().optional().meta({ description: 'validate_checkout: may this customer use the code.' }),
    message: z.string().nullable().optional().meta({ description: 'validate_checkout: the sentence to show at checkout when not allowed.' }),
    order_id: z.int().optional(),
    codes: z.array(z.object({ code: z.string(), outcome: z.string(), redemption_id: z.int().nullable(), uses: z.int().nullable() }).strict()).optional(),
  })
  .strict();
