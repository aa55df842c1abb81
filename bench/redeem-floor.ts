/**
 * The redemption floor: the least a durable redemption must do, and nothing
 * else. A bare node:http server on promoset's own schema (the bench creates
 * it with promoset's migrations, indexes included) that, per POST
 * /sets/{token}/redemptions with {"code": …}, runs promoset's conditional
 * UPDATE (not voided, within the batch's dates, under its maxuses) and the
 * redemption INSERT, and answers {result, redemption_id, promotion} in
 * WHMCS's shape once they are committed. Requests of one event-loop turn
 * share one transaction, one group in flight (floor-server.ts), as in promoset.
 *
 * No token check, set lookup, allowlist, binding, WHMCS gate, idempotency,
 * webhook event or log: `npm run bench` reports promoset's req/s as a share
 * of this one's. A batch's terms never change, so they are read once per batch.
 *
 * Run: node dist/bench/redeem-floor.js with FLOOR_DATABASE_URL (a SQLite path
 * or a postgres:// URL); it prints {"port":N} on stdout once listening.
 */
import type { ServerResponse } from 'node:http';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { fail, serveInGroups, type FloorRequest } from './floor-server.js';

const NO_DATE = '0000-00-00';

/** promoset's countUse statement (src/store/redemptions.ts), with the columns the reply needs. */
const COUNT_USE = `update promotions set uses = uses + 1
    where lower(code) = ? and set_id = ? and voided_at is null
      and exists (
        select 1 from batches b
        where b.id = promotions.batch_id
          and (b.maxuses = 0 or promotions.uses < b.maxuses)
          and (b.startdate = ? or b.startdate <= ?)
          and (b.expirationdate = ? or b.expirationdate >= ?))
    returning id, code, uses, batch_id`;

const INSERT_REDEMPTION = `insert into redemptions (set_id, promotion_id, client_id, once_key, request_key, created_by, created_at)
    values (?, ?, null, null, null, 'floor', ?) returning id`;

const TERMS = ['type', 'recurring', 'value', 'cycles', 'appliesto', 'requires', 'requiresexisting', 'startdate', 'expirationdate', 'maxuses',
  'lifetimepromo', 'applyonce', 'newsignups', 'existingclient', 'onceperclient', 'recurfor', 'upgrades', 'upgradeconfig', 'notes'];
const BATCH_TERMS = `select ${TERMS.join(', ')} from batches where id = ?`;

type Terms = Record<string, unknown>;
interface Counted {
  id: number | string;
  code: string;
  uses: number | string;
  batch_id: number | string;
}
type Outcome = { counted: Counted; redemptionId: number | string } | undefined;

const numbered = (text: string) => {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
};

function codeOf(body: Buffer): string {
  return String((JSON.parse(body.toString()) as { code?: unknown }).code ?? '').toLowerCase();
}

function reply(res: ServerResponse, outcome: Outcome, terms: Terms | undefined): void {
  if (!outcome || !terms) {
    res.writeHead(409, { 'content-type': 'application/json; charset=utf-8' }).end('{"result":"error","code":"promotion_used_up"}');
    return;
  }
  const { counted } = outcome;
  const text = JSON.stringify({ result: 'success', redemption_id: Number(outcome.redemptionId), promotion: { id: Number(counted.id), code: counted.code, ...terms, uses: Number(counted.uses) } });
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Members in code order, as promoset runs them (two writers then lock rows in one order). */
function byCode(group: FloorRequest[]): { request: FloorRequest; code: string }[] {
  return group.map((request) => ({ request, code: codeOf(request.body) })).sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
}

/** better-sqlite3 with promoset's pragmas, three prepared statements. */
function sqliteFloor(path: string): (group: FloorRequest[]) => void {
  const db = new SQLite(path);
  db.pragma('busy_timeout = 10000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  const countUse = db.prepare(COUNT_USE);
  const insertRedemption = db.prepare(INSERT_REDEMPTION);
  const batchTerms = db.prepare(BATCH_TERMS);
  const terms = new Map<number, Terms>();
  const termsOf = (batchId: number) => {
    let t = terms.get(batchId);
    if (t === undefined) terms.set(batchId, (t = batchTerms.get(batchId) as Terms));
    return t;
  };
  const writeGroup = db.transaction((members: { request: FloorRequest; code: string }[]) => {
    const day = new Date().toISOString().slice(0, 10);
    const createdAt = new Date().toISOString();
    return members.map(({ request, code }): Outcome => {
      const counted = countUse.get(code, request.setId, NO_DATE, day, NO_DATE, day) as Counted | undefined;
      if (!counted) return undefined;
      const { id } = insertRedemption.get(request.setId, counted.id, createdAt) as { id: number };
      return { counted, redemptionId: id };
    });
  });
  return (group) => {
    let members;
    let outcomes: Outcome[];
    try {
      members = byCode(group);
      outcomes = writeGroup.immediate(members);
    } catch (error) {
      for (const { res } of group) fail(res, error);
      return;
    }
    members.forEach(({ request }, i) => reply(request.res, outcomes[i], outcomes[i] && termsOf(Number(outcomes[i].counted.batch_id))));
  };
}

/** pg, one transaction per group: BEGIN, per member the UPDATE and the INSERT (named statements), COMMIT. */
function postgresFloor(url: string): (group: FloorRequest[]) => Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {});
  const countUse = numbered(COUNT_USE);
  const insertRedemption = numbered(INSERT_REDEMPTION);
  const terms = new Map<number, Terms>();
  return async (group) => {
    const client = await pool.connect();
    try {
      const members = byCode(group);
      await client.query('begin');
      const day = new Date().toISOString().slice(0, 10);
      const createdAt = new Date().toISOString();
      const outcomes: Outcome[] = [];
      for (const { request, code } of members) {
        const { rows } = await client.query<Counted>({ name: 'floor-count-use', text: countUse, values: [code, request.setId, NO_DATE, day, NO_DATE, day] });
        const counted = rows[0];
        if (!counted) {
          outcomes.push(undefined);
          continue;
        }
        const inserted = await client.query<{ id: string }>({ name: 'floor-insert-redemption', text: insertRedemption, values: [request.setId, counted.id, createdAt] });
        outcomes.push({ counted, redemptionId: inserted.rows[0].id });
      }
      await client.query('commit');
      for (const outcome of outcomes) {
        const batchId = outcome && Number(outcome.counted.batch_id);
        if (batchId && !terms.has(batchId)) terms.set(batchId, (await client.query<Terms>(numbered(BATCH_TERMS), [batchId])).rows[0]);
      }
      members.forEach(({ request }, i) => reply(request.res, outcomes[i], outcomes[i] && terms.get(Number(outcomes[i]!.counted.batch_id))));
    } catch (error) {
      await client.query('rollback').catch(() => {});
      for (const { res } of group) fail(res, error);
    } finally {
      client.release();
    }
  };
}

function main(): void {
  const url = process.env.FLOOR_DATABASE_URL;
  if (!url) throw new Error('FLOOR_DATABASE_URL is required');
  const write = /^postgres(ql)?:\/\//i.test(url) ? postgresFloor(url) : sqliteFloor(url);
  serveInGroups((req) => /\/redemptions$/.test(req.url ?? ''), write);
}

main();
