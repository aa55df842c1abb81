/**
 * Approval requests: an ask over the asker's limits, decided by a manager.
 *
 * - The first decision wins, atomically, on any number of instances:
 *   settleApproval is one UPDATE … WHERE status = 'pending'; exactly one
 *   caller changes the row, every other is told who decided.
 * - Only a manager of the set (authorize 'decide') who is not the asker decides.
 * - A request is pending for 24 hours (core.now, so tests move the clock);
 *   after that a decision is refused and expireApprovals marks it expired.
 * - Approved codes are issued by the transport that delivers them (Slack:
 *   deliverBatch to the asker), recorded on the batch as the asker's, with the
 *   approver in the audit trail (approval_approved, approval_issued).
 */
import { PromoError } from '../domain/errors.js';
import type { BulkRequest } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import { truncate } from '../domain/text.js';
import { getApproval, insertApproval, listOverdueApprovals, listPendingApprovals, setApprovalBatch, setApprovalMessages, settleApproval, type ApprovalRow } from '../store/access.js';
import { insertAuditEvent, type AuditAction } from '../store/audit.js';
import type { Db } from '../store/db.js';
import { inWriteTransaction } from '../store/transactions.js';
import { authorize } from './access.js';
import { countUsage } from './issue-limits.js';
import { actorName, type Actor } from './roles.js';
import { nowIso, type Core } from './core.js';
import { getSet } from './sets.js';

export const APPROVAL_TTL_MS = 24 * 60 * 60 * 1000;

export interface Approval extends Omit<ApprovalRow, 'request' | 'over_limits' | 'messages'> {
  request: BulkRequest;
  over_limits: string[];
  messages: { channel: string; ts: string }[];
}

const toApproval = (row: ApprovalRow): Approval => ({
  ...row,
  request: JSON.parse(row.request) as BulkRequest,
  over_limits: JSON.parse(row.over_limits) as string[],
  messages: JSON.parse(row.messages) as { channel: string; ts: string }[],
});

function auditSet(db: Db, core: Core, setId: number, action: AuditAction, actor: string, detail: Record<string, unknown>): Promise<void> {
  return insertAuditEvent(db, { set_id: setId, action, actor, detail, created_at: nowIso(core) });
}

export async function requestApproval(core: Core, actor: Actor, set: PromoSet, request: BulkRequest, reason: string, over: string[]): Promise<Approval> {
  if (actor.kind !== 'slack') throw new PromoError('bad_request', 'Approval requests come from Slack users.');
  const why = reason.trim();
  if (why === '') throw new PromoError('validation_failed', 'Give a reason: a manager reads it before approving.', { reason: 'Say why these codes are needed.' });
  if (why.length > 1000) throw new PromoError('validation_failed', 'Keep the reason under 1,000 characters.', { reason: 'At most 1,000 characters.' });
  const now = core.now();
  const row = await inWriteTransaction(core.db, async (trx) => {
    const inserted = await insertApproval(trx, {
      set_id: set.id, asker: actor.userId, amount: request.amount, request: JSON.stringify(request), reason: why, over_limits: JSON.stringify(over),
      status: 'pending', decided_by: null, decision_reason: null, decided_at: null, batch_id: null,
      created_at: now.toISOString(), expires_at: new Date(now.getTime() + APPROVAL_TTL_MS).toISOString(), messages: '[]',
    });
    await auditSet(trx, core, set.id, 'approval_requested', actorName(actor), { request_id: inserted.id, amount: request.amount, reason: why, over_limits: over });
    return inserted;
  });
  return toApproval(row);
}

export async function findApproval(core: Core, id: number): Promise<Approval> {
  if (!Number.isInteger(id) || id <= 0) throw new PromoError('bad_request', 'This button names no approval request.');
  const row = await getApproval(core.db, id);
  if (!row) throw new PromoError('not_found', `There is no approval request #${id}.`);
  return toApproval(row);
}

export async function recordApprovalMessages(core: Core, id: number, messages: { channel: string; ts: string }[]): Promise<void> {
  await setApprovalMessages(core.db, id, JSON.stringify(messages));
}

/** Pending requests (not yet expired), for App Home. */
export async function pendingApprovals(core: Core): Promise<Approval[]> {
  return (await listPendingApprovals(core.db, nowIso(core))).map(toApproval);
}

