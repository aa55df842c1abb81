import { PromoError } from '../domain/errors.js';
import { inWriteTransaction } from '../store/transactions.js';
import {
  countPendingBatches, countUnpublishedPromotions, deleteWhmcsConnection, forgetWhmcsIds, insertWhmcsConnection, listWhmcsConnectionEvents,
  readWhmcsConnection, recordWhmcsConnectionEvent, type WhmcsConnectionRecord,
} from '../store/whmcs-connection.js';
import { probeWhmcs, type WhmcsFailure, type WhmcsIdentity } from '../whmcs/probe.js';
import { nowIso, type Core } from './core.js';

/**
 * Connected to WHMCS is a fact of the deployment, not of one process.
 *
 * - promoset's database records which WHMCS it writes to (whmcs_connection:
 *   host and database for people; tblpromotions' CREATE_TIME as the identity
 *   check, since one server may be reached by several host names and two
 *   installs may share a database name). The first process that reaches WHMCS
 *   with WHMCS_DATABASE_URL set records it.
 * - Every issue, redeem and void asks `assertBillingReady` first: a process
 *   whose WHMCS_DATABASE_URL is missing, or names another WHMCS, refuses with
 *   503 billing_not_configured (the CLI exits 1 with the same sentence), so no
 *   code is ever handed out that WHMCS's checkout would not accept. The record
 *   is re-read at most once a second, so `reconnect` and `disconnect` reach
 *   running servers within a second.
 * - Only `promoset whmcs reconnect --yes` and `disconnect --yes` change the
 *   record, each audited (whmcs_connection_events). Both forget the
 *   tblpromotions ids recorded so far: they belong to the old database.
 *
 * One id space in replies (README "Connect WHMCS"): a promotion WHMCS holds
 * shows its tblpromotions id. While a connection is recorded, a promotion
 * WHMCS does not hold yet (issued before the connection, not yet backfilled)
 * shows LOCAL_ID_OFFSET + promoset's own id: tblpromotions.id is a signed
 * INT, never above 2,147,483,647, so the two ranges cannot meet. Without a
 * connection there is only promoset's own id space. `promoset whmcs
 * backfill` (whmcs-backfill.ts) then gives every promotion its row and id.
 */

/** 2^31: above any tblpromotions id (int(10) signed). */
export const LOCAL_ID_OFFSET = 2_147_483_648;

/** How long a read of the record is trusted. */
const RECORD_MAX_AGE_MS = 1_000;

/** The recorded connection, read again when older than a second (never inside a transaction: SQLite has one connection). */
export async function connectionRecord(core: Core, maxAgeMs = RECORD_MAX_AGE_MS): Promise<WhmcsConnectionRecord | undefined> {
  const cached = core.whmcsLink.record;
  const now = Date.now();
  if (cached && now - cached.readAt < maxAgeMs) return cached.value;
  const value = await readWhmcsConnection(core.db);
  core.whmcsLink.record = { value, readAt: now };
  if (value) core.whmcsLink.sawRecord = true;
  return value;
}

/** The id a reply shows for a stored promotion (see the id rule above). Uses the cached record: callers refreshed it. */
export function shownId(core: Core, row: { shown_id: number; row_id: number; whmcs_id?: number | null }): number {
  if (row.whmcs_id != null) return row.whmcs_id;
  return core.whmcsLink.record?.value ? row.row_id + LOCAL_ID_OFFSET : row.row_id;
}

/** What is wrong with WHMCS, in a sentence that says what to check; `outcome` says what did not happen. */
export function whmcsFailureSentence(core: Pick<Core, 'whmcsLink'> | undefined, failure: WhmcsFailure, detail: string, outcome: string): string {
  const target = core?.whmcsLink.target;
  const where = target ? `database "${target.database}" on ${target.host}` : 'the database in WHMCS_DATABASE_URL';
  switch (failure) {
    case 'unreachable':
      return `The billing system (WHMCS) could not be reached, so ${outcome}: ${where} did not answer (${detail}). Check the host and port in WHMCS_DATABASE_URL and that the database server is up and reachable from promoset; then try again in a minute.`;
    case 'credentials_refused':
      return `The billing system (WHMCS) refused promoset's login to ${where} (${detail}), so ${outcome}. Check the user name and password in WHMCS_DATABASE_URL.`;
    case 'wrong_database':
      return `WHMCS_DATABASE_URL names ${where}, which has no tblpromotions table with WHMCS's columns (${detail}), so ${outcome}. Check that the URL names WHMCS's own database.`;
    case 'missing_grants':
      return `promoset's WHMCS user lacks a grant on ${where} (${detail}), so ${outcome}. Grant it SELECT, INSERT, UPDATE on ${target?.database ?? 'the WHMCS database'}.tblpromotions (and check that the table is there).`;
  }
}

function describe(record: WhmcsConnectionRecord): string {
  return `database "${record.database_name}" on ${record.host}`;
}

