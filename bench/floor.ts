/**
 * The floor: the least a set-URL POST must do, and nothing else. A bare
 * node:http server on promoset's own schema (the bench creates it with
 * promoset's migrations, indexes included) that, per request, reads the set
 * row, inserts a batch row and a promotion row, and answers seed 001's JSON
 * once they are committed. Requests that arrive in the same event-loop turn
 * share one transaction (group commit), as in promoset. On PostgreSQL a group
 * is one statement, as promoset's is: the set rows, as last read, are checked
 * (updated_at) in it rather than read again.
 *
 * No token check, allowlist, rate limit, idempotency, validation or error
 * shapes: `npm run bench` reports promoset's req/s as a share of this one's,
 * so the gap is what those guarantees (and promoset's structure) cost.
 *
 * Run: node dist/bench/floor.js  with FLOOR_DATABASE_URL (a SQLite path or a
 * postgres:// URL); it prints {"port":N} on stdout once listening.
 */
import type { ServerResponse } from 'node:http';
import SQLite from 'better-sqlite3';
import { customAlphabet } from 'nanoid';
import pg from 'pg';
import { serialize } from 'php-serialize';
import { fail, serveInGroups, type FloorRequest } from './floor-server.js';

type Pending = FloorRequest;

type SetRow = Record<string, string | number | null>;

const BATCH_COLUMNS = [
  'set_id', 'kind', 'count', 'prefix_key', 'code_length', 'code_alphabet', 'created_by', 'created_at',
  'type', 'recurring', 'value', 'cycles', 'appliesto', 'requires', 'requiresexisting', 'startdate', 'expirationdate', 'maxuses',
  'lifetimepromo', 'applyonce', 'newsignups', 'existingclient', 'onceperclient', 'recurfor', 'upgrades', 'upgradeconfig', 'notes',
];

const randomPart = customAlphabet('23456789BCDFGHJKMNPQRSTWXZ', 8);

/** upgradeconfig is the one derived field that costs something; a set's rendering is kept while its row is unchanged. */
const upgradeConfigs = new Map<string, string>();
function upgradeConfigOf(set: SetRow): string {
  const key = `${set.upgrade_value}|${set.upgrades}|${set.upgrade_type}|${set.upgrade_discount_type}|${set.config_option_upgrades}`;
  let text = upgradeConfigs.get(key);
  if (text === undefined) {
    const options = String(set.config_option_upgrades);
    text = serialize({ value: set.upgrade_value, type: set.upgrades ? set.upgrade_type : '', discounttype: set.upgrade_discount_type, configoptions: options ? options.split(',') : '' });
    upgradeConfigs.set(key, text);
  }
  return text;
}

/** The batch row's values for one request on `set`, in BATCH_COLUMNS order. */
function batchValues(set: SetRow, createdAt: string): (string | number)[] {
  return [
    set.id as number, 'single', 1, '', 8, 'default', 'floor', createdAt,
    set.promo_code_type as string, set.recurring as number, set.promo_value as string, set.cycles as string, set.applies_to as string, set.requires as string,
    set.requires_existing as number, (set.start_date as string | null) ?? '0000-00-00', (set.expiration_date as string | null) ?? '0000-00-00', set.max_uses as number,
    set.lifetime_promo as number, set.apply_once as number, set.new_signups as number, set.existing_client as number, set.once_per_client as number,
    set.recur_for as number, set.upgrades as number, upgradeConfigOf(set), set.notes as string,
  ];
}

