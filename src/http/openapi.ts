import { z } from 'zod';
import { codesWithStatus, type ErrorCode } from '../domain/errors.js';
import * as schemas from './schemas.js';

/**
 * GET /openapi.json: the OpenAPI 3.1 document, generated at start from the
 * zod schemas the routes validate with (schemas.ts), so it cannot drift from
 * the code. The HTTP tests check every response they receive against it.
 */
type JsonSchema = Record<string, unknown>;

/** OpenAPI 3.1 schemas are JSON Schema 2020-12; the `$schema` line belongs to standalone documents only. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const json = (schema: z.ZodType) => ({ 'application/json': { schema: jsonSchema(schema, 'output') } });
const csv = { 'text/csv': { schema: { type: 'string', description: 'id,code,type,value,startdate,expirationdate,maxuses,uses,notes,voided,client_id,client_email; one promotion a row (client_id/client_email empty for unbound codes).' } } };

/** A request body accepted as JSON or as an HTML form (the set URL and bulk take both, as seed 001 does). */
const body = (schema: z.ZodType, description: string, forms = true) => ({
  required: false,
  description,
  content: {
    'application/json': { schema: jsonSchema(schema, 'input') },
    ...(forms ? { 'application/x-www-form-urlencoded': { schema: jsonSchema(schema, 'input') } } : {}),
  },
});

const STATUS_TEXT: Record<number, string> = {
  400: 'The request is not valid; `fields` names each problem.', 401: 'Missing or wrong bearer token.', 403: 'Refused.', 404: 'Not found.',
  409: 'Conflicts with the current state.', 413: 'The body is too large.', 415: 'The body is not JSON or a form.', 422: 'The code space is too small for this request.',
  429: 'Rate limited; see Retry-After.', 503: 'Could not finish (the database was too busy, WHMCS could not be used, or this instance lacks the WHMCS_DATABASE_URL its database is connected to: billing_not_configured); nothing was saved. Retry after Retry-After when given.',
};

/** Error responses: the error shape with the `code`s each status may carry on this operation. */
function errors(byStatus: Record<number, ErrorCode[]>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(byStatus).map(([status, codes]) => [status, { description: `${STATUS_TEXT[Number(status)] ?? 'Error.'} code: ${codes.join(', ')}.`, content: json(schemas.errorResponse(codes)) }]),
  );
}

const BODY_ERRORS = { 400: ['validation_failed', 'bad_request'], 413: ['payload_too_large'], 415: ['unsupported_media_type'] } satisfies Record<number, ErrorCode[]>;
/** 429: a client that keeps sending wrong credentials (AUTH_FAILURES_PER_MINUTE), or over a request limit. */
const SET_URL_ERRORS = { 403: ['forbidden'], 404: ['not_found'], 429: ['rate_limited'] } satisfies Record<number, ErrorCode[]>;
const GENERATION_ERRORS = {
  ...BODY_ERRORS, ...SET_URL_ERRORS, 409: ['conflict', 'set_changed'], 422: ['code_space_exhausted'], 429: ['rate_limited'], 503: codesWithStatus(503),
} satisfies Record<number, ErrorCode[]>;
const ADMIN_ERRORS = { 401: ['unauthorized'], 403: ['forbidden'], 429: ['rate_limited'] } satisfies Record<number, ErrorCode[]>;
const ADMIN_SET_ERRORS = { ...ADMIN_ERRORS, 404: ['not_found'] } satisfies Record<number, ErrorCode[]>;
/** Any write may meet a database too busy to take it (503 database_busy, Retry-After). */
const WRITE_ERRORS = { 503: codesWithStatus(503) } satisfies Record<number, ErrorCode[]>;

const tokenParam = {
  name: 'token', in: 'path', required: true, schema: { type: 'string' },
  description: 'The set\'s token, as it appears in the set URL (a secret: whoever holds it may issue codes).',
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'The set id (12), or its name, URL-encoded, in any letter case (Spring%20Sale), as the CLI and Slack accept.' };
const formatParam = (description: string) => ({ name: 'format', in: 'query', required: false, schema: jsonSchema(schemas.listFormat, 'input'), description });
const idempotencyKey = {
  name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 },
  description: 'Retry-safe: the same key with the same request replays the first response (header Idempotent-Replayed: true).',
};
const admin = { tags: ['admin'], security: [{ adminToken: [] }] };

