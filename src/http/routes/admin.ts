import type { IncomingMessage, ServerResponse } from 'node:http';
import { PromoError } from '../../domain/errors.js';
import { toSetAdminDetails, type PromoSet } from '../../domain/set.js';
import { authorize, operatorActor, type Action } from '../../service/access.js';
import type { Core } from '../../service/core.js';
import { batchBindings, listPromotions, promotionsCsv } from '../../service/promotions.js';
import { bindingNoteFor, promotionsForCustomer } from '../../service/bindings.js';
import { generatePromotions } from '../../service/generate.js';
import { archiveSet, createSet, findSet, getSet, listSets, rotateSetKey, rotateWebhookSecret, updateSet } from '../../service/sets.js';
import { setAuditTrail } from '../../service/set-audit.js';
import { setUrl } from '../../service/set-urls.js';
import { resendDelivery, webhookOverview } from '../../service/webhooks.js';
import { getPromotions } from '../../service/whmcs.js';
import { usageOfSet } from '../../service/usage.js';
import { voidBatch, voidPromotions } from '../../service/voiding.js';
import { readBody } from '../body.js';
import { assertNotBlocked, authenticationFailed } from '../rate-limit.js';
import { sendJson } from '../respond.js';
import { auditLimit, listFormat, usageDays } from '../schemas.js';
import { secretEquals } from '../secrets.js';
import type { AppContext, Route, RouteHandler, RouteRequest } from '../routing.js';
import { jsonArrayPieces, streamPieces } from '../stream.js';
import { chooseFormat, sendCsv } from './bulk.js';
import { dailyUsage } from '../../service/charts.js';
import { dailyUsageCsv, totalsOf } from '../../domain/daily-usage.js';

const ACTOR = 'admin-api';
/** The holder of ADMIN_API_TOKEN, as service/access.ts knows it: an operator, who may do everything. */
const OPERATOR = operatorActor(ACTOR);

/** Every admin route checks the bearer token first (constant time); with no ADMIN_API_TOKEN the API is off. */
async function checkToken(app: AppContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = app.config.ADMIN_API_TOKEN;
  if (token === undefined) {
    throw new PromoError('forbidden', 'The admin API is disabled on this server. Set ADMIN_API_TOKEN to enable it.');
  }
  const ip = app.clientIp(req);
  assertNotBlocked(app.rateLimits, ip);
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  if (!match || !secretEquals(token, match[1])) {
    res.setHeader('www-authenticate', 'Bearer realm="promoset"');
    await authenticationFailed(app.rateLimits, ip, new PromoError('unauthorized', 'Send the admin API token as "Authorization: Bearer <ADMIN_API_TOKEN>".'));
  }
}

/** The token first, then the one permission path (service/access.ts), as every transport asks it. */
export const withAuth =
  (handler: RouteHandler, action: Action = 'view'): RouteHandler =>
  async (request) => {
    await checkToken(request.app, request.req, request.res);
    await authorize(request.app.core, OPERATOR, action);
    await handler(request);
  };

/** `{id}` in a path: a set id, or a set's name (URL-encoded, any letter case), as the CLI and Slack take it. */
async function setParam(core: Core, text: string): Promise<PromoSet> {
  if (/^\d{1,12}$/.test(text)) return getSet(core, Number(text));
  let name: string;
  try {
    name = decodeURIComponent(text);
  } catch {
    throw new PromoError('not_found', `There is no promo set "${text.slice(0, 40)}" (its name is not valid percent-encoding).`);
  }
  return findSet(core, name);
}

const setIdParam = async (core: Core, text: string) => (await setParam(core, text)).id;

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
  const set = await setParam(app.core, params[0]);
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
  const set = await setParam(app.core, params[0]);
  await readBody(req);
  const result = await voidBatch(app.core, Number(params[1]), ACTOR, { restore, setId: set.id });
  sendJson(res, 200, { result: 'success', ...result });
};

async function update({ req, res, app, params }: RouteRequest): Promise<void> {
  const { id } = await setParam(app.core, params[0]); // 404 before reading a body for nothing
  const { fields } = await readBody(req);
  sendJson(res, 200, details(app.core, await updateSet(app.core, id, fields, ACTOR)));
}