export type Decision = 'approve' | 'deny';

/**
 * Decide a request. Refuses (with a sentence, changing nothing) a person who
 * may not decide, the asker, an expired request and one already decided.
 * Returns the request as decided; for an approval the caller then issues it.
 */
export async function decideApproval(core: Core, actor: Actor, id: number, decision: Decision, reason = ''): Promise<Approval> {
  const { request, set } = await assertMayDecide(core, actor, id);
  const now = nowIso(core);
  const why = reason.trim();
  if (decision === 'deny' && why === '') throw new PromoError('validation_failed', 'Give a reason for denying: the asker sees it.', { reason: 'Give a reason for denying: the asker sees it.' });
  const status = decision === 'approve' ? 'approved' : 'denied';
  const won = await inWriteTransaction(core.db, async (trx) => {
    const changed = await settleApproval(trx, id, { status, decided_by: actorName(actor), decision_reason: why || null, decided_at: now }, now);
    if (changed) await auditSet(trx, core, set.id, decision === 'approve' ? 'approval_approved' : 'approval_denied', actorName(actor), { request_id: id, asker: `slack:${request.asker}`, amount: request.amount, ...(why ? { reason: why } : {}) });
    return changed;
  });
  if (!won) throw alreadySettled(await findApproval(core, id));
  return { ...request, status, decided_by: actorName(actor), decision_reason: why || null, decided_at: now };
}

/** Whether the actor may decide the request now: a manager of its set, not the asker, still pending. */
export async function assertMayDecide(core: Core, actor: Actor, id: number): Promise<{ request: Approval; set: PromoSet }> {
  const request = await findApproval(core, id);
  const set = await getSet(core, request.set_id);
  await authorize(core, actor, 'decide', set);
  if (actor.kind === 'slack' && actor.userId === request.asker) {
    throw new PromoError('forbidden', `You asked for request #${id} yourself, so another manager of "${set.name}" must decide it.`);
  }
  if (request.status !== 'pending') throw alreadySettled(request);
  if (request.expires_at <= nowIso(core)) {
    await expire(core, request);
    throw alreadySettled({ ...request, status: 'expired' });
  }
  return { request, set };
}

/** After an approved request's batch is stored: link it, count it, audit it with both people. */
export async function recordApprovedBatch(core: Core, request: Approval, batchId: number): Promise<void> {
  await setApprovalBatch(core.db, request.id, batchId);
  await countUsage(core, request.asker, request.amount);
  await auditSet(core.db, core, request.set_id, 'approval_issued', `slack:${request.asker}`, { request_id: request.id, batch_id: batchId, count: request.amount, approved_by: request.decided_by });
}

/** Mark every overdue pending request expired; returns those this call expired (their messages need updating). */
export async function expireApprovals(core: Core): Promise<Approval[]> {
  const expired: Approval[] = [];
  for (const row of await listOverdueApprovals(core.db, nowIso(core))) {
    const request = toApproval(row);
    if (await expire(core, request)) expired.push({ ...request, status: 'expired' });
  }
  return expired;
}

async function expire(core: Core, request: Approval): Promise<boolean> {
  return inWriteTransaction(core.db, async (trx) => {
    const changed = await settleApproval(trx, request.id, { status: 'expired', decided_by: null, decision_reason: null, decided_at: request.expires_at });
    if (changed) await auditSet(trx, core, request.set_id, 'approval_expired', 'promoset', { request_id: request.id, asker: `slack:${request.asker}`, amount: request.amount });
    return changed;
  });
}

function alreadySettled(request: Approval): PromoError {
  if (request.status === 'expired') {
    return new PromoError('conflict', `Request #${request.id} expired at ${request.expires_at.slice(0, 16).replace('T', ' ')} UTC, 24 hours after it was asked; nothing was issued. The asker can ask again.`);
  }
  const who = request.decided_by?.startsWith('slack:') ? `<@${request.decided_by.slice(6)}>` : (request.decided_by ?? 'someone');
  const when = request.decided_at ? ` at ${request.decided_at.slice(0, 16).replace('T', ' ')} UTC` : '';
  return new PromoError('conflict', `Request #${request.id} was already ${request.status} by ${who}${when}${request.decision_reason ? ` ("${truncate(request.decision_reason, 200)}")` : ''}; nothing more was done.`);
}
