import { sql, type Kysely } from 'kysely';
import type { Connection, RowDataPacket } from 'mysql2/promise';

/**
 * The chaos run's invariants, checked at the end against what the clients saw
 * (the ledger) and what the databases hold. Pure reads: it changes nothing.
 */
export interface HandedOut {
  code: string;
  /** The request that handed it out (a replayed Idempotency-Key answers the same codes: counted once). */
  requestKey: string;
}

export interface Redeemed {
  code: string;
  redemptionId: number;
  rolledBack: boolean;
}

export interface FiveXX {
  at: number;
  status: number;
  retryAfter: string | null;
  what: string;
}

export interface Window {
  what: string;
  from: number;
  to: number;
}

export interface Ledger {
  handedOut: HandedOut[];
  redeemed: Redeemed[];
  refusals: { code: string; reason: string }[];
  /** Codes with a redemption or rollback whose outcome the client never learnt (retries exhausted): their counts are not exact. */
  uncertain: Set<string>;
  fiveXX: FiveXX[];
  /** Database cuts; a 503 is expected from a cut's start until `graceMs` after its end. */
  cuts: Window[];
  /** Event id → when it first reached the receiver (ms). */
  received: Map<string, number>;
}

export interface InvariantRow {
  invariant: string;
  checked: number;
  broken: number;
  example?: string;
}

