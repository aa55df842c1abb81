/**
 * Who may do what: the ONE permission path. Every transport (Slack commands,
 * buttons and modals, the admin API, the CLI, and later Workflow Builder
 * steps) asks here and nowhere else.
 *
 * How a new transport uses it:
 *   1. Name the person or program acting: `slackActor(userId)` for a Slack
 *      user (a workflow step acts for its `requested_by` user), or
 *      `operatorActor('cli:alice')` for a holder of the server's own keys
 *      (CLI, ADMIN_API_TOKEN), who may do everything.
 *   2. Before any change: `await authorize(core, actor, action, set?)`. It
 *      returns the actor's role or throws PromoError('forbidden') with a
 *      sentence to show as is.
 *   3. Before issuing codes: `await checkIssue(core, actor, set, ask)`. It
 *      answers `allowed` (the codes are already counted against today's
 *      limit: call `release()` if issuing then fails), `needs_approval` (with
 *      the limits it goes over, as sentences: ask for a reason and call
 *      requestApproval in approvals.ts), or throws `forbidden`.
 *
 * Roles (each includes the one before): viewer < issuer < manager < owner.
 * A person's role for a set is the highest of: PROMO_ADMINS (owner); their
 * grants and their user groups' grants, for every set or for that set; the
 * workspace's admins and owners while nobody else is an owner (bootstrap);
 * and the default role (viewer unless an owner changes it).
 */
import { PromoError } from '../domain/errors.js';
import { PROMO_TYPES, type PromoType } from '../domain/fields.js';
import { promotionTerms, type PromotionOverrides } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import { truncate } from '../domain/text.js';
import {
  countAccessEvents, countOwnerGrants, deleteGrants, getGroupMembers, grantsOf, groupGrantSubjects, insertAccessEvent, listAccessEvents, listGrants,
  putGroupMembers, releaseUsage, reserveUsage, upsertGrant, usageOn, type AccessEventRow, type GrantRow,
} from '../store/access.js';
import type { Db } from '../store/db.js';
import { inWriteTransaction } from '../store/transactions.js';
import { findSetById, findSetByName } from '../store/sets.js';
import { getSetting } from '../store/settings.js';
import { nowIso, today, type Core } from './core.js';

export const ROLES = ['viewer', 'issuer', 'manager', 'owner'] as const;
export type Role = (typeof ROLES)[number];
const rank = (role: Role) => ROLES.indexOf(role);
const higher = (a: Role, b: Role) => (rank(a) >= rank(b) ? a : b);

/** Who acts: a Slack user, or an operator holding the server's own keys (CLI, admin API). */
export type Actor = { kind: 'slack'; userId: string } | { kind: 'operator'; name: string };
export const slackActor = (userId: string): Actor => ({ kind: 'slack', userId });
export const operatorActor = (name: string): Actor => ({ kind: 'operator', name });
/** The actor string stored on batches and audit events ("slack:U123", "cli:alice"). */
export const actorName = (actor: Actor) => (actor.kind === 'slack' ? `slack:${actor.userId}` : actor.name);

export type { AccessOptions, Directory } from './core.js';

/** What each action needs. Set-scoped actions pass the set. */
export const ACTIONS = {
  view: { role: 'viewer', doing: 'see promo sets' },
  issue: { role: 'issuer', doing: 'generate codes' },
  see_secrets: { role: 'manager', doing: 'see set URLs and secrets' },
  create_set: { role: 'manager', doing: 'create promo sets' },
  edit_set: { role: 'manager', doing: 'edit promo sets' },
  rotate_set: { role: 'manager', doing: 'rotate set URLs' },
  archive_set: { role: 'manager', doing: 'archive promo sets' },
  manage_webhooks: { role: 'manager', doing: 'manage webhooks' },
  void: { role: 'manager', doing: 'void codes' },
  unvoid: { role: 'manager', doing: 'unvoid codes' },
  audit: { role: 'manager', doing: 'see audit trails' },
  decide: { role: 'manager', doing: 'decide approval requests' },
  grant_basic: { role: 'manager', doing: 'grant or revoke the viewer and issuer roles' },
  grant_any: { role: 'owner', doing: 'grant or revoke the manager and owner roles' },
  settings: { role: 'owner', doing: 'change access settings' },
} as const satisfies Record<string, { role: Role; doing: string }>;
export type Action = keyof typeof ACTIONS;