/** This process's WHMCS: what its tblpromotions is, probed once and remembered. */
async function ownIdentity(core: Core, outcome: string): Promise<WhmcsIdentity> {
  if (core.whmcsLink.identity) return core.whmcsLink.identity;
  const probe = await probeWhmcs(core.whmcs!.db);
  if (probe.state !== 'ok') throw new PromoError('billing_unavailable', whmcsFailureSentence(core, probe.state, probe.detail, outcome), {}, { retryAfterSeconds: 30 });
  core.whmcsLink.identity = probe.identity;
  return probe.identity;
}

function sameWhmcs(record: WhmcsConnectionRecord, identity: WhmcsIdentity): boolean {
  return record.database_name === identity.database && record.table_created === identity.tableCreated;
}

export interface ConnectOutcome {
  /** True when this call recorded the connection (the first process with WHMCS_DATABASE_URL). */
  recorded: boolean;
  /** Promotions WHMCS does not hold yet: `promoset whmcs backfill` writes them. */
  unpublished: number;
}

/**
 * At start-up (server and CLI) with WHMCS_DATABASE_URL set: learn what it
 * points at and, when the database records no connection yet, record this one.
 * Throws the named failure when WHMCS cannot be used (callers decide whether
 * that is fatal: WHMCS_REQUIRED), or billing_not_configured when another WHMCS
 * is recorded.
 */
export async function connectWhmcs(core: Core, actor: string, outcome = 'promoset could not connect to WHMCS'): Promise<ConnectOutcome> {
  const identity = await ownIdentity(core, outcome);
  let record = await connectionRecord(core, 0);
  let recorded = false;
  if (!record) {
    const target = core.whmcsLink.target!;
    const candidate: WhmcsConnectionRecord = { host: target.host, database_name: identity.database, table_created: identity.tableCreated, connected_at: nowIso(core), connected_by: actor };
    recorded = await inWriteTransaction(core.db, async (trx) => {
      if (!(await insertWhmcsConnection(trx, candidate))) return false;
      await recordWhmcsConnectionEvent(trx, { action: 'connected', actor, detail: { host: candidate.host, database: candidate.database_name, table_created: candidate.table_created }, created_at: candidate.connected_at });
      return true;
    });
    record = await connectionRecord(core, 0);
  }
  if (record && !sameWhmcs(record, identity)) throw differentDatabase(core, record, outcome === 'promoset could not connect to WHMCS' ? 'nothing can be issued, redeemed or voided' : outcome);
  return { recorded, unpublished: await countUnpublishedPromotions(core.db) };
}

function differentDatabase(core: Core, record: WhmcsConnectionRecord, outcome: string): PromoError {
  const target = core.whmcsLink.target!;
  return new PromoError(
    'billing_not_configured',
    `WHMCS_DATABASE_URL points at database "${target.database}" on ${target.host}, but promoset's database is connected to ${describe(record)} (tblpromotions created ${record.table_created}), so ${outcome}: fix WHMCS_DATABASE_URL, or switch to the new database with "promoset whmcs reconnect --yes".`,
  );
}

/**
 * The gate before every issue, redeem and void (see the top of this file).
 * `outcome` says what did not happen, e.g. "no code was issued".
 */
export function assertBillingReady(core: Core, outcome = 'nothing was issued, redeemed or voided'): Promise<void> | undefined {
  // The usual case answers without a promise: no WHMCS here, and none recorded as of the last read (under a second old).
  const cached = core.whmcsLink.record;
  if (!core.whmcs && cached && cached.value === undefined && Date.now() - cached.readAt < RECORD_MAX_AGE_MS) return undefined;
  return checkBillingReady(core, outcome);
}

async function checkBillingReady(core: Core, outcome: string): Promise<void> {
  const record = await connectionRecord(core);
  if (!core.whmcs) {
    if (!record) return;
    throw new PromoError(
      'billing_not_configured',
      `promoset's database is connected to WHMCS (${describe(record)}), but WHMCS_DATABASE_URL is not set in this process, so ${outcome}: set WHMCS_DATABASE_URL to that database (or stop using WHMCS with "promoset whmcs disconnect --yes").`,
    );
  }
  if (!record) {
    if (core.whmcsLink.sawRecord) {
      throw new PromoError(
        'billing_not_configured',
        `promoset's database was disconnected from WHMCS ("promoset whmcs disconnect"), but WHMCS_DATABASE_URL is still set in this process, so ${outcome}: unset it and restart, or restart with it to connect again.`,
      );
    }
    // WHMCS was unusable when this process started: connect now.
    await connectWhmcs(core, 'first use with WHMCS_DATABASE_URL', outcome);
    return;
  }
  const identity = await ownIdentity(core, outcome);
  if (!sameWhmcs(record, identity)) throw differentDatabase(core, record, outcome);
}

export interface WhmcsStatus {
  /** ok | off | not_configured | different_database | disconnected | unreachable | credentials_refused | wrong_database | missing_grants */
  state: string;
  /** What is wrong and what to check; absent when ok or off. */
  message?: string;
  record?: WhmcsConnectionRecord;
}

