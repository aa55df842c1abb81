/**
 * A person's role, from everything that can give one: PROMO_ADMINS (owner);
 * their grants and their user groups' grants, for every set or for one set;
 * the workspace's admins and owners while nobody else is an owner
 * (bootstrap); and the default role. The highest wins.
 */
import { countOwnerGrants, grantsOf, groupGrantSubjects, listGrants, type GrantRow } from '../store/access.js';
import { defaultRole } from './access-policy.js';
import type { Core } from './core.js';
import { groupMembers } from './group-members.js';
import { rank, type Role } from './roles.js';

export interface RoleAnswer {
  role: Role;
  /** Why, for App Home and `/promo access`: "PROMO_ADMINS", "grant", "default", "workspace admin". */
  source: string;
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
