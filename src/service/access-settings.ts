/**
 * Owners' settings of the permission path (default role, approvals channel,
 * limits) and the access audit trail's reader. Each change asks
 * service/access.ts first and is audited in the same transaction.
 */
import type { PromoSet } from '../domain/set.js';
import { countAccessEvents, listAccessEvents, type AccessEventRow } from '../store/access.js';
import { inWriteTransaction } from '../store/transactions.js';
import { authorize } from './access.js';
import { recordAccessEvent, storeApprovalsChannel, storeDefaultRole, storeLimits, type Limits } from './access-policy.js';
import type { Core } from './core.js';
import type { Actor, Role } from './roles.js';

export async function setDefaultRole(core: Core, actor: Actor, role: Role): Promise<void> {
  await authorize(core, actor, 'settings');
  await inWriteTransaction(core.db, async (trx) => {
    await storeDefaultRole(trx, role);
    await recordAccessEvent(trx, core, actor, 'default_role_set', null, { role });
  });
}

/** A Slack channel id (from `<#C123|name>`) or "off". */
export async function setApprovalsChannel(core: Core, actor: Actor, channel: string | undefined): Promise<void> {
  await authorize(core, actor, 'settings');
  await inWriteTransaction(core.db, async (trx) => {
    await storeApprovalsChannel(trx, channel);
    await recordAccessEvent(trx, core, actor, 'approvals_channel_set', null, { channel: channel ?? null });
  });
}

export async function setLimits(core: Core, actor: Actor, role: Role, changes: Limits, set?: PromoSet): Promise<Limits> {
  await authorize(core, actor, 'settings');
  return inWriteTransaction(core.db, async (trx) => {
    const current = await storeLimits(trx, role, changes, set?.id);
    await recordAccessEvent(trx, core, actor, 'limits_set', set?.id ?? null, { role, ...changes });
    return current;
  });
}

/** Grants, revokes and settings changes, newest first. Managers and owners only. */
export async function accessAuditPage(core: Core, actor: Actor, offset: number, limit: number): Promise<{ events: AccessEventRow[]; total: number }> {
  await authorize(core, actor, 'audit');
  const [events, total] = await Promise.all([listAccessEvents(core.db, limit, offset), countAccessEvents(core.db)]);
  return { events, total };
}