/** For /readyz and `promoset whmcs status`: probes WHMCS now (nothing cached), changes nothing. */
export async function whmcsStatus(core: Core): Promise<WhmcsStatus> {
  const record = await connectionRecord(core, 0);
  if (!core.whmcs) {
    if (!record) return { state: 'off' };
    return { state: 'not_configured', record, message: `promoset's database is connected to WHMCS (${describe(record)}), but WHMCS_DATABASE_URL is not set in this process, so it refuses to issue, redeem or void: set WHMCS_DATABASE_URL to that database.` };
  }
  const probe = await probeWhmcs(core.whmcs.db);
  if (probe.state !== 'ok') return { state: probe.state, record, message: whmcsFailureSentence(core, probe.state, probe.detail, 'issuing, redeeming and voiding answer 503') };
  core.whmcsLink.identity = probe.identity;
  if (!record) {
    if (core.whmcsLink.sawRecord) return { state: 'disconnected', message: 'promoset\'s database was disconnected from WHMCS, but WHMCS_DATABASE_URL is still set in this process: unset it and restart, or restart with it to connect again.' };
    return { state: 'ok' };
  }
  if (!sameWhmcs(record, probe.identity)) return { state: 'different_database', record, message: differentDatabase(core, record, 'it refuses to issue, redeem or void').message };
  return { state: 'ok', record };
}

async function refuseWhilePending(core: Core, what: string): Promise<void> {
  const pending = await countPendingBatches(core.db);
  if (pending > 0) {
    throw new PromoError('conflict', `${pending} batch(es) are still on their way into the current WHMCS, so nothing was ${what}: stop the servers, wait for them to finish (repair settles a crashed one after twice WHMCS_PENDING_TIMEOUT_SECONDS), then try again.`);
  }
}

/** `promoset whmcs reconnect --yes`: record WHMCS_DATABASE_URL's database as the one, forgetting the old one's ids. */
export async function reconnectWhmcs(core: Core, actor: string, options: { yes: boolean }): Promise<{ changed: boolean; record: WhmcsConnectionRecord; previous?: WhmcsConnectionRecord; forgotten: number; unpublished: number }> {
  if (!options.yes) {
    throw new PromoError('bad_request', 'Reconnecting points promoset at the WHMCS database in WHMCS_DATABASE_URL and forgets every tblpromotions id recorded for the old one; nothing was changed: run "promoset whmcs reconnect --yes" to do it.');
  }
  if (!core.whmcs) throw new PromoError('bad_request', 'WHMCS_DATABASE_URL is not set, so there is nothing to reconnect to: set it to the WHMCS database, then run "promoset whmcs reconnect --yes".');
  core.whmcsLink.identity = undefined;
  const identity = await ownIdentity(core, 'nothing was changed');
  const previous = await connectionRecord(core, 0);
  if (previous && sameWhmcs(previous, identity)) return { changed: false, record: previous, forgotten: 0, unpublished: await countUnpublishedPromotions(core.db) };
  await refuseWhilePending(core, 'changed');
  const target = core.whmcsLink.target!;
  const record: WhmcsConnectionRecord = { host: target.host, database_name: identity.database, table_created: identity.tableCreated, connected_at: nowIso(core), connected_by: actor };
  const forgotten = await inWriteTransaction(core.db, async (trx) => {
    await deleteWhmcsConnection(trx);
    await insertWhmcsConnection(trx, record);
    const n = await forgetWhmcsIds(trx);
    await recordWhmcsConnectionEvent(trx, {
      action: previous ? 'reconnected' : 'connected', actor, created_at: record.connected_at,
      detail: { from: previous ? { host: previous.host, database: previous.database_name, table_created: previous.table_created } : null, to: { host: record.host, database: record.database_name, table_created: record.table_created }, forgotten_ids: n },
    });
    return n;
  });
  core.whmcsLink.record = undefined;
  await connectionRecord(core, 0);
  return { changed: true, record, previous, forgotten, unpublished: await countUnpublishedPromotions(core.db) };
}

/** `promoset whmcs disconnect --yes`: promoset stops writing to WHMCS; every promotion shows promoset's own id again. */
export async function disconnectWhmcs(core: Core, actor: string, options: { yes: boolean }): Promise<{ changed: boolean; previous?: WhmcsConnectionRecord; forgotten: number }> {
  if (!options.yes) {
    throw new PromoError('bad_request', 'Disconnecting stops promoset writing codes to WHMCS (codes issued afterwards are unknown to WHMCS\'s checkout) and forgets every tblpromotions id; nothing was changed: run "promoset whmcs disconnect --yes" to do it.');
  }
  const previous = await connectionRecord(core, 0);
  if (!previous) return { changed: false, forgotten: 0 };
  await refuseWhilePending(core, 'changed');
  const forgotten = await inWriteTransaction(core.db, async (trx) => {
    await deleteWhmcsConnection(trx);
    const n = await forgetWhmcsIds(trx);
    await recordWhmcsConnectionEvent(trx, { action: 'disconnected', actor, created_at: nowIso(core), detail: { host: previous.host, database: previous.database_name, table_created: previous.table_created, forgotten_ids: n } });
    return n;
  });
  core.whmcsLink.record = undefined;
  return { changed: true, previous, forgotten };
}

export async function whmcsConnectionHistory(core: Core, limit = 20) {
  return listWhmcsConnectionEvents(core.db, limit);
}
