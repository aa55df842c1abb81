/**
 * Who may do what: the ONE permission path. Every transport (Slack commands,
 * buttons and modals, the admin API, the CLI, Workflow Builder steps) asks
 * here and nowhere else. The pieces it decides with live beside it:
 * roles.ts (roles, actors, actions), role-resolution.ts (a person's role from
 * grants, user groups and PROMO_ADMINS), group-members.ts, access-policy.ts
 * (the stored default role, approvals channel and limits), issue-limits.ts
 * (limit accounting); changing access is access-grants.ts and
 * access-settings.ts, both of which ask authorize here first.
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
 *      limit: issue through `issueAllowed`, which calls `release()` if
 *      issuing then fails), `needs_approval` (with
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
import type { PromoSet } from '../domain/set.js';
import type { Core } from './core.js';
import { reserveWithinLimits, type IssueAsk } from './issue-limits.js';
import { roleOf } from './role-resolution.js';
import { ACTIONS, rank, type Action, type Actor, type Role } from './roles.js';

// What a caller needs to ask: who acts, and the action's name.
export { operatorActor, slackActor, type Action, type Actor, type Role } from './roles.js';
export { overLimitsSentence, type IssueAsk } from './issue-limits.js';
export type { AccessOptions, Directory } from './core.js';

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
  const within = await reserveWithinLimits(core, actor.userId, role, set, ask);
  return 'over' in within ? { kind: 'needs_approval', role, over: within.over } : { kind: 'allowed', role, release: within.release };
}

/** Issue under an allowed decision: if issuing fails, the codes counted for it are given back and the failure passes on. */
export async function issueAllowed<T>(decision: Extract<IssueDecision, { kind: 'allowed' }>, issue: () => Promise<T>): Promise<T> {
  try {
    return await issue();
  } catch (error) {
    await decision.release();
    throw error;
  }
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}