/** Codes per SQL statement. */
const CHUNK = 2000;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export async function checkInvariants(ledger: Ledger, promoset: Kysely<any>, whmcs: Connection, { cutGraceMs = 15_000 } = {}): Promise<InvariantRow[]> {
  const rows: InvariantRow[] = [];
  // The same request replayed counts once; the same code from two requests is a double hand-out.
  const byRequest = new Map<string, string>();
  for (const h of ledger.handedOut) byRequest.set(`${h.requestKey}\u0000${h.code.toLowerCase()}`, h.code);
  const codes = [...byRequest.values()];
  const lower = codes.map((c) => c.toLowerCase());

  const seen = new Map<string, number>();
  for (const c of lower) seen.set(c, (seen.get(c) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1);
  rows.push({ invariant: 'no code handed out twice', checked: seen.size, broken: twice.length, example: twice[0]?.[0] });

  const unique = [...seen.keys()];
  const inPromoset = new Map<string, { uses: number; maxuses: number }>();
  const promosetCount = new Map<string, number>();
  for (const part of chunks(unique)) {
    const found = await promoset.selectFrom('promotions as p').innerJoin('batches as b', 'b.id', 'p.batch_id')
      .select([sql<string>`lower(p.code)`.as('code'), 'p.uses', 'b.maxuses']).where(sql<string>`lower(p.code)`, 'in', part).execute();
    for (const r of found) {
      promosetCount.set(r.code, (promosetCount.get(r.code) ?? 0) + 1);
      inPromoset.set(r.code, { uses: Number(r.uses), maxuses: Number(r.maxuses) });
    }
  }
  const notOnceInPromoset = unique.filter((c) => promosetCount.get(c) !== 1);
  rows.push({ invariant: 'every handed-out code exists exactly once in promoset', checked: unique.length, broken: notOnceInPromoset.length, example: notOnceInPromoset[0] });

  const inWhmcs = new Map<string, { count: number; uses: number; maxuses: number }>();
  for (const part of chunks(unique)) {
    const [found] = await whmcs.query<RowDataPacket[]>('select lower(code) as code, uses, maxuses from tblpromotions where code in (?)', [part]);
    for (const r of found) {
      const prior = inWhmcs.get(r.code);
      inWhmcs.set(r.code, { count: (prior?.count ?? 0) + 1, uses: Number(r.uses), maxuses: Number(r.maxuses) });
    }
  }
  const notOnceInWhmcs = unique.filter((c) => inWhmcs.get(c)?.count !== 1);
  rows.push({ invariant: 'every handed-out code exists exactly once in tblpromotions', checked: unique.length, broken: notOnceInWhmcs.length, example: notOnceInWhmcs[0] });

  // uses <= max_uses, everywhere (not only handed-out codes).
  const overPromoset = await promoset.selectFrom('promotions as p').innerJoin('batches as b', 'b.id', 'p.batch_id')
    .select(['p.code', 'p.uses', 'b.maxuses']).where('b.maxuses', '>', 0).whereRef('p.uses', '>', 'b.maxuses').execute();
  const [overWhmcs] = await whmcs.query<RowDataPacket[]>('select code, uses, maxuses from tblpromotions where maxuses > 0 and uses > maxuses');
  const [[{ n: limited }]] = await whmcs.query<RowDataPacket[]>('select count(*) as n from tblpromotions where maxuses > 0');
  const over = [...overPromoset.map((r) => `${r.code} (promoset ${r.uses}/${r.maxuses})`), ...overWhmcs.map((r) => `${r.code} (WHMCS ${r.uses}/${r.maxuses})`)];
  rows.push({ invariant: 'uses never exceed max_uses (promoset and tblpromotions)', checked: Number(limited), broken: over.length, example: over[0] });

  // Every 2xx redemption counted, every refusal not: a code's uses = its standing 2xx redemptions.
  const expected = new Map<string, number>();
  for (const c of unique) expected.set(c, 0);
  for (const r of ledger.redeemed) {
    const c = r.code.toLowerCase();
    if (!r.rolledBack) expected.set(c, (expected.get(c) ?? 0) + 1);
  }
  const uncertain = new Set([...ledger.uncertain].map((c) => c.toLowerCase()));
  const exact = unique.filter((c) => !uncertain.has(c));
  const miscounted: string[] = [];
  for (const c of exact) {
    const want = expected.get(c) ?? 0;
    const p = inPromoset.get(c)?.uses;
    const w = inWhmcs.get(c)?.uses;
    if (p !== want || w !== want) miscounted.push(`${c}: ${want} standing 2xx redemptions, promoset uses ${p}, WHMCS uses ${w}`);
  }
  rows.push({ invariant: `every 2xx redemption counted, every refusal not (${ledger.redeemed.length} redeemed, ${ledger.refusals.length} refused, ${uncertain.size} codes left uncertain)`, checked: exact.length, broken: miscounted.length, example: miscounted[0] });

  // Every outbox event delivered at least once (the receiver dedupes by event id).
  const events = await promoset.selectFrom('webhook_events').select(['event_id', 'status']).execute();
  const undelivered = events.filter((e) => e.status !== 'delivered' || !ledger.received.has(e.event_id));
  rows.push({ invariant: 'every outbox event delivered at least once', checked: events.length, broken: undelivered.length, example: undelivered[0] && `${undelivered[0].event_id} (${undelivered[0].status})` });

  // The only 5xx: 503 with Retry-After, during a database cut.
  const duringCut = (at: number) => ledger.cuts.some((w) => at >= w.from && at <= w.to + cutGraceMs);
  const bad5xx = ledger.fiveXX.filter((f) => f.status !== 503 || !f.retryAfter || !duringCut(f.at));
  rows.push({ invariant: 'the only 5xx are 503s with Retry-After, during a cut', checked: ledger.fiveXX.length, broken: bad5xx.length, example: bad5xx[0] && `${bad5xx[0].status} ${bad5xx[0].what} (Retry-After ${bad5xx[0].retryAfter})` });
  return rows;
}

export function invariantTable(rows: InvariantRow[]): string {
  const lines = ['| invariant | checked | broken | example |', '|---|---:|---:|---|'];
  for (const r of rows) lines.push(`| ${r.invariant} | ${r.checked} | ${r.broken} | ${r.example ? r.example.replaceAll('|', '\\|') : ''} |`);
  return lines.join('\n');
}
