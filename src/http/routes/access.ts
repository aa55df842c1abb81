import { PromoError } from '../../domain/errors.js';
import { operatorActor } from '../../service/access.js';
import { grantAccess, listAccess, revokeAccess } from '../../service/access-grants.js';
import { defaultRole } from '../../service/access-policy.js';
import { readBody } from '../body.js';
import { sendJson } from '../respond.js';
import type { Route, RouteRequest } from '../routing.js';
import { withAuth } from './admin.js';

/** The admin API's holder acts as an operator: the same service functions as `/promo access`, audited as "admin-api". */
const ACTOR = operatorActor('admin-api');

function setList(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
  throw new PromoError('validation_failed', 'sets must be a list of set names or ids, or a comma-separated string.', { sets: 'A list of set names or ids.' });
}

function text(fields: Record<string, unknown>, name: string, sentence: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value.trim() === '') throw new PromoError('validation_failed', sentence, { [name]: sentence });
  return value;
}

async function list({ res, app }: RouteRequest): Promise<void> {
  const grants = await listAccess(app.core, ACTOR);
  sendJson(res, 200, {
    result: 'success', default_role: await defaultRole(app.core), admins: [...app.core.access.admins],
    grants: grants.map((g) => ({ ...g, set_id: g.set_id === 0 ? null : g.set_id })),
  });
}

async function grant({ req, res, app }: RouteRequest): Promise<void> {
  const { fields } = await readBody(req);
  const subject = text(fields, 'subject', 'Name the subject: a Slack user id (U…) or user group id (S…).');
  const role = text(fields, 'role', 'Name the role: viewer, issuer, manager or owner.');
  const result = await grantAccess(app.core, ACTOR, subject, role, setList(fields.sets));
  sendJson(res, 200, { result: 'success', ...result });
}

async function revoke({ req, res, app }: RouteRequest): Promise<void> {
  const { fields } = await readBody(req);
  const subject = text(fields, 'subject', 'Name the subject: a Slack user id (U…) or user group id (S…).');
  const revoked = await revokeAccess(app.core, ACTOR, subject, setList(fields.sets));
  sendJson(res, 200, { result: 'success', revoked: revoked.map((g) => ({ ...g, set_id: g.set_id === 0 ? null : g.set_id })) });
}

export const accessRoutes: Route[] = [
  { name: '/api/access', pattern: /^\/api\/access$/, methods: { GET: withAuth(list), POST: withAuth(grant) } },
  { name: '/api/access/revoke', pattern: /^\/api\/access\/revoke$/, methods: { POST: withAuth(revoke) } },
];
