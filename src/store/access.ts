import type { Selectable } from 'kysely';
import type { Db } from './db.js';
import type { ApprovalRequestsTable } from './schema.js';

/** Repository functions for grants, group members, daily usage, access audit events and approval requests. */

export interface GrantRow {
  id: number;
  subject: string;
  role: string;
  /** 0: every set. */
  set_id: number;
  created_by: string;
  created_at: string;
}

const toGrant = (row: { id: number | string; subject: string; role: string; set_id: number | string; created_by: string; created_at: string }): GrantRow => ({
  ...row,
  id: Number(row.id),
  set_id: Number(row.set_id),
});

export async function listGrants(db: Db): Promise<GrantRow[]> {
  const rows = await db.selectFrom('access_grants').selectAll().orderBy('set_id').orderBy('subject').execute();
  return rows.map(toGrant);
}

/** Grants that could apply to these subjects (a user and their groups). */
export async function grantsOf(db: Db, subjects: string[]): Promise<GrantRow[]> {
  if (subjects.length === 0) return [];
  const rows = await db.selectFrom('access_grants').selectAll().where('subject', 'in', subjects).execute();
  return rows.map(toGrant);
}

export async function groupGrantSubjects(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('access_grants').select('subject').distinct().where('subject', 'like', 'S%').execute();
  return rows.map((r) => r.subject);
}