async function archive({ res, app, params }: RouteRequest): Promise<void> {
  sendJson(res, 200, details(app.core, await archiveSet(app.core, await setIdParam(app.core, params[0]), ACTOR)));
}

async function rotate({ res, app, params }: RouteRequest): Promise<void> {
  sendJson(res, 200, details(app.core, await rotateSetKey(app.core, await setIdParam(app.core, params[0]), ACTOR)));
}

/** A set's promotions in WHMCS's shape, streamed; CSV with format=csv. */
async function promotions({ res, app, params, query }: RouteRequest): Promise<void> {
  const set = await setParam(app.core, params[0]);
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

/** `GET /api/sets/{id}/usage?days=N`: the daily figures (PROMO_TIMEZONE days), JSON, or CSV by Accept: text/csv or format=csv. */
async function usage({ req, res, app, params, query }: RouteRequest): Promise<void> {
  const set = await setParam(app.core, params[0]);
  const daysText = query.get('days') ?? '30';
  const days = usageDays.safeParse(daysText);
  if (!days.success) throw new PromoError('validation_failed', `days must be a whole number from 1 to 366, not "${daysText.slice(0, 20)}".`, { days: 'Use 1 to 366.' });
  const format = chooseFormat(query.get('format') ?? undefined, req.headers.accept);
  const series = await dailyUsage(app.core, set.id, days.data);
  if (format === 'csv') {
    sendCsv(res, `promoset-set-${set.id}-usage-${days.data}d.csv`);
    res.end(dailyUsageCsv(series));
    return;
  }
  sendJson(res, 200, { result: 'success', set_id: set.id, time_zone: app.core.timeZone, days: days.data, totals: totalsOf(series), usage: series });
}

/** Who created, edited, rotated or archived the set, and who generated codes from where; newest first. */
async function audit({ res, app, params, query }: RouteRequest): Promise<void> {
  const set = await setParam(app.core, params[0]);
  const limit = auditLimit.safeParse(query.get('limit') ?? '50');
  if (!limit.success) throw new PromoError('validation_failed', 'The limit must be a whole number from 1 to 1000.', { limit: 'Use 1 to 1000.' });
  const events = await setAuditTrail(app.core, set.id, limit.data);
  sendJson(res, 200, { result: 'success', set_id: set.id, totalresults: events.length, events: events.map(({ id: _id, set_id: _set, ...event }) => event) });
}

/** Recent webhook deliveries and failures, newest first; `status=failed` lists failures only. */
async function deliveries({ res, app, params, query }: RouteRequest): Promise<void> {
  const setId = await setIdParam(app.core, params[0]);
  const limitText = query.get('limit') ?? '20';
  if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000) {
    throw new PromoError('validation_failed', 'The limit must be a whole number from 1 to 1000.', { limit: 'Use 1 to 1000.' });
  }
  const overview = await webhookOverview(app.core, setId, { limit: Number(limitText), status: query.get('status') ?? undefined });
  sendJson(res, 200, { result: 'success', set_id: setId, webhook_url: overview.set.webhook_url, counts: overview.counts, deliveries: overview.deliveries });
}

async function resend({ res, app, params }: RouteRequest): Promise<void> {
  const delivery = await resendDelivery(app.core, await setIdParam(app.core, params[0]), params[1], ACTOR);
  sendJson(res, 202, { result: 'success', delivery });
}

async function rotateWebhook({ res, app, params }: RouteRequest): Promise<void> {
  sendJson(res, 200, details(app.core, await rotateWebhookSecret(app.core, await setIdParam(app.core, params[0]), ACTOR)));
}

/**
 * `POST /api/sets/{id}/codes`: codes issued by the operator, with the bulk
 * fields (`amount`, overrides, and the binding: `client_id`/`client_email`
 * for one customer, or `clients` for one code each). JSON reply, as bulk's.
 */