/** How long a user group's members are trusted before usergroups.users.list is asked again. */
export const GROUP_CACHE_MS = 5 * 60 * 1000;

export interface RoleAnswer {
  role: Role;
  /** Why, for App Home and `/promo access`: "PROMO_ADMINS", "grant", "default", "workspace admin". */
  source: string;
}

/**
 * Authorize `actor` to do `action` (on `set`, for set-scoped actions).
 * Returns the role that allowed it; throws `forbidden` with a sentence.
 */
export async function authorize(core: Core, actor: Actor, action: Action, set?: Pick<PromoSet, 'id' | 'name'>): Promise<Role> {
  if (actor.kind === 'operator') return 'owner';
  const need = ACTIONS[action];
  const { role } = await roleOf(core, actor.userId, set?.id);
  if (rank(role) >= rank(need.role)) return role;
  const where = set ? ` of the promo set "${set.name}"` : ' of every set';
  const who = need.role === 'owner' ? 'owners' : `${need.role}s${where}`;
  throw new PromoError('forbidden', `Only ${who} may ${need.doing}. You are ${article(role)} ${role}${set ? ' here' : ''}; ask an owner or a manager to grant you a role (/promo access).`);
}

/** Whether the actor may: for showing or hiding things (secrets, buttons), never instead of authorize before a change. */
export async function may(core: Core, actor: Actor, action: Action, set?: Pick<PromoSet, 'id' | 'name'>): Promise<boolean> {
  try {
    await authorize(core, actor, action, set);
    return true;
  } catch (error) {
    if (error instanceof PromoError && error.code === 'forbidden') return false;
    throw error;
  }
}

/** The person's role for one set (or, without a set, from their every-set grants). */
export async function roleOf(core: Core, userId: string, setId?: number): Promise<RoleAnswer> {
  if (core.access.admins.includes(userId)) return { role: 'owner', source: 'PROMO_ADMINS' };
  let answer: RoleAnswer = { role: await defaultRole(core), source: 'default role' };
  for (const grant of await grantsFor(core, userId)) {
    if (grant.set_id !== 0 && grant.set_id !== setId) continue;
    const role = grant.role as Role;
    if (rank(role) > rank(answer.role)) answer = { role, source: grant.subject.startsWith('S') ? `grant to <!subteam^${grant.subject}>` : 'grant' };
  }
  if (answer.role !== 'owner' && (await workspaceAdminIsOwner(core, userId))) return { role: 'owner', source: 'workspace admin (no owner is set yet)' };
  return answer;
}

/** Every grant that applies to the person (their own and their groups'), any scope. */
async function grantsFor(core: Core, userId: string): Promise<GrantRow[]> {
  const subjects = [userId];
  for (const group of await groupGrantSubjects(core.db)) {
    if ((await groupMembers(core, group)).includes(userId)) subjects.push(group);
  }
  return grantsOf(core.db, subjects);
}

/** The highest role the person has on any set: what App Home and `/promo access` show. */
export async function bestRole(core: Core, userId: string): Promise<RoleAnswer & { sets: number[] }> {
  const base = await roleOf(core, userId);
  let best = base;
  const sets: number[] = [];
  for (const grant of await grantsFor(core, userId)) {
    if (grant.set_id === 0) continue;
    sets.push(grant.set_id);
    if (rank(grant.role as Role) > rank(best.role)) best = { role: grant.role as Role, source: 'grant for named sets' };
  }
  return { ...best, sets };
}

/**
 * Bootstrap: with no PROMO_ADMINS and no owner grant, the workspace's
 * admins and owners (users.info) are owners, so someone can hand out roles.
 */
async function workspaceAdminIsOwner(core: Core, userId: string): Promise<boolean> {
  if (core.access.admins.length > 0 || !core.access.directory) return false;
  if ((await countOwnerGrants(core.db)) > 0) return false;
  const user = await core.access.directory.user(userId).catch(() => undefined);
  return user?.isAdmin === true;
}

/** A sentence for start-up: who the owners are, or how they are found. */
export async function describeOwners(core: Core): Promise<string> {
  if (core.access.admins.length > 0) return `Owners: ${core.access.admins.join(', ')} (PROMO_ADMINS), plus any owner grants.`;
  const owners = (await listGrants(core.db)).filter((g) => g.role === 'owner').map((g) => g.subject);
  if (owners.length > 0) return `Owners: ${owners.join(', ')} (owner grants).`;
  return "PROMO_ADMINS is not set and nobody has an owner grant: the Slack workspace's admins and owners (users.info) are promoset owners until an owner is granted.";
}