export async function countOwnerGrants(db: Db): Promise<number> {
  const row = await db.selectFrom('access_grants').select((eb) => eb.fn.countAll<number | string>().as('n')).where('role', '=', 'owner').executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Insert or change the role of (subject, set); returns the role it had before, if any. */
export async function upsertGrant(db: Db, grant: Omit<GrantRow, 'id'>): Promise<string | undefined> {
  const before = await db.selectFrom('access_grants').select('role').where('subject', '=', grant.subject).where('set_id', '=', grant.set_id).executeTakeFirst();
  await db.insertInto('access_grants').values(grant)
    .onConflict((oc) => oc.columns(['subject', 'set_id']).doUpdateSet({ role: grant.role, created_by: grant.created_by, created_at: grant.created_at }))
    .execute();
  return before?.role;
}

/** Delete the subject's grants at these scopes; returns the rows deleted. */
export async function deleteGrants(db: Db, subject: string, setIds: number[]): Promise<GrantRow[]> {
  const rows = await db.selectFrom('access_grants').selectAll().where('subject', '=', subject).where('set_id', 'in', setIds).execute();
  if (rows.length > 0) await db.deleteFrom('access_grants').where('subject', '=', subject).where('set_id', 'in', setIds).execute();
  return rows.map(toGrant);
}

export async function getGroupMembers(db: Db, groupId: string): Promise<{ members: string[]; fetched_at: string } | undefined> {
  const row = await db.selectFrom('access_groups').selectAll().where('group_id', '=', groupId).executeTakeFirst();
  return row && { members: row.members === '' ? [] : row.members.split(','), fetched_at: row.fetched_at };
}

export async function putGroupMembers(db: Db, groupId: string, members: string[], fetchedAt: string): Promise<void> {
  const value = members.join(',');
  await db.insertInto('access_groups').values({ group_id: groupId, members: value, fetched_at: fetchedAt })
    .onConflict((oc) => oc.column('group_id').doUpdateSet({ members: value, fetched_at: fetchedAt }))
    .execute();
}

export async function usageOn(db: Db, userId: string, day: string): Promise<number> {
  const row = await db.selectFrom('access_usage').select('count').where('user_id', '=', userId).where('day', '=', day).executeTakeFirst();
  return Number(row?.count ?? 0);
}

/**
 * Count `amount` more codes for the person today, only if that keeps them
 * within `limit` (undefined: no limit). One conditional UPDATE: two instances
 * reserving at once cannot both pass. Returns whether it was counted.
 */
export async function reserveUsage(db: Db, userId: string, day: string, amount: number, limit: number | undefined): Promise<boolean> {
  await db.insertInto('access_usage').values({ user_id: userId, day, count: 0 }).onConflict((oc) => oc.columns(['user_id', 'day']).doNothing()).execute();
  let update = db.updateTable('access_usage').set((eb) => ({ count: eb('count', '+', amount) })).where('user_id', '=', userId).where('day', '=', day);
  if (limit !== undefined) update = update.where((eb) => eb(eb('count', '+', amount), '<=', limit));
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseUsage(db: Db, userId: string, day: string, amount: number): Promise<void> {
  await db.updateTable('access_usage').set((eb) => ({ count: eb('count', '-', amount) })).where('user_id', '=', userId).where('day', '=', day).execute();
}

export interface AccessEventRow {
  id: number;
  set_id: number | null;
  action: string;
  actor: string;
  detail: Record<string, unknown>;
  created_at: string;
}

export async function insertAccessEvent(db: Db, event: Omit<AccessEventRow, 'id'>): Promise<void> {
  await db.insertInto('access_events').values({ ...event, detail: JSON.stringify(event.detail) }).execute();
}

/** Newest first. */
export async function listAccessEvents(db: Db, limit: number, offset = 0): Promise<AccessEventRow[]> {
  const rows = await db.selectFrom('access_events').selectAll().orderBy('id', 'desc').limit(limit).offset(offset).execute();
  return rows.map((row) => ({ ...row, id: Number(row.id), set_id: row.set_id === null ? null : Number(row.set_id), detail: JSON.parse(row.detail) as Record<string, unknown> }));
}

export async function countAccessEvents(db: Db): Promise<number> {
  const row = await db.selectFrom('access_events').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** An approval request as read (service/approvals.ts parses its JSON columns). */
export type ApprovalRow = Selectable<ApprovalRequestsTable>;

const toApproval = (row: Record<string, any>): ApprovalRow => ({
  ...(row as ApprovalRow),
  id: Number(row.id),
  set_id: Number(row.set_id),
  amount: Number(row.amount),
  batch_id: row.batch_id === null ? null : Number(row.batch_id),
});

export async function insertApproval(db: Db, row: Omit<ApprovalRow, 'id'>): Promise<ApprovalRow> {
  const inserted = await db.insertInto('approval_requests').values(row).returningAll().executeTakeFirstOrThrow();
  return toApproval(inserted);
}

export async function getApproval(db: Db, id: number): Promise<ApprovalRow | undefined> {
  const row = await db.selectFrom('approval_requests').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toApproval(row);
}

export async function listPendingApprovals(db: Db, now: string, limit = 50): Promise<ApprovalRow[]> {
  const rows = await db.selectFrom('approval_requests').selectAll().where('status', '=', 'pending').where('expires_at', '>', now).orderBy('id').limit(limit).execute();
  return rows.map(toApproval);
}

/** Pending requests past their time: the sweep marks them expired. */
export async function listOverdueApprovals(db: Db, now: string): Promise<ApprovalRow[]> {
  const rows = await db.selectFrom('approval_requests').selectAll().where('status', '=', 'pending').where('expires_at', '<=', now).orderBy('id').limit(500).execute();
  return rows.map(toApproval);
}

/**
 * Move a pending request to its outcome. The WHERE makes the first decision
 * win: of two managers clicking at once, on any instances, exactly one
 * UPDATE changes the row. Returns whether this call did.
 */
export async function settleApproval(db: Db, id: number, change: { status: string; decided_by: string | null; decision_reason: string | null; decided_at: string }, notExpiredAt?: string): Promise<boolean> {
  let update = db.updateTable('approval_requests').set(change).where('id', '=', id).where('status', '=', 'pending');
  if (notExpiredAt !== undefined) update = update.where('expires_at', '>', notExpiredAt);
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function setApprovalBatch(db: Db, id: number, batchId: number): Promise<void> {
  await db.updateTable('approval_requests').set({ batch_id: batchId }).where('id', '=', id).execute();
}

export async function setApprovalMessages(db: Db, id: number, messages: string): Promise<void> {
  await db.updateTable('approval_requests').set({ messages }).where('id', '=', id).execute();
}
