import { randomBytes } from 'node:crypto';
import { PromoError } from '../domain/errors.js';
import type { Db } from '../store/db.js';
import { inWriteTransaction } from '../store/transactions.js';
import { getOrCreateSetting } from '../store/settings.js';
import { claimDecision, deleteDecision, deleteDecisionsBefore, findDecision, setDecisionRedemption, type WhmcsDecision } from '../store/whmcs-decisions.js';
import { finishPrepared, recoverPrepared, type PreparedUseChange } from '../whmcs/xa.js';
import { nowIso, type Core } from './core.js';

/**
 * A redemption or rollback with WHMCS connected changes two databases: a use
 * in WHMCS's tblpromotions, the redemption in promoset's. promoset coordinates
 * a two-phase commit, with its own database as the log:
 *
 *  1. WHMCS prepares the change under a fresh xid (whmcs/xa.ts): durable,
 *     invisible, the row locked (its guard, uses < maxuses, has decided);
 *  2. promoset's transaction records the redemption (or the rollback) AND the
 *     decision 'commit' for that xid; that COMMIT is the decision point;
 *  3. XA COMMIT; or, if promoset refused or failed, XA ROLLBACK.
 *
 * A crash or cut anywhere leaves a prepared xid, which repair (each instance,
 * at start and every few seconds) settles once it is older than the prepared
 * timeout: it writes 'rollback' unless a decision is written, then finishes
 * the xid as the written decision says. Whoever writes the decision first
 * wins (its primary key), so a live request that repair gave up on answers
 * 503 and writes nothing, and one that committed is never undone. Both
 * databases thus end up agreeing with what the client was told.
 */

/**
 * An xid is `promoset:{install}:{ms}:{random}`. XA RECOVER lists every prepared
 * transaction of the MariaDB server, so `install` (random, kept in promoset's
 * settings) keeps repair to this promoset database's own; the time is what
 * repair's timeout counts from.
 */
const XID_HEAD = 'promoset:';
const installIds = new WeakMap<Db, Promise<string>>();

async function xidPrefix(core: Core): Promise<string> {
  let id = installIds.get(core.db);
  if (id === undefined) {
    id = getOrCreateSetting(core.db, 'whmcs_xa_install', () => randomBytes(4).toString('hex'));
    installIds.set(core.db, id);
    id.catch(() => installIds.delete(core.db));
  }
  return `${XID_HEAD}${await id}:`;
}
/** Repair looks for prepared changes left behind this often. */
export const REPAIR_INTERVAL_MS = 2_000;
/** A prepared change holds WHMCS's row lock (its own checkout waits): settled after 10 s at most. */
const MAX_PREPARED_TIMEOUT_MS = 10_000;
/** Decisions outlive any prepared change they could settle by far. */
const KEEP_DECISIONS_MS = 7 * 24 * 60 * 60 * 1000;

export async function newXid(core: Core): Promise<string> {
  return `${await xidPrefix(core)}${Date.now()}:${randomBytes(8).toString('hex')}`;
}

function preparedAt(prefix: string, xid: string): number | undefined {
  const time = Number(xid.slice(prefix.length).split(':')[0]);
  return Number.isFinite(time) ? time : undefined;
}

export function preparedTimeoutMs(core: Core): number {
  return Math.min(MAX_PREPARED_TIMEOUT_MS, core.whmcsPendingTimeoutMs);
}

const decisionLost = () => new PromoError('billing_unavailable', 'The billing system (WHMCS) was too slow to confirm this change, so it was cancelled and nothing was counted. Please try again.', {}, { retryAfterSeconds: 1 });

/**
 * Step 2's decision around `work`, in promoset's transaction `trx`: 'commit'
 * is written first (lost to repair: 503, nothing written); a refusal
 * (PromoError) by `work` takes it back, so the refusal writes nothing.
 */
export async function underCommitDecision<T>(core: Core, trx: Db, xid: string, work: () => Promise<T>, redemptionOf: (result: T) => number): Promise<T> {
  if (!(await claimDecision(trx, xid, 'commit', nowIso(core)))) throw decisionLost();
  try {
    const result = await work();
    await setDecisionRedemption(trx, xid, redemptionOf(result));
    return result;
  } catch (error) {
    if (error instanceof PromoError) await deleteDecision(trx, xid);
    throw error;
  }
}

/**
 * Step 3 after promoset's transaction threw. A refusal wrote no decision, so
 * the change is rolled back. Anything else may have committed after all (a
 * connection lost during COMMIT): the decision is settled as repair would
 * settle it, and returned; undefined when promoset could not be reached (the
 * xid is left to repair).
 */
export async function settleAfterFailure(core: Core, change: PreparedUseChange, error: unknown): Promise<{ decision: WhmcsDecision; redemptionId: number | null } | undefined> {
  if (error instanceof PromoError) {
    await change.rollback();
    return { decision: 'rollback', redemptionId: null };
  }
  let decided: { decision: WhmcsDecision; redemptionId: number | null } | undefined;
  try {
    decided = await decide(core, change.xid);
  } catch {
    change.detach();
    return undefined;
  }
  if (decided.decision === 'commit') await change.commit();
  else await change.rollback();
  return decided;
}

/** 'rollback' unless a decision is written; the written one. */
async function decide(core: Core, xid: string): Promise<{ decision: WhmcsDecision; redemptionId: number | null }> {
  return inWriteTransaction(core.db, async (trx) => {
    await claimDecision(trx, xid, 'rollback', nowIso(core));
    const found = await findDecision(trx, xid);
    if (!found) throw new Error(`the decision on ${xid} vanished`);
    return found;
  });
}

/**
 * Whether a change of this promoset is prepared in WHMCS and not yet settled.
 * Its row reads as before the change there until it is: the uses sync
 * (billing.ts) must not copy that reading over the use promoset recorded.
 */
export async function hasPreparedChanges(core: Core): Promise<boolean> {
  if (!core.whmcs) return false;
  return (await recoverPrepared(core.whmcs.db, await xidPrefix(core))).length > 0;
}

export interface PreparedRepairReport {
  committed: number;
  rolledBack: number;
}

/**
 * Settle promoset's prepared changes in WHMCS older than the timeout: their
 * process died or lost its connection. One still attached to a live
 * connection is left to it (it reads the decision repair wrote). Safe on
 * several instances at once.
 */
export async function repairPreparedChanges(core: Core): Promise<PreparedRepairReport> {
  const report: PreparedRepairReport = { committed: 0, rolledBack: 0 };
  const whmcs = core.whmcs;
  if (!whmcs) return report;
  const cutoff = Date.now() - preparedTimeoutMs(core);
  const prefix = await xidPrefix(core);
  for (const xid of await recoverPrepared(whmcs.db, prefix)) {
    const at = preparedAt(prefix, xid);
    if (at === undefined || at > cutoff) continue;
    const { decision } = await decide(core, xid);
    if ((await finishPrepared(whmcs.db, xid, decision)) === 'done') report[decision === 'commit' ? 'committed' : 'rolledBack']++;
  }
  if (Date.now() - lastPurge > 60 * 60 * 1000) {
    lastPurge = Date.now();
    await deleteDecisionsBefore(core.db, new Date(Date.now() - KEEP_DECISIONS_MS).toISOString());
  }
  return report;
}

let lastPurge = 0;