/** A group's members: from the shared table while fresher than 5 minutes, else from Slack. */
export async function groupMembers(core: Core, groupId: string): Promise<string[]> {
  const cached = await getGroupMembers(core.db, groupId);
  const fresh = cached && core.now().getTime() - Date.parse(cached.fetched_at) < GROUP_CACHE_MS;
  if (cached && (fresh || !core.access.directory)) return cached.members;
  if (!core.access.directory) return [];
  try {
    return await refreshGroup(core, groupId);
  } catch {
    // Slack unreachable: the last known members are better than none.
    return cached?.members ?? [];
  }
}

/** Read a group's members from Slack now (subteam_members_changed, a stale cache) and share them. */
export async function refreshGroup(core: Core, groupId: string): Promise<string[]> {
  const directory = core.access.directory;
  if (!directory) return [];
  const members = await directory.groupMembers(groupId);
  await putGroupMembers(core.db, groupId, members, nowIso(core));
  return members;
}

// ---- Default role and settings ----------------------------------------------------------

const DEFAULT_ROLE_KEY = 'access.default_role';
const LIMITS_KEY = 'access.limits';
const APPROVALS_CHANNEL_KEY = 'access.approvals_channel';

export async function defaultRole(core: Core): Promise<Role> {
  const value = await getSetting(core.db, DEFAULT_ROLE_KEY);
  return value && isRole(value) ? value : 'viewer';
}

