/**
 * The words of the permission path: roles, who acts, and what each action
 * needs. No I/O; service/access.ts decides with them.
 */
import { PromoError } from '../domain/errors.js';
import { truncate } from '../domain/text.js';

/** Each includes the one before. */
export const ROLES = ['viewer', 'issuer', 'manager', 'owner'] as const;
export type Role = (typeof ROLES)[number];
export const rank = (role: Role) => ROLES.indexOf(role);

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function parseRole(value: string | undefined): Role {
  const wanted = (value ?? '').trim().toLowerCase().replace(/s$/, '');
  if (isRole(wanted)) return wanted;
  throw new PromoError('validation_failed', `"${truncate(value ?? '', 30)}" is not a role. Roles are viewer, issuer, manager and owner.`, { role: 'One of viewer, issuer, manager, owner.' });
}

/** Who acts: a Slack user, or an operator holding the server's own keys (CLI, admin API). */
export type Actor = { kind: 'slack'; userId: string } | { kind: 'operator'; name: string };
export const slackActor = (userId: string): Actor => ({ kind: 'slack', userId });
export const operatorActor = (name: string): Actor => ({ kind: 'operator', name });
/** The actor string stored on batches and audit events ("slack:U123", "cli:alice"). */
export const actorName = (actor: Actor) => (actor.kind === 'slack' ? `slack:${actor.userId}` : actor.name);

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
  schedule_digest: { role: 'manager', doing: 'schedule digests' },
  see_customers: { role: 'manager', doing: "look up a customer's codes" },
  decide: { role: 'manager', doing: 'decide approval requests' },
  grant_basic: { role: 'manager', doing: 'grant or revoke the viewer and issuer roles' },
  grant_any: { role: 'owner', doing: 'grant or revoke the manager and owner roles' },
  settings: { role: 'owner', doing: 'change access settings' },
} as const satisfies Record<string, { role: Role; doing: string }>;
export type Action = keyof typeof ACTIONS;
