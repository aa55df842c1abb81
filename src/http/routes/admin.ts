import type { IncomingMessage, ServerResponse } from 'node:http';
import { PromoError } from '../../domain/errors.js';
import { toSetAdminDetails, type PromoSet } from '../../domain/set.js';
import type { Core } from '../../service/core.js';
import { promotionsCsv } from '../../service/promotions.js';
import { archiveSet, createSet, getSet, listSets, rotateSetKey, rotateWebhookSecret, updateSet } from '../../service/sets.js';
import { setAuditTrail } from '../../service/set-audit.js';
import { setUrl } from '../../service/set-urls.js';
import { resendDelivery, webhookOverview } from '../../service/webhooks.js';
import { getPromotions } from '../../service/whmcs.js';
import { usageOfSet } from '../../service/usage.js';
import { voidBatch, voidPromotions } from '../../service/voiding.js';
import { readBody } from '../body.js';
import { sendJson } from '../respond.js';
import { auditLimit, listFormat } from '../schemas.js';
import { secretEquals } from '../secrets.js';
import type { AppContext, Route, RouteHandler, RouteRequest } from '../routing.js';
import { jsonArrayPieces, streamPieces } from '../stream.js';
import { sendCsv } from './bulk.js';

const ACTOR = 'admin-api';

/** Every admin route checks the bearer token first (constant time); with no ADMIN_API_TOKEN the API is off. */
function authorize(app: AppContext, req: IncomingMessage, res: ServerResponse): void {
  const token = app.config.ADMIN_API_TOKEN;
  if (token === undefined) {
    throw new PromoError('forbidden', 'The admin API is disabled on this server. Set ADMIN_API_TOKEN to enable it.');
  }
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  if (!match || !secretEquals(token, match[1])) {
    res.setHeader('www-authenticate', 'Bearer realm="promoset"');
    throw new PromoError('unauthorized', 'Send the admin API token as "Authorization: Bearer <ADMIN_API_TOKEN>".');
  }
}

export const withAuth =
  (handler: RouteHandler): RouteHandler =>
  async (request) => {
    authorize(request.app, request.req, request.res);
    await handler(request);
  };

function setIdParam(text: string): number {
  if (!/^\d{1,12}$/.test(text)) throw new PromoError('not_found', `There is no promo set with id ${text.slice(0, 40)}.`);
  return Number(text);
}

/** Admins see everything, the webhook secret included. */
const details = (core: Core, set: PromoSet) => toSetAdminDetails(set, setUrl(core, set));

function flagParam(value: string | null): boolean {
  return value !== null && ['1', 'true', 'yes'].includes(value.toLowerCase());
}

async function list({ res, app, query }: RouteRequest): Promise<void> {
  const summaries = await listSets(app.core, { includeArchived: flagParam(query.get('include_archived')) });
  const sets = summaries.map(({ set, promotions, batches, redeemed }) => ({ ...details(app.core, set), promotions, batches, redeemed }));
  sendJson(res, 200, { result: 'success', totalresults: sets.length, sets });
}

async function create({ req, res, app }: RouteRequest): Promise<void> {
  const { fields } = await readBody(req);
  const set = await createSet(app.core, fields, ACTOR);
  sendJson(res, 201, details(app.core, set), { location: `/api/sets/${set.id}` });
}

async function show({ res, app, params }: RouteRequest): Promise<void> {
  const set = await getSet(app.core, setIdParam(params[0]));
  const usage = await usageOfSet(app.core, set.id);
  sendJson(res, 200, { ...details(app.core, set), usage: { issued: usage.issued, redeemed: usage.redeemed, voided: usage.voided, used_up: usage.usedUp } });
}

function codeParam(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new PromoError('bad_request', 'The code in the path is not valid URL encoding.');
  }
}

/** `POST /api/promotions/{code}/void` and `/unvoid`: one code off or back on; doing it twice is harmless (changed: false). */
const voidCode = (restore: boolean): RouteHandler => async ({ req, res, app, params }) => {
  await readBody(req);
  const [result] = await voidPromotions(app.core, [codeParam(params[0])], ACTOR, { restore });
  sendJson(res, 200, { result: 'success', ...result });
};

/** `POST /api/sets/{id}/batches/{batch}/void` (and `/unvoid`): every code of the batch, in one statement. */
const voidSetBatch = (restore: boolean): RouteHandler => async ({ req, res, app, params }) => {
  const set = await getSet(app.core, setIdParam(params[0]));
  await readBody(req);
  const result = await voidBatch(app.core, Number(params[1]), ACTOR, { restore, setId: set.id });
  sendJson(res, 200, { result: 'success', ...result });
};

async function update({ req, res, app, params }: RouteRequest): Promise<void> {
  const id = setIdParam(params[0]);
  await getSet(app.core, id); // 404 before reading a body for nothing
  const { fields } = await readBody(req);
  sendJson(res, 200, details(app.core, await updateSet(app.core, id, fields, ACTOR)));
}

async function archive({ res, app, params }: RouteRequest): Promise<void> {
  sendJson(res, 200, details(app.core, await archiveSet(app.core, setIdParam(params[0]), ACTOR)));
}

