/**
 * Changing who has which role: grants to Slack users and user groups, for
 * every set or for named sets, their revocation and their listing. Each
 * change asks service/access.ts first and is recorded in the access audit
 * trail in the same transaction.
 */
import { PromoError } from '../domain/errors.js';
import type { PromoSet } from '../domain/set.js';
import { truncate } from '../domain/text.js';
import { deleteGrants, listGrants, upsertGrant, type GrantRow } from '../store/access.js';
import { findSetById, findSetByName } from '../store/sets.js';
import { inWriteTransaction } from '../store/transactions.js';
import { authorize } from './access.js';
import { recordAccessEvent } from './access-policy.js';
import { nowIso, type Core } from './core.js';
import { refreshGroup } from './group-members.js';
import { actorName, parseRole, rank, type Actor, type Role } from './roles.js';

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
      await recordAccessEvent(trx, core, actor, 'granted', setId || null, { subject: subject.id, role, ...(old ? { replaced: old } : {}) });
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
      await recordAccessEvent(trx, core, actor, 'revoked', grant.set_id || null, { subject: grant.subject, role: grant.role });
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
    for (const grant of deleted) await recordAccessEvent(trx, core, actor, 'revoked', grant.set_id || null, { subject: subject.id, role: grant.role });
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