export async function approvalsChannel(core: Core): Promise<string | undefined> {
  const value = await getSetting(core.db, APPROVALS_CHANNEL_KEY);
  return value || undefined;
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function parseRole(value: string | undefined): Role {
  const wanted = (value ?? '').trim().toLowerCase().replace(/s$/, '');
  if (isRole(wanted)) return wanted;
  throw new PromoError('validation_failed', `"${truncate(value ?? '', 30)}" is not a role. Roles are viewer, issuer, manager and owner.`, { role: 'One of viewer, issuer, manager, owner.' });
}

async function putSetting(db: Db, key: string, value: string): Promise<void> {
  await db.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
}

export async function setDefaultRole(core: Core, actor: Actor, role: Role): Promise<void> {
  await authorize(core, actor, 'settings');
  await inWriteTransaction(core.db, async (trx) => {
    await putSetting(trx, DEFAULT_ROLE_KEY, role);
    await audit(trx, core, actor, 'default_role_set', null, { role });
  });
}

/** A Slack channel id (from `<#C123|name>`) or "off". */
export async function setApprovalsChannel(core: Core, actor: Actor, channel: string | undefined): Promise<void> {
  await authorize(core, actor, 'settings');
  await inWriteTransaction(core.db, async (trx) => {
    await putSetting(trx, APPROVALS_CHANNEL_KEY, channel ?? '');
    await audit(trx, core, actor, 'approvals_channel_set', null, { channel: channel ?? null });
  });
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

async function storedLimits(core: Core): Promise<StoredLimits> {
  const value = await getSetting(core.db, LIMITS_KEY);
  return value ? (JSON.parse(value) as StoredLimits) : {};
}

/** A role's limits on a set: the defaults, then the owner's per-role limits, then the set's own. */
export async function limitsFor(core: Core, role: Role, setId?: number): Promise<Limits> {
  const stored = await storedLimits(core);
  const merged: Limits = { ...DEFAULT_LIMITS[role], ...stored.roles?.[role] };
  const own = setId !== undefined ? stored.sets?.[String(setId)]?.[role] : undefined;
  if (own) Object.assign(merged, { ...own, max_value: { ...merged.max_value, ...own.max_value } });
  return dropCleared(merged);
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

export async function setLimits(core: Core, actor: Actor, role: Role, changes: Limits, set?: PromoSet): Promise<Limits> {
  await authorize(core, actor, 'settings');
  return inWriteTransaction(core.db, async (trx) => {
    const value = await getSetting(trx, LIMITS_KEY);
    const stored: StoredLimits = value ? JSON.parse(value) : {};
    const bucket = set ? (((stored.sets ??= {})[String(set.id)] ??= {})) : (stored.roles ??= {});
    const current = (bucket[role] ??= {});
    Object.assign(current, { ...changes, max_value: { ...current.max_value, ...changes.max_value } });
    await putSetting(trx, LIMITS_KEY, JSON.stringify(stored));
    await audit(trx, core, actor, 'limits_set', set?.id ?? null, { role, ...changes });
    return current;
  });
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

// ---- Issuing within limits ----------------------------------------------------------------

export interface IssueAsk {
  amount: number;
  overrides: PromotionOverrides;
}

export type IssueDecision =
  | { kind: 'allowed'; role: Role; release: () => Promise<void> }
  | { kind: 'needs_approval'; role: Role; over: string[] };

/**
 * May the actor issue this now? Checks the role, then the limits: an ask
 * over them needs approval. An allowed ask is already counted against
 * today's limit, atomically, so two instances cannot both go past it.
 */
export async function checkIssue(core: Core, actor: Actor, set: PromoSet, ask: IssueAsk): Promise<IssueDecision> {
  const role = await authorize(core, actor, 'issue', set);
  if (actor.kind === 'operator') return { kind: 'allowed', role, release: async () => undefined };
  const limits = await limitsFor(core, role, set.id);
  const day = today(core);
  const over: string[] = [];
  if (limits.per_request !== undefined && ask.amount > limits.per_request) {
    over.push(`${ask.amount.toLocaleString('en-US')} codes is more than your limit of ${limits.per_request.toLocaleString('en-US')} a request`);
  }
  const terms = promotionTerms(set, ask.overrides, day);
  const maxValue = limits.max_value?.[terms.type];
  if (maxValue !== undefined && Number(terms.value) > maxValue) {
    over.push(`a ${terms.type} value of ${terms.value} is more than your limit of ${maxValue}`);
  }
  const used = await usageOn(core.db, actor.userId, day);
  if (limits.per_day !== undefined && used + ask.amount > limits.per_day) {
    over.push(`you have issued ${used.toLocaleString('en-US')} of your ${limits.per_day.toLocaleString('en-US')} codes today`);
  }
  if (over.length > 0) return { kind: 'needs_approval', role, over };
  if (!(await reserveUsage(core.db, actor.userId, day, ask.amount, limits.per_day))) {
    // Another instance counted codes for this person in the meantime.
    const now = await usageOn(core.db, actor.userId, day);
    return { kind: 'needs_approval', role, over: [`you have issued ${now.toLocaleString('en-US')} of your ${limits.per_day!.toLocaleString('en-US')} codes today`] };
  }
  return { kind: 'allowed', role, release: () => releaseUsage(core.db, actor.userId, day, ask.amount) };
}

/** Count codes issued for the person without a limit (an approved request). */
export async function countUsage(core: Core, userId: string, amount: number): Promise<void> {
  await reserveUsage(core.db, userId, today(core), amount, undefined);
}

export async function usageToday(core: Core, userId: string): Promise<number> {
  return usageOn(core.db, userId, today(core));
}

/** The sentence for an ask that needs approval, with how to ask for it. */
export function overLimitsSentence(over: string[]): string {
  return `This is over your limits: ${over.join('; ')}.`;
}

// ---- Grants -------------------------------------------------------------------------------

export interface Subject {
  /** U…/W… for a user, S… for a user group. */
  id: string;
  kind: 'user' | 'group';
}

/**
 * A subject as Slack escapes it in command text (`<@U123|ann>`,
 * `<!subteam^S123|@sales>`) or as a bare id (CLI, API).
 */
export function parseSubject(text: string): Subject {
  const raw = text.trim();
  const user = /^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$/.exec(raw) ?? /^([UW][A-Z0-9]{2,})$/.exec(raw);
  if (user) return { id: user[1], kind: 'user' };
  const group = /^<!subteam\^(S[A-Z0-9]{2,})(?:\|[^>]*)?>$/.exec(raw) ?? /^(S[A-Z0-9]{2,})$/.exec(raw);
  if (group) return { id: group[1], kind: 'group' };
  const hint = raw.startsWith('@') ? ' Pick the person or group from Slack\'s @-autocomplete, so Slack sends its id.' : '';
  throw new PromoError('validation_failed', `"${truncate(raw, 40)}" is not a Slack user or user group. Mention one, like @ann or @support (or give an id: U… for a user, S… for a group).${hint}`, { subject: 'A Slack user or user group.' });
}

export const mention = (subject: string) => (subject.startsWith('S') ? `<!subteam^${subject}>` : `<@${subject}>`);

/** parseSubject, plus a group named by its handle (`@support`, from a modal's text field). */
export async function resolveSubject(core: Core, text: string): Promise<Subject> {
  try {
    return parseSubject(text);
  } catch (error) {
    const handle = text.trim();
    if (!core.access.directory || !/^@?[A-Za-z0-9._-]{1,80}$/.test(handle)) throw error;
    const group = await core.access.directory.group(handle);
    if (!group) throw new PromoError('not_found', `This workspace has no user group "${truncate(handle, 40)}"; nothing was changed.`, { subject: 'No such user group.', group: 'No such user group.' });
    return { id: group.id, kind: 'group' };
  }
}

/** Check the subject exists in Slack (when Slack is connected). */
async function checkSubjectExists(core: Core, subject: Subject): Promise<void> {
  const directory = core.access.directory;
  if (!directory) return;
  if (subject.kind === 'user') {
    const user = await directory.user(subject.id);
    if (!user || user.deleted) throw new PromoError('not_found', `Slack knows no active user ${subject.id}; nothing was granted.`, { subject: 'No such Slack user.' });
  } else {
    const group = await directory.group(subject.id);
    if (!group) throw new PromoError('not_found', `This workspace has no user group ${subject.id}; nothing was granted.`, { subject: 'No such user group.' });
  }
}

/** Set references ("Spring Sale", "12") to sets; none means every set. */
export async function resolveSets(core: Core, refs: string[]): Promise<PromoSet[]> {
  const sets: PromoSet[] = [];
  for (const ref of refs) {
    const wanted = ref.trim();
    if (wanted === '') continue;
    const set = /^\d+$/.test(wanted) ? await findSetById(core.db, Number(wanted)) : await findSetByName(core.db, wanted);
    if (!set) throw new PromoError('not_found', `There is no promo set "${truncate(wanted, 60)}"; nothing was changed.`, { sets: 'No such promo set.' });
    if (!sets.some((s) => s.id === set.id)) sets.push(set);
  }
  return sets;
}

/** Granting viewer/issuer takes a manager of those sets; manager/owner take an owner. */
async function authorizeGrant(core: Core, actor: Actor, role: Role, sets: PromoSet[]): Promise<void> {
  if (rank(role) >= rank('manager')) return void (await authorize(core, actor, 'grant_any'));
  if (sets.length === 0) return void (await authorize(core, actor, 'grant_basic'));
  for (const set of sets) await authorize(core, actor, 'grant_basic', set);
}

export interface GrantResult {
  subject: string;
  role: Role;
  sets: { id: number; name: string }[];
  /** The roles replaced, per scope. */
  replaced: string[];
}

export async function grantAccess(core: Core, actor: Actor, subjectText: string, roleText: string, setRefs: string[] = []): Promise<GrantResult> {
  const subject = await resolveSubject(core, subjectText);
  const role = parseRole(roleText);
  const sets = await resolveSets(core, setRefs);
  await authorizeGrant(core, actor, role, sets);
  await checkSubjectExists(core, subject);
  const scopes = sets.length > 0 ? sets.map((s) => s.id) : [0];
  const replaced = await inWriteTransaction(core.db, async (trx) => {
    const before: string[] = [];
    for (const setId of scopes) {
      const old = await upsertGrant(trx, { subject: subject.id, role, set_id: setId, created_by: actorName(actor), created_at: nowIso(core) });
      if (old && old !== role) before.push(old);
      await audit(trx, core, actor, 'granted', setId || null, { subject: subject.id, role, ...(old ? { replaced: old } : {}) });
    }
    return before;
  });
  if (subject.kind === 'group') await refreshGroup(core, subject.id).catch(() => undefined);
  return { subject: subject.id, role, sets: sets.map((s) => ({ id: s.id, name: s.name })), replaced };
}

/** Revoke grants by their ids (the access modal's remove field). */
export async function revokeGrantIds(core: Core, actor: Actor, ids: number[]): Promise<GrantRow[]> {
  const all = await listGrants(core.db);
  const removed: GrantRow[] = [];
  for (const id of ids) {
    const grant = all.find((g) => g.id === id);
    if (!grant) throw new PromoError('not_found', `There is no grant #${id}; nothing was removed.`, { remove: `No grant #${id}.` });
    const set = grant.set_id === 0 ? undefined : await findSetById(core.db, grant.set_id);
    await authorizeGrant(core, actor, grant.role as Role, set ? [set] : []);
  }
  await inWriteTransaction(core.db, async (trx) => {
    for (const id of ids) {
      const grant = all.find((g) => g.id === id)!;
      removed.push(...(await deleteGrants(trx, grant.subject, [grant.set_id])));
      await audit(trx, core, actor, 'revoked', grant.set_id || null, { subject: grant.subject, role: grant.role });
    }
  });
  return removed;
}

export async function revokeAccess(core: Core, actor: Actor, subjectText: string, setRefs: string[] = []): Promise<GrantRow[]> {
  const subject = await resolveSubject(core, subjectText);
  const sets = await resolveSets(core, setRefs);
  if (subject.kind === 'user' && core.access.admins.includes(subject.id)) {
    throw new PromoError('conflict', `${mention(subject.id)} is an owner through PROMO_ADMINS, which only the server's configuration can change; nothing was revoked.`);
  }
  const scopes = sets.length > 0 ? sets.map((s) => s.id) : [0];
  const existing = (await listGrants(core.db)).filter((g) => g.subject === subject.id && scopes.includes(g.set_id));
  if (existing.length === 0) {
    const where = sets.length > 0 ? `for ${sets.map((s) => `"${s.name}"`).join(', ')}` : 'for every set';
    const others = (await listGrants(core.db)).filter((g) => g.subject === subject.id);
    const hint = others.length > 0 ? ` Their grants: ${await describeGrants(core, others)}.` : '';
    throw new PromoError('not_found', `${mention(subject.id)} has no grant ${where}; nothing was revoked.${hint}`, { subject: 'No such grant.' });
  }
  for (const grant of existing) {
    const set = grant.set_id === 0 ? undefined : sets.find((s) => s.id === grant.set_id);
    await authorizeGrant(core, actor, grant.role as Role, set ? [set] : []);
  }
  return inWriteTransaction(core.db, async (trx) => {
    const deleted = await deleteGrants(trx, subject.id, scopes);
    for (const grant of deleted) await audit(trx, core, actor, 'revoked', grant.set_id || null, { subject: subject.id, role: grant.role });
    return deleted;
  });
}

export interface GrantView extends GrantRow {
  set_name: string | null;
}

/** Every grant, with its set's name: anyone may read who has which role. */
export async function listAccess(core: Core, actor: Actor): Promise<GrantView[]> {
  await authorize(core, actor, 'view');
  const grants = await listGrants(core.db);
  const names = new Map<number, string>();
  for (const id of new Set(grants.map((g) => g.set_id).filter((id) => id !== 0))) names.set(id, (await findSetById(core.db, id))?.name ?? `#${id}`);
  return grants.map((g) => ({ ...g, set_name: g.set_id === 0 ? null : (names.get(g.set_id) ?? null) }));
}

async function describeGrants(core: Core, grants: GrantRow[]): Promise<string> {
  const parts: string[] = [];
  for (const g of grants) parts.push(`${g.role} ${g.set_id === 0 ? 'on every set' : `on "${(await findSetById(core.db, g.set_id))?.name ?? g.set_id}"`}`);
  return parts.join(', ');
}

/** People who may decide for a set: its managers and owners (users, and members of granted groups). */
export async function approversOf(core: Core, setId: number): Promise<string[]> {
  const people = new Set<string>(core.access.admins);
  for (const grant of await listGrants(core.db)) {
    if (rank(grant.role as Role) < rank('manager') || (grant.set_id !== 0 && grant.set_id !== setId)) continue;
    if (grant.subject.startsWith('S')) for (const member of await groupMembers(core, grant.subject)) people.add(member);
    else people.add(grant.subject);
  }
  return [...people];
}

// ---- Audit --------------------------------------------------------------------------------

export function audit(db: Db, core: Core, actor: Actor, action: string, setId: number | null, detail: Record<string, unknown>): Promise<void> {
  return insertAccessEvent(db, { set_id: setId, action, actor: actorName(actor), detail, created_at: nowIso(core) });
}

/** Grants, revokes and settings changes, newest first. Managers and owners only. */
export async function accessAuditPage(core: Core, actor: Actor, offset: number, limit: number): Promise<{ events: AccessEventRow[]; total: number }> {
  await authorize(core, actor, 'audit');
  const [events, total] = await Promise.all([listAccessEvents(core.db, limit, offset), countAccessEvents(core.db)]);
  return { events, total };
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}
