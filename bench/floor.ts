/**
 * The floor: the least a set-URL POST must do, and nothing else. A bare
 * node:http server on promoset's own schema (the bench creates it with
 * promoset's migrations, indexes included) that, per request, reads the set
 * row, inserts a batch row and a promotion row, and answers seed 001's JSON
 * once they are committed. Requests that arrive in the same event-loop turn
 * share one transaction (group commit), as in promoset.
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

/** pg, one transaction per group: the set rows in one SELECT, then one multi-row INSERT per table. */
function postgresFloor(url: string): (group: Pending[]) => Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {});
  const width = BATCH_COLUMNS.length;
  const batchSql = new Map<number, string>();
  const promotionSql = new Map<number, string>();
  const sqlFor = (cache: Map<number, string>, n: number, make: (n: number) => string) => {
    let text = cache.get(n);
    if (text === undefined) cache.set(n, (text = make(n)));
    return text;
  };
  const placeholders = (rows: number, columns: number) =>
    Array.from({ length: rows }, (_, r) => `(${Array.from({ length: columns }, (_, c) => `$${r * columns + c + 1}`).join(', ')})`).join(', ');
  return async (group) => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      const ids = [...new Set(group.map((p) => p.setId))];
      const sets = new Map((await client.query<SetRow>('select * from promo_sets where id = any($1)', [ids])).rows.map((s) => [Number(s.id), s]));
      const createdAt = new Date().toISOString();
      const values = group.map(({ setId }) => batchValues(sets.get(setId)!, createdAt));
      const batches = await client.query<{ id: number }>(sqlFor(batchSql, group.length, (n) => `insert into batches (${BATCH_COLUMNS.join(', ')}) values ${placeholders(n, width)} returning id`), values.flat());
      const batchIds = batches.rows.map((r) => Number(r.id)).sort((a, b) => a - b);
      const codes = group.map(() => randomPart());
      const idByBatch = new Map<number, number>();
      // A code already stored is skipped and drawn again, as promoset does.
      for (let missing = group.map((_, i) => i); missing.length > 0; ) {
        const params = missing.flatMap((i) => [group[i].setId, batchIds[i], codes[i]]);
        const promotions = await client.query<{ id: number; batch_id: number }>(sqlFor(promotionSql, missing.length, (n) => `insert into promotions (set_id, batch_id, code) values ${placeholders(n, 3)} on conflict do nothing returning id, batch_id`), params);
        for (const r of promotions.rows) idByBatch.set(Number(r.batch_id), Number(r.id));
        missing = missing.filter((i) => !idByBatch.has(batchIds[i]));
        for (const i of missing) codes[i] = randomPart();
      }
      await client.query('commit');
      group.forEach(({ res }, i) => reply(res, idByBatch.get(batchIds[i])!, codes[i], values[i]));
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
  const postgres = /^postgres(ql)?:\/\//i.test(url);
  const write: (group: Pending[]) => void | Promise<void> = postgres ? postgresFloor(url) : sqliteFloor(url);

  // Group commit as in promoset: one event-loop turn's requests, one group in flight (floor-server.ts).
  serveInGroups((req) => !/\/redemptions$/.test(req.url ?? ''), write);
}

main();
