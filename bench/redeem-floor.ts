/**
 * The redemption floor: the least a durable redemption must do, and nothing
 * else. A bare node:http server on promoset's own schema (the bench creates
 * it with promoset's migrations, indexes included) that, per POST
 * /sets/{token}/redemptions with {"code": …}, runs promoset's conditional
 * UPDATE (not voided, within the batch's dates, under its maxuses) and the
 * redemption INSERT, and answers {result, redemption_id, promotion} in
 * WHMCS's shape once they are committed. Requests of one event-loop turn
 * share one transaction, one group in flight (floor-server.ts), as in promoset;
 * on PostgreSQL a group is one statement (POSTGRES_FUNCTION), as in promoset.
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

/**
 * The PostgreSQL floor's one statement per group: per member, in order, the
 * same UPDATE and INSERT as separate statements (so a code named twice counts
 * twice), in a function made once at start-up, as promoset's migration 020
 * makes its own (the batch joined with UPDATE … FROM, as there). Called
 * outside BEGIN/COMMIT, one call is one transaction, as promoset's group is
 * when no set in it has a webhook.
 */
const POSTGRES_FUNCTION = `
create or replace function floor_redeem(codes text[], set_ids integer[], day text, created_at text)
returns table (id integer, code text, uses integer, batch_id integer, redemption_id integer)
language plpgsql
set plan_cache_mode = force_generic_plan
as $fn$
#variable_conflict use_column
declare
  counted record;
begin
  for i in 1 .. coalesce(array_length(codes, 1), 0) loop
    update promotions p set uses = p.uses + 1
      from batches b
      where lower(p.code) = codes[i] and p.set_id = set_ids[i] and p.voided_at is null
        and b.id = p.batch_id
        and (b.maxuses = 0 or p.uses < b.maxuses)
        and (b.startdate = '${NO_DATE}' or b.startdate <= day)
        and (b.expirationdate = '${NO_DATE}' or b.expirationdate >= day)
      returning p.id, p.code, p.uses, p.batch_id into counted;
    id := null; code := null; uses := null; batch_id := null; redemption_id := null;
    if found then
      id := counted.id; code := counted.code; uses := counted.uses; batch_id := counted.batch_id;
      insert into redemptions (set_id, promotion_id, client_id, once_key, request_key, created_by, created_at)
        values (set_ids[i], counted.id, null, null, null, 'floor', created_at) returning redemptions.id into redemption_id;
    end if;
    return next;
  end loop;
end
$fn$`;

/** pg, one statement per group (POSTGRES_FUNCTION): no BEGIN or COMMIT round trips, none per member. */
function postgresFloor(url: string): (group: FloorRequest[]) => Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {});
  const created = pool.query(POSTGRES_FUNCTION);
  const terms = new Map<number, Terms>();
  return async (group) => {
    await created;
    const client = await pool.connect();
    try {
      const members = byCode(group);
      const day = new Date().toISOString().slice(0, 10);
      const createdAt = new Date().toISOString();
      const { rows } = await client.query<Counted & { redemption_id: number | null }>({
        name: 'floor-redeem',
        text: 'select * from floor_redeem($1::text[], $2::integer[], $3, $4)',
        values: [members.map((m) => m.code), members.map((m) => m.request.setId), day, createdAt],
      });
      const outcomes = rows.map((r): Outcome => (r.redemption_id === null ? undefined : { counted: r, redemptionId: r.redemption_id }));
      for (const outcome of outcomes) {
        const batchId = outcome && Number(outcome.counted.batch_id);
        if (batchId && !terms.has(batchId)) terms.set(batchId, (await client.query<Terms>(numbered(BATCH_TERMS), [batchId])).rows[0]);
      }
      members.forEach(({ request }, i) => reply(request.res, outcomes[i], outcomes[i] && terms.get(Number(outcomes[i]!.counted.batch_id))));
    } catch (error) {
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
