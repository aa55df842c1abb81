/**
 * What owners decide, as stored in `settings`: the default role, the
 * approvals channel and the issuing limits, read here and written through
 * access-settings.ts (owners only, audited). The access audit trail's writer
 * lives here too, so every change to access is recorded the same way.
 */
import { PROMO_TYPES, type PromoType } from '../domain/fields.js';
import { PromoError } from '../domain/errors.js';
import { truncate } from '../domain/text.js';
import { insertAccessEvent } from '../store/access.js';
import type { Db } from '../store/db.js';
import { getSetting, putSetting } from '../store/settings.js';
import { nowIso, type Core } from './core.js';
import { actorName, isRole, type Actor, type Role } from './roles.js';

const DEFAULT_ROLE_KEY = 'access.default_role';
const LIMITS_KEY = 'access.limits';
const APPROVALS_CHANNEL_KEY = 'access.approvals_channel';

export async function defaultRole(core: Core): Promise<Role> {
  const value = await getSetting(core.db, DEFAULT_ROLE_KEY);
  return value && isRole(value) ? value : 'viewer';
}

export async function storeDefaultRole(db: Db, role: Role): Promise<void> {
  await putSetting(db, DEFAULT_ROLE_KEY, role);
}

export async function approvalsChannel(core: Core): Promise<string | undefined> {
  const value = await getSetting(core.db, APPROVALS_CHANNEL_KEY);
  return value || undefined;
}

export async function storeApprovalsChannel(db: Db, channel: string | undefined): Promise<void> {
  await putSetting(db, APPROVALS_CHANNEL_KEY, channel ?? '');
}

// ---- Limits -----------------------------------------------------------------------------

export interface Limits {
  /** Codes in one request. */
  per_request?: number;
  /** Codes a person may issue per day (PROMO_TIMEZONE). */
  per_day?: number;
  /** The largest value per discount type. */
  max_value?: Partial<Record<PromoType, number>>;
}

interface StoredLimits {
  roles?: Partial<Record<Role, Limits>>;
  sets?: Record<string, Partial<Record<Role, Limits>>>;
}

/** Nothing limits managers and owners unless an owner sets it. */
export const DEFAULT_LIMITS: Record<Role, Limits> = { viewer: {}, issuer: { per_request: 20, per_day: 200 }, manager: {}, owner: {} };

function parseStoredLimits(value: string | undefined): StoredLimits {
  return value ? (JSON.parse(value) as StoredLimits) : {};
}

/** A role's limits on a set: the defaults, then the owner's per-role limits, then the set's own. */
export async function limitsFor(core: Core, role: Role, setId?: number): Promise<Limits> {
  const stored = parseStoredLimits(await getSetting(core.db, LIMITS_KEY));
  const merged: Limits = { ...DEFAULT_LIMITS[role], ...stored.roles?.[role] };
  const own = setId !== undefined ? stored.sets?.[String(setId)]?.[role] : undefined;
  if (own) Object.assign(merged, { ...own, max_value: { ...merged.max_value, ...own.max_value } });
  return dropCleared(merged);
}

/** Merge `changes` into a role's stored limits (every set's, or one set's); returns what is stored for it now. */
export async function storeLimits(db: Db, role: Role, changes: Limits, setId?: number): Promise<Limits> {
  const stored = parseStoredLimits(await getSetting(db, LIMITS_KEY));
  const bucket = setId !== undefined ? (((stored.sets ??= {})[String(setId)] ??= {})) : (stored.roles ??= {});
  const current = (bucket[role] ??= {});
  Object.assign(current, { ...changes, max_value: { ...current.max_value, ...changes.max_value } });
  await putSetting(db, LIMITS_KEY, JSON.stringify(stored));
  return current;
}

/** A limit set to 0 in a more specific place means "no limit here". */
function dropCleared(limits: Limits): Limits {
  const out: Limits = {};
  if (limits.per_request) out.per_request = limits.per_request;
  if (limits.per_day) out.per_day = limits.per_day;
  const values = Object.entries(limits.max_value ?? {}).filter(([, v]) => v !== undefined && v > 0);
  if (values.length > 0) out.max_value = Object.fromEntries(values);
  return out;
}

/** Option names of `/promo settings limits` and the CLI. */
export const LIMIT_OPTIONS: Record<string, (l: Limits, n: number) => void> = {
  per_request: (l, n) => (l.per_request = n),
  per_day: (l, n) => (l.per_day = n),
  max_percentage: (l, n) => ((l.max_value ??= {}).Percentage = n),
  max_fixed: (l, n) => ((l.max_value ??= {})['Fixed Amount'] = n),
  max_override: (l, n) => ((l.max_value ??= {})['Price Override'] = n),
  max_setup: (l, n) => ((l.max_value ??= {})['Free Setup'] = n),
};

/** Parse `per_request=50 per_day=none …`; "none" or 0 lifts the limit. */
export function parseLimitOptions(options: Record<string, string>): Limits {
  const limits: Limits = {};
  const entries = Object.entries(options);
  if (entries.length === 0) throw new PromoError('bad_request', `Give at least one limit: ${Object.keys(LIMIT_OPTIONS).map((k) => `${k}=N`).join(', ')} (none lifts it).`);
  for (const [key, raw] of entries) {
    const apply = LIMIT_OPTIONS[key];
    if (!apply) throw new PromoError('bad_request', `Unknown limit "${truncate(key, 30)}". Use ${Object.keys(LIMIT_OPTIONS).join(', ')}.`, { [truncate(key, 30)]: 'Unknown limit.' });
    const n = raw.toLowerCase() === 'none' ? 0 : Number(raw);
    if (!Number.isFinite(n) || n < 0 || (key.startsWith('per_') && !Number.isInteger(n))) {
      throw new PromoError('validation_failed', `${key} must be a number from 0 (or none), not "${truncate(raw, 20)}".`, { [key]: 'A number from 0, or none.' });
    }
    apply(limits, n);
  }
  return limits;
}

export function describeLimits(limits: Limits): string {
  const parts: string[] = [];
  if (limits.per_request) parts.push(`${limits.per_request.toLocaleString('en-US')} codes a request`);
  if (limits.per_day) parts.push(`${limits.per_day.toLocaleString('en-US')} a day`);
  for (const type of PROMO_TYPES) {
    const max = limits.max_value?.[type];
    if (max) parts.push(`${type} up to ${max}`);
  }
  return parts.length > 0 ? parts.join(', ') : 'no limits';
}

// ---- The access audit trail ---------------------------------------------------------------

/** One grant, revoke or settings change, in the caller's transaction. */
export function recordAccessEvent(db: Db, core: Core, actor: Actor, action: string, setId: number | null, detail: Record<string, unknown>): Promise<void> {
  return insertAccessEvent(db, { set_id: setId, action, actor: actorName(actor), detail, created_at: nowIso(core) });
}