export function buildOpenApiDocument(serverUrl: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'promoset',
      version: '1',
      description: 'Promo-code sets run from Slack, served over HTTP in WHMCS\'s JSON shapes. Errors: `{"result":"error","message","code","fields"}`.',
    },
    servers: [{ url: serverUrl }],
    tags: [{ name: 'set URL' }, { name: 'whmcs' }, { name: 'admin' }, { name: 'operations' }],
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_API_TOKEN' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN (only when it is set)' },
      },
    },
    paths: {
      '/sets/{token}': {
        parameters: [tokenParam],
        get: { tags: ['set URL'], operationId: 'getSet', summary: 'The set (the set GET shape)', responses: { 200: { description: 'The set.', content: json(schemas.setResponse) }, ...errors(SET_URL_ERRORS) } },
        post: {
          tags: ['set URL'], operationId: 'issueCode', summary: 'Issue one promo code (WHMCS promotion shape)', parameters: [idempotencyKey],
          requestBody: body(schemas.promotionRequest, 'Optional overrides.'),
          responses: {
            200: {
              description: 'The new promotion. A code bound to a customer (client_id/client_email) carries the binding in the Promoset-Client header, and Promoset-Note when it can be used more than once.',
              content: json(schemas.whmcsPromotion),
            },
            ...errors(GENERATION_ERRORS),
          },
        },
      },
      '/sets/{token}/codes': {
        parameters: [tokenParam],
        post: {
          tags: ['set URL'], operationId: 'issueCodes', summary: 'Issue many codes in one transaction', parameters: [formatParam('csv for text/csv (also by `Accept: text/csv`); json by default.'), idempotencyKey],
          requestBody: body(schemas.bulkRequest, 'The amount and format.'),
          responses: { 200: { description: 'The batch (X-Batch-Id, X-Count headers).', content: { ...json(schemas.bulkResponse), ...csv } }, ...errors(GENERATION_ERRORS) },
        },
      },
      '/sets/{token}/batches/{batchId}.csv': {
        parameters: [tokenParam, { name: 'batchId', in: 'path', required: true, schema: { type: 'integer' }, description: 'The batch id (X-Batch-Id of its response).' }],
        get: { tags: ['set URL'], operationId: 'getBatchCsv', summary: 'A batch again, as CSV', responses: { 200: { description: 'The batch.', content: csv }, ...errors(SET_URL_ERRORS) } },
      },
      '/sets/{token}/promotions/{code}': {
        parameters: [tokenParam, { name: 'code', in: 'path', required: true, schema: { type: 'string' }, description: 'The code, any letter case.' }],
        get: {
          tags: ['set URL'], operationId: 'validatePromotion', summary: 'Could this code be redeemed now (by this customer, for a bound code), and why not; changes nothing',
          parameters: [
            { name: 'client_id', in: 'query', required: false, schema: { type: 'string' }, description: 'The customer at the checkout (WHMCS client id).' },
            { name: 'client_email', in: 'query', required: false, schema: { type: 'string' }, description: 'The customer\'s e-mail, compared ignoring case.' },
          ],
          responses: { 200: { description: 'Valid or not, the reason, the promotion.', content: json(schemas.validationResponse) }, ...errors({ ...SET_URL_ERRORS, 400: ['bad_request'], 404: ['not_found', 'promotion_not_found'], 503: ['billing_unavailable'] }) } },
      },
      '/sets/{token}/redemptions': {
        parameters: [tokenParam],
        post: {
          tags: ['set URL'], operationId: 'redeemPromotion', summary: 'Count one use of a code, atomically', parameters: [idempotencyKey],
          requestBody: { ...body(schemas.redemptionRequest, 'The code and the client.'), required: true },
          responses: {
            200: { description: 'Counted.', content: json(schemas.redemptionResponse) },
            ...errors({ ...BODY_ERRORS, 403: ['forbidden'], 404: ['not_found', 'promotion_not_found'], 429: ['rate_limited'], 409: ['promotion_not_started', 'promotion_expired', 'promotion_used_up', 'promotion_voided', 'promotion_already_redeemed_by_client', 'promotion_bound_to_other_client', 'client_required', 'conflict'], ...WRITE_ERRORS }),
          },
        },
      },
      '/sets/{token}/redemptions/{id}/rollback': {
        parameters: [tokenParam, { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'The redemption_id.' }],
        post: {
          tags: ['set URL'], operationId: 'rollbackRedemption', summary: 'Give a redemption\'s use back, once',
          responses: { 200: { description: 'Rolled back.', content: json(schemas.rollbackResponse) }, ...errors({ ...BODY_ERRORS, 403: ['forbidden'], 404: ['not_found', 'redemption_not_found'], 429: ['rate_limited'], 409: ['redemption_already_rolled_back'], ...WRITE_ERRORS }) },
        },
      },
      '/whmcs/hooks': {
        post: {
          tags: ['whmcs'], operationId: 'whmcsHook', summary: 'Calls from the promoset WHMCS addon (checkout, cancel, fraud, delete); off unless WHMCS_HOOK_SECRET is set',
          parameters: [{ name: 'Promoset-Signature', in: 'header', required: true, schema: { type: 'string' }, description: 't=<unix seconds>,v1=<hex HMAC-SHA256(WHMCS_HOOK_SECRET, "<t>.<raw body>")>; 5-minute window.' }],
          requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(schemas.whmcsHookRequest, 'input') } } },
          responses: {
            200: { description: 'Done (or already done: each call is idempotent per order id).', content: json(schemas.whmcsHookResponse) },
            ...errors({ ...BODY_ERRORS, 401: ['unauthorized'], 404: ['not_found'], ...WRITE_ERRORS }),
          },
        },
      },
      '/api/sets/{id}/codes': {
        parameters: [idParam],
        post: {
          ...admin, operationId: 'adminIssueCodes', summary: 'Issue codes (bulk fields; client_id/client_email binds them all, clients gives one code per customer)',
          requestBody: body(schemas.bulkRequest, 'The amount, overrides and binding.'),
          responses: { 201: { description: 'The batch.', content: json(schemas.adminIssueResponse) }, ...errors({ ...BODY_ERRORS, ...ADMIN_SET_ERRORS, 409: ['conflict'], 422: ['code_space_exhausted'], ...WRITE_ERRORS }) },
        },
      },
      '/api/clients/{client}/promotions': {
        parameters: [{ name: 'client', in: 'path', required: true, schema: { type: 'string' }, description: 'A WHMCS client id or an e-mail address.' }],
        get: { ...admin, operationId: 'customerPromotions', summary: 'The codes bound to one customer, newest first', responses: { 200: { description: 'The codes.', content: json(schemas.customerPromotionsResponse) }, ...errors({ ...ADMIN_ERRORS, 400: ['validation_failed', 'bad_request'] }) } },
      },
      '/includes/api.php': {
        post: {
          tags: ['whmcs'], operationId: 'whmcsApi', summary: 'The WHMCS API, action=GetPromotions (WHMCS\'s own answer)',
          requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: jsonSchema(schemas.whmcsApiRequest, 'input') }, 'application/json': { schema: jsonSchema(schemas.whmcsApiRequest, 'input') } } },
          responses: {
            200: { description: 'The promotions.', content: json(schemas.whmcsPromotionsResponse) },
            ...errors({ ...BODY_ERRORS, 403: ['forbidden'], 429: ['rate_limited'] }),
            // WHMCS's own sentences, which its client libraries match on.
            ...{ 400: { description: 'message "Command Not Found" for any action but GetPromotions; code bad_request or validation_failed.', content: json(schemas.errorResponse(['bad_request', 'validation_failed'])) } },
            ...{ 403: { description: 'message "Authentication Failed": wrong or missing identifier/secret. code: forbidden.', content: json(schemas.errorResponse(['forbidden'])) } },
          },
        },
      },
      '/api/sets': {
        get: { ...admin, operationId: 'listSets', summary: 'All sets', parameters: [{ name: 'include_archived', in: 'query', required: false, schema: { type: 'string' }, description: '1/true/yes to include archived sets.' }], responses: { 200: { description: 'The sets.', content: json(schemas.setList) }, ...errors(ADMIN_ERRORS) } },
        post: {
          ...admin, operationId: 'createSet', summary: 'Create a set', requestBody: { ...body(schemas.setCreateRequest, 'The set\'s fields.'), required: true },
          responses: { 201: { description: 'Created (Location header).', content: json(schemas.setAdminDetails) }, ...errors({ ...ADMIN_ERRORS, ...BODY_ERRORS, 409: ['conflict'], ...WRITE_ERRORS }) },
        },
      },
      '/api/sets/{id}': {
        parameters: [idParam],
        get: { ...admin, operationId: 'showSet', summary: 'One set', responses: { 200: { description: 'The set.', content: json(schemas.setAdminDetailsWithUsage) }, ...errors(ADMIN_SET_ERRORS) } },
        patch: {
          ...admin, operationId: 'updateSet', summary: 'Change a set', requestBody: { ...body(schemas.setUpdateRequest, 'The fields to change.'), required: true },
          responses: { 200: { description: 'The set.', content: json(schemas.setAdminDetails) }, ...errors({ ...ADMIN_SET_ERRORS, ...BODY_ERRORS, 409: ['conflict'], ...WRITE_ERRORS }) },
        },
        delete: { ...admin, operationId: 'archiveSet', summary: 'Archive a set (its URL stops issuing codes)', responses: { 200: { description: 'The archived set.', content: json(schemas.setAdminDetails) }, ...errors({ ...ADMIN_SET_ERRORS, ...WRITE_ERRORS }) } },
      },
      '/api/sets/{id}/rotate': {
        parameters: [idParam],
        post: { ...admin, operationId: 'rotateSetKey', summary: 'New key and URL; the old URL answers 404', responses: { 200: { description: 'The set with its new URL.', content: json(schemas.setAdminDetails) }, ...errors({ ...ADMIN_SET_ERRORS, ...WRITE_ERRORS }) } },
      },
      '/api/sets/{id}/promotions': {
        parameters: [idParam],
        get: {
          ...admin, operationId: 'setPromotions', summary: 'The set\'s promotions', parameters: [{ name: 'format', in: 'query', required: false, schema: jsonSchema(schemas.listFormat, 'input') }],
          responses: { 200: { description: 'The promotions.', content: { ...json(schemas.setPromotionsResponse), ...csv } }, ...errors({ ...ADMIN_SET_ERRORS, 400: ['validation_failed'] }) },
        },
      },
      '/api/sets/{id}/usage': {
        parameters: [idParam],
        get: {
          ...admin, operationId: 'setUsage', summary: 'The set\'s figures per day (issued, redeemed, voided, rolled back), days in PROMO_TIMEZONE',
          parameters: [
            { name: 'days', in: 'query', required: false, schema: jsonSchema(schemas.usageDays, 'input') },
            formatParam('json (default) or csv; `Accept: text/csv` also gives CSV.'),
          ],
          responses: {
            200: { description: 'One entry per day, oldest first, today last.', content: { ...json(schemas.setUsageResponse), 'text/csv': { schema: { type: 'string', description: 'date,issued,redeemed,voided,rolled_back; one day a row, oldest first.' } } } },
            ...errors({ ...ADMIN_SET_ERRORS, 400: ['validation_failed'] }),
          },
        },
      },
      '/api/promotions/{code}/void': {
        parameters: [{ name: 'code', in: 'path', required: true, schema: { type: 'string' } }],
        post: { ...admin, operationId: 'voidPromotion', summary: 'Void one code', responses: { 200: { description: 'Voided.', content: json(schemas.voidCodeResponse) }, ...errors({ ...ADMIN_ERRORS, ...BODY_ERRORS, 404: ['not_found', 'promotion_not_found'], ...WRITE_ERRORS }) } },
      },
      '/api/promotions/{code}/unvoid': {
        parameters: [{ name: 'code', in: 'path', required: true, schema: { type: 'string' } }],
        post: { ...admin, operationId: 'unvoidPromotion', summary: 'Restore one voided code', responses: { 200: { description: 'Restored.', content: json(schemas.voidCodeResponse) }, ...errors({ ...ADMIN_ERRORS, ...BODY_ERRORS, 404: ['not_found', 'promotion_not_found'], ...WRITE_ERRORS }) } },
      },
      '/api/sets/{id}/batches/{batch}/void': {
        parameters: [idParam, { name: 'batch', in: 'path', required: true, schema: { type: 'integer' } }],
        post: { ...admin, operationId: 'voidBatch', summary: 'Void every code of a batch, in one statement', responses: { 200: { description: 'Voided.', content: json(schemas.voidBatchResponse) }, ...errors({ ...ADMIN_SET_ERRORS, ...BODY_ERRORS, ...WRITE_ERRORS }) } },
      },
      '/api/sets/{id}/batches/{batch}/unvoid': {
        parameters: [idParam, { name: 'batch', in: 'path', required: true, schema: { type: 'integer' } }],
        post: { ...admin, operationId: 'unvoidBatch', summary: 'Restore every code of a batch', responses: { 200: { description: 'Restored.', content: json(schemas.voidBatchResponse) }, ...errors({ ...ADMIN_SET_ERRORS, ...BODY_ERRORS, ...WRITE_ERRORS }) } },
      },
      '/api/sets/{id}/audit': {
        parameters: [idParam],
        get: {
          ...admin, operationId: 'setAudit', summary: 'Who did what to the set, newest first', parameters: [{ name: 'limit', in: 'query', required: false, schema: jsonSchema(schemas.auditLimit, 'input') }],
          responses: { 200: { description: 'The events.', content: json(schemas.auditResponse) }, ...errors({ ...ADMIN_SET_ERRORS, 400: ['validation_failed'] }) },
        },
      },
      '/api/sets/{id}/webhooks/deliveries': {
        parameters: [idParam],
        get: {
          ...admin, operationId: 'webhookDeliveries', summary: 'The set\'s webhook events and their delivery state, newest first',
          parameters: [{ name: 'limit', in: 'query', required: false, schema: jsonSchema(schemas.auditLimit, 'input') }, { name: 'status', in: 'query', required: false, schema: { type: 'string' } }],
          responses: { 200: { description: 'Counts by status and the newest deliveries.', content: json(schemas.webhookDeliveriesResponse) }, ...errors({ ...ADMIN_SET_ERRORS, 400: ['validation_failed'] }) },
        },
      },
      '/api/sets/{id}/webhooks/deliveries/{eventId}/resend': {
        parameters: [idParam, { name: 'eventId', in: 'path', required: true, schema: { type: 'string' }, description: 'The event id (evt_…).' }],
        post: {
          ...admin, operationId: 'resendWebhook', summary: 'Deliver an event again',
          responses: { 202: { description: 'Queued for delivery.', content: json(schemas.webhookResendResponse) }, ...errors({ ...ADMIN_SET_ERRORS, 400: ['validation_failed'], 409: ['conflict'], ...WRITE_ERRORS }) },
        },
      },
      '/api/sets/{id}/webhooks/rotate-secret': {
        parameters: [idParam],
        post: { ...admin, operationId: 'rotateWebhookSecret', summary: 'A new webhook signing secret', responses: { 200: { description: 'The set.', content: json(schemas.setAdminDetails) }, ...errors({ ...ADMIN_SET_ERRORS, 409: ['conflict'], ...WRITE_ERRORS }) } },
      },
      '/api/access': {
        get: { ...admin, operationId: 'listAccess', summary: 'Who may do what: the grants, the default role and PROMO_ADMINS', responses: { 200: { description: 'The grants.', content: json(schemas.accessList) }, ...errors(ADMIN_ERRORS) } },
        post: {
          ...admin, operationId: 'grantAccess', summary: 'Grant a role to a Slack user or user group, on every set or named sets', requestBody: { ...body(schemas.accessGrantRequest, 'Who, which role, where.'), required: true },
          responses: { 200: { description: 'Granted.', content: json(schemas.accessGrantResponse) }, ...errors({ ...ADMIN_SET_ERRORS, ...BODY_ERRORS, ...WRITE_ERRORS }) },
        },
      },
      '/api/access/revoke': {
        post: {
          ...admin, operationId: 'revokeAccess', summary: 'Revoke a subject\'s grants on every set or named sets', requestBody: { ...body(schemas.accessRevokeRequest, 'Who, where.'), required: true },
          responses: { 200: { description: 'Revoked.', content: json(schemas.accessRevokeResponse) }, ...errors({ ...ADMIN_SET_ERRORS, ...BODY_ERRORS, 409: ['conflict'], ...WRITE_ERRORS }) },
        },
      },
      '/healthz': { get: { tags: ['operations'], operationId: 'healthz', summary: 'Liveness', responses: { 200: { description: 'The process serves.', content: json(schemas.healthResponse) } } } },
      '/readyz': {
        get: {
          tags: ['operations'], operationId: 'readyz', summary: 'Readiness, with each dependency\'s state',
          responses: { 200: { description: 'Ready.', content: json(schemas.readyResponse) }, 503: { description: 'A dependency is down.', content: json(schemas.readyResponse) } },
        },
      },
      '/metrics': {
        get: {
          tags: ['operations'], operationId: 'metrics', summary: 'Prometheus metrics (promoset_ prefix)', security: [{}, { metricsToken: [] }],
          responses: { 200: { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors({ 401: ['unauthorized'] }) },
        },
      },
      '/openapi.json': { get: { tags: ['operations'], operationId: 'openapi', summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    },
  };
}

/** Built once per server URL: the document does not change while the process runs. */
const built = new Map<string, Record<string, unknown>>();
export function openApiDocument(serverUrl: string): Record<string, unknown> {
  let document = built.get(serverUrl);
  if (!document) built.set(serverUrl, (document = buildOpenApiDocument(serverUrl)));
  return document;
}