async function issueCodes({ req, res, app, params }: RouteRequest): Promise<void> {
  const set = await setParam(app.core, params[0]);
  const { fields } = await readBody(req);
  const result = await generatePromotions(app.core, set, fields, ACTOR);
  const promotions = await listPromotions(app.core, { batchId: result.batchId });
  const clients = await batchBindings(app.core, { id: result.batchId, set_id: set.id });
  const note = clients.length > 0 ? bindingNoteFor(result.terms.maxuses) : null;
  sendJson(res, 201, { result: 'success', batch_id: result.batchId, count: result.count, promotions, ...(clients.length > 0 ? { clients } : {}), ...(note ? { note } : {}) });
}

/** `GET /api/clients/{client}/promotions`: the codes bound to a customer (WHMCS client id or e-mail), newest first. */
async function customerPromotions({ res, app, params }: RouteRequest): Promise<void> {
  const { customer, promotions } = await promotionsForCustomer(app.core, codeParam(params[0]));
  sendJson(res, 200, { result: 'success', client: customer, totalresults: promotions.length, promotions });
}

export const adminRoutes: Route[] = [
  { name: '/api/sets/{id}/codes', pattern: /^\/api\/sets\/([^/]+)\/codes$/, methods: { POST: withAuth(issueCodes, 'issue') } },
  { name: '/api/clients/{client}/promotions', pattern: /^\/api\/clients\/([^/]{1,300})\/promotions$/, methods: { GET: withAuth(customerPromotions, 'see_customers') } },
  { name: '/api/sets', pattern: /^\/api\/sets$/, methods: { GET: withAuth(list, 'see_secrets'), POST: withAuth(create, 'create_set') } },
  { name: '/api/sets/{id}', pattern: /^\/api\/sets\/([^/]+)$/, methods: { GET: withAuth(show, 'see_secrets'), PATCH: withAuth(update, 'edit_set'), DELETE: withAuth(archive, 'archive_set') } },
  { name: '/api/sets/{id}/rotate', pattern: /^\/api\/sets\/([^/]+)\/rotate$/, methods: { POST: withAuth(rotate, 'rotate_set') } },
  { name: '/api/sets/{id}/promotions', pattern: /^\/api\/sets\/([^/]+)\/promotions$/, methods: { GET: withAuth(promotions) } },
  { name: '/api/sets/{id}/usage', pattern: /^\/api\/sets\/([^/]+)\/usage$/, methods: { GET: withAuth(usage) } },
  { name: '/api/sets/{id}/audit', pattern: /^\/api\/sets\/([^/]+)\/audit$/, methods: { GET: withAuth(audit, 'audit') } },
  { name: '/api/sets/{id}/webhooks/deliveries', pattern: /^\/api\/sets\/([^/]+)\/webhooks\/deliveries$/, methods: { GET: withAuth(deliveries, 'manage_webhooks') } },
  { name: '/api/sets/{id}/webhooks/deliveries/{eventId}/resend', pattern: /^\/api\/sets\/([^/]+)\/webhooks\/deliveries\/([^/]+)\/resend$/, methods: { POST: withAuth(resend, 'manage_webhooks') } },
  { name: '/api/sets/{id}/webhooks/rotate-secret', pattern: /^\/api\/sets\/([^/]+)\/webhooks\/rotate-secret$/, methods: { POST: withAuth(rotateWebhook, 'manage_webhooks') } },
  { name: '/api/sets/{id}/batches/{batch}/void', pattern: /^\/api\/sets\/([^/]+)\/batches\/(\d{1,12})\/void$/, methods: { POST: withAuth(voidSetBatch(false), 'void') } },
  { name: '/api/sets/{id}/batches/{batch}/unvoid', pattern: /^\/api\/sets\/([^/]+)\/batches\/(\d{1,12})\/unvoid$/, methods: { POST: withAuth(voidSetBatch(true), 'unvoid') } },
  { name: '/api/promotions/{code}/void', pattern: /^\/api\/promotions\/([^/]{1,600})\/void$/, methods: { POST: withAuth(voidCode(false), 'void') } },
  { name: '/api/promotions/{code}/unvoid', pattern: /^\/api\/promotions\/([^/]{1,600})\/unvoid$/, methods: { POST: withAuth(voidCode(true), 'unvoid') } },
];