async function rotate({ res, app, params }: RouteRequest): Promise<void> {
  sendJson(res, 200, details(app.core, await rotateSetKey(app.core, setIdParam(params[0]), ACTOR)));
}

/** A set's promotions in WHMCS's shape, streamed; CSV with format=csv. */
async function promotions({ res, app, params, query }: RouteRequest): Promise<void> {
  const set = await getSet(app.core, setIdParam(params[0]));
  const format = listFormat.safeParse((query.get('format') ?? 'json').toLowerCase());
  if (!format.success) throw new PromoError('validation_failed', 'The format must be "json" or "csv".', { format: 'Use json or csv.' });
  if (format.data === 'csv') {
    sendCsv(res, `promoset-set-${set.id}.csv`);
    await streamPieces(res, promotionsCsv(app.core, { setId: set.id }));
    return;
  }
  const { total, promotions: items } = await getPromotions(app.core, { setId: set.id });
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  await streamPieces(res, jsonArrayPieces(`{"result":"success","set_id":${set.id},"totalresults":${total},"promotions":[`, items, ']}'));
}

/** Who created, edited, rotated or archived the set, and who generated codes from where; newest first. */
async function audit({ res, app, params, query }: RouteRequest): Promise<void> {
  const set = await getSet(app.core, setIdParam(params[0]));
  const limit = auditLimit.safeParse(query.get('limit') ?? '50');
  if (!limit.success) throw new PromoError('validation_failed', 'The limit must be a whole number from 1 to 1000.', { limit: 'Use 1 to 1000.' });
  const events = await setAuditTrail(app.core, set.id, limit.data);
  sendJson(res, 200, { result: 'success', set_id: set.id, totalresults: events.length, events: events.map(({ id: _id, set_id: _set, ...event }) => event) });
}

/** Recent webhook deliveries and failures, newest first; `status=failed` lists failures only. */
async function deliveries({ res, app, params, query }: RouteRequest): Promise<void> {
  const setId = setIdParam(params[0]);
  const limitText = query.get('limit') ?? '20';
  if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000) {
    throw new PromoError('validation_failed', 'The limit must be a whole number from 1 to 1000.', { limit: 'Use 1 to 1000.' });
  }
  const overview = await webhookOverview(app.core, setId, { limit: Number(limitText), status: query.get('status') ?? undefined });
  sendJson(res, 200, { result: 'success', set_id: setId, webhook_url: overview.set.webhook_url, counts: overview.counts, deliveries: overview.deliveries });
}

async function resend({ res, app, params }: RouteRequest): Promise<void> {
  const delivery = await resendDelivery(app.core, setIdParam(params[0]), params[1], ACTOR);
  sendJson(res, 202, { result: 'success', delivery });
}

async function rotateWebhook({ res, app, params }: RouteRequest): Promise<void> {
  sendJson(res, 200, details(app.core, await rotateWebhookSecret(app.core, setIdParam(params[0]), ACTOR)));
}

export const adminRoutes: Route[] = [
  { name: '/api/sets', pattern: /^\/api\/sets$/, methods: { GET: withAuth(list), POST: withAuth(create) } },
  { name: '/api/sets/{id}', pattern: /^\/api\/sets\/([^/]+)$/, methods: { GET: withAuth(show), PATCH: withAuth(update), DELETE: withAuth(archive) } },
  { name: '/api/sets/{id}/rotate', pattern: /^\/api\/sets\/([^/]+)\/rotate$/, methods: { POST: withAuth(rotate) } },
  { name: '/api/sets/{id}/promotions', pattern: /^\/api\/sets\/([^/]+)\/promotions$/, methods: { GET: withAuth(promotions) } },
  { name: '/api/sets/{id}/audit', pattern: /^\/api\/sets\/([^/]+)\/audit$/, methods: { GET: withAuth(audit) } },
  { name: '/api/sets/{id}/webhooks/deliveries', pattern: /^\/api\/sets\/([^/]+)\/webhooks\/deliveries$/, methods: { GET: withAuth(deliveries) } },
  { name: '/api/sets/{id}/webhooks/deliveries/{eventId}/resend', pattern: /^\/api\/sets\/([^/]+)\/webhooks\/deliveries\/([^/]+)\/resend$/, methods: { POST: withAuth(resend) } },
  { name: '/api/sets/{id}/webhooks/rotate-secret', pattern: /^\/api\/sets\/([^/]+)\/webhooks\/rotate-secret$/, methods: { POST: withAuth(rotateWebhook) } },
  { name: '/api/sets/{id}/batches/{batch}/void', pattern: /^\/api\/sets\/([^/]+)\/batches\/(\d{1,12})\/void$/, methods: { POST: withAuth(voidSetBatch(false)) } },
  { name: '/api/sets/{id}/batches/{batch}/unvoid', pattern: /^\/api\/sets\/([^/]+)\/batches\/(\d{1,12})\/unvoid$/, methods: { POST: withAuth(voidSetBatch(true)) } },
  { name: '/api/promotions/{code}/void', pattern: /^\/api\/promotions\/([^/]{1,600})\/void$/, methods: { POST: withAuth(voidCode(false)) } },
  { name: '/api/promotions/{code}/unvoid', pattern: /^\/api\/promotions\/([^/]{1,600})\/unvoid$/, methods: { POST: withAuth(voidCode(true)) } },
];
