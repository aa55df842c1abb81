import type { Db } from './db.js';

/**
 * The coordinator's log of the two-phase commit with WHMCS: one row per
 * prepared xid, 'commit' or 'rollback'. The primary key makes the first
 * writer win (service/whmcs-two-phase.ts).
 */

export type WhmcsDecision = 'commit' | 'rollback';

/** Write `decision` unless one is written: true when this call wrote it. */
export async function claimDecision(db: Db, xid: string, decision: WhmcsDecision, createdAt: string): Promise<boolean> {
  const row = await db.insertInto('whmcs_decisions').values({ xid, decision, redemption_id: null, created_at: createdAt })
    .onConflict((oc) => oc.column('xid').doNothing()).returning('xid').executeTakeFirst();
  return row !== undefined;
}

/** The redemption a 'commit' belongs to, in the same transaction. */
export async function setDecisionRedemption(db: Db, xid: string, redemptionId: number): Promise<void> {
  await db.updateTable('whmcs_decisions').set({ redemption_id: redemptionId }).where('xid', '=', xid).execute();
}

/** Undo this transaction's own claim (a refusal writes nothing). */
export async function deleteDecision(db: Db, xid: string): Promise<void> {
  await db.deleteFrom('whmcs_decisions').where('xid', '=', xid).execute();
}

export async function findDecision(db: Db, xid: string): Promise<{ decision: WhmcsDecision; redemptionId: number | null } | undefined> {
  const row = await db.selectFrom('whmcs_decisions').select(['decision', 'redemption_id']).where('xid', '=', xid).executeTakeFirst();
  return row && { decision: row.decision, redemptionId: row.redemption_id };
}

/** Decisions long past any prepared transaction they could settle. */
export async function deleteDecisionsBefore(db: Db, createdBefore: string): Promise<void> {
  await db.deleteFrom('whmcs_decisions').where('created_at', '<', createdBefore).execute();
}