/** Seed 001's POST response. */
function reply(res: ServerResponse, id: number, code: string, b: (string | number)[]): void {
  const text = JSON.stringify({
    id, code, type: b[8], recurring: b[9], value: b[10], cycles: b[11], appliesto: b[12], requires: b[13], requiresexisting: b[14],
    startdate: b[15], expirationdate: b[16], maxuses: b[17], uses: 0, lifetimepromo: b[18], applyonce: b[19], newsignups: b[20],
    existingclient: b[21], onceperclient: b[22], recurfor: b[23], upgrades: b[24], upgradeconfig: b[25], notes: b[26],
  });
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** better-sqlite3, WAL and synchronous=NORMAL as promoset opens it, three prepared statements. */
function sqliteFloor(path: string): (group: Pending[]) => void {
  const db = new SQLite(path);
  db.pragma('busy_timeout = 10000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  const readSet = db.prepare('select * from promo_sets where id = ?');
  const insertBatch = db.prepare(`insert into batches (${BATCH_COLUMNS.join(', ')}) values (${BATCH_COLUMNS.map(() => '?').join(', ')})`);
  // A code already stored is skipped and drawn again, as promoset does: about one run in
  // twelve draws the same 8-character code twice, and without this its whole group failed.
  const insertPromotion = db.prepare('insert into promotions (set_id, batch_id, code) values (?, ?, ?) on conflict do nothing returning id');
  const writeGroup = db.transaction((group: Pending[]) => {
    const createdAt = new Date().toISOString();
    return group.map(({ setId }) => {
      const set = readSet.get(setId) as SetRow;
      const values = batchValues(set, createdAt);
      const batchId = insertBatch.run(values).lastInsertRowid;
      for (;;) {
        const code = randomPart();
        const row = insertPromotion.get(setId, batchId, code) as { id: number } | undefined;
        if (row) return { id: row.id, code, values };
      }
    });
  });
  return (group) => {
    let written;
    try {
      written = writeGroup.immediate(group);
    } catch (error) {
      for (const { res } of group) fail(res, error);
      return;
    }
    group.forEach(({ res }, i) => reply(res, written[i].id, written[i].code, written[i].values));
  };
}

/**
 * The PostgreSQL floor's one statement per group, as promoset's migration 021
 * makes its own: each set's batch row (as the floor last read the set) is
 * written only if the set's updated_at is still what the floor read (else no
 * rows, and the floor reads the set again); then a batch row per member and its
 * code. A code that collides fails the statement (nothing is written) and the
 * floor draws again. Called outside BEGIN/COMMIT, one call is one transaction.
 */
const POSTGRES_FUNCTION = `
create or replace function floor_issue(sets jsonb, set_ids integer[], codes text[])
returns table (batch_id integer, id integer)
language plpgsql as $fn$
#variable_conflict use_column
declare
  members integer := coalesce(array_length(set_ids, 1), 0);
  ids integer[];
  written integer;
begin
  if exists (select 1 from jsonb_array_elements(sets) as e(set)
             where not exists (select 1 from promo_sets s where s.id = (e.set ->> 'id')::integer and s.updated_at = e.set ->> 'updated_at')) then
    return;
  end if;
  ids := array(select nextval(pg_get_serial_sequence('batches', 'id')::regclass)::integer from generate_series(1, members) as g(i) order by g.i);
  insert into batches (id, ${BATCH_COLUMNS.join(', ')})
    select ids[u.n], ${BATCH_COLUMNS.map((c) => `r.${c}`).join(', ')}
    from unnest(set_ids) with ordinality as u(set_id, n)
      join jsonb_array_elements(sets) as e(set) on (e.set ->> 'id')::integer = u.set_id
      cross join lateral jsonb_populate_record(null::batches, e.set -> 'row') as r;
  return query insert into promotions as p (set_id, batch_id, code)
    select set_ids[g.i], ids[g.i], codes[g.i] from generate_series(1, members) as g(i)
    on conflict do nothing returning p.batch_id, p.id;
  get diagnostics written = row_count;
  if written < members then
    raise exception 'a code collided' using errcode = 'P0001';
  end if;
end
$fn$`;

/** pg, one statement per group (POSTGRES_FUNCTION): no BEGIN, COMMIT or set read round trips. */
function postgresFloor(url: string): (group: Pending[]) => Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {});
  const created = pool.query(POSTGRES_FUNCTION);
  // The set rows as last read: the statement checks each against its stored updated_at.
  const known = new Map<number, SetRow>();
  return async (group) => {
    await created;
    const client = await pool.connect();
    try {
      for (let attempt = 0; ; attempt++) {
        const missing = [...new Set(group.map((p) => p.setId))].filter((id) => attempt > 0 || !known.has(id));
        if (missing.length > 0) {
          for (const s of (await client.query<SetRow>('select * from promo_sets where id = any($1)', [missing])).rows) known.set(Number(s.id), s);
        }
        const createdAt = new Date().toISOString();
        const values = new Map<number, (string | number)[]>();
        for (const { setId } of group) if (!values.has(setId)) values.set(setId, batchValues(known.get(setId)!, createdAt));
        const sets = [...values].map(([setId, v]) => ({ id: setId, updated_at: known.get(setId)!.updated_at, row: Object.fromEntries(BATCH_COLUMNS.map((c, i) => [c, v[i]])) }));
        const codes = group.map(() => randomPart());
        let rows: { batch_id: number; id: number }[];
        try {
          ({ rows } = await client.query<{ batch_id: number; id: number }>({
            name: 'floor-issue',
            text: 'select * from floor_issue($1::jsonb, $2::integer[], $3::text[])',
            values: [JSON.stringify(sets), group.map((p) => p.setId), codes],
          }));
        } catch (error) {
          // A code already stored: nothing was written; drawn again, as promoset does.
          if ((error as { code?: string }).code === 'P0001' && attempt < 25) continue;
          throw error;
        }
        if (rows.length === 0 && group.length > 0) {
          if (attempt < 25) continue; // a set changed: read again
          throw new Error('the set kept changing');
        }
        const idByBatch = new Map(rows.map((r) => [Number(r.batch_id), Number(r.id)]));
        const batchIds = rows.map((r) => Number(r.batch_id)).sort((a, b) => a - b);
        group.forEach(({ res, setId }, i) => reply(res, idByBatch.get(batchIds[i])!, codes[i], values.get(setId)!));
        return;
      }
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
  const postgres = /^postgres(ql)?:\/\//i.test(url);
  const write: (group: Pending[]) => void | Promise<void> = postgres ? postgresFloor(url) : sqliteFloor(url);

  // Group commit as in promoset: one event-loop turn's requests, one group in flight (floor-server.ts).
  serveInGroups((req) => !/\/redemptions$/.test(req.url ?? ''), write);
}

main();
