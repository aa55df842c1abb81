/**
 * `npm run chaos`: the whole system under faults (issue 22).
 *
 * 3 `promoset serve` instances on PostgreSQL, with WHMCS on MariaDB, both
 * behind TCP proxies this process can cut; a webhook receiver that verifies
 * signatures and dedupes by event id; a fake Slack Web API. A mixed load
 * (set-URL POSTs, bulk batches, redemptions and rollbacks, voids by admin API
 * and by Slack command, Slack /promo info) runs for CHAOS_SECONDS while faults
 * are injected: kill -9 of a random instance every ~20 s (then restarted),
 * PostgreSQL and MariaDB each cut for 5 s, the receiver answering 500 and
 * hanging. Then the invariants are checked and written to RELIABILITY.md.
 *
 * Environment: CHAOS_SECONDS (120), CHAOS_DATABASE_URL or TEST_DATABASE_URL
 * (a PostgreSQL server: a fresh schema is made and dropped), CHAOS_WHMCS_DATABASE_URL
 * or TEST_WHMCS_DATABASE_URL (a MariaDB server: a fresh database is made and
 * dropped), CHAOS_KEEP=1 keeps them and the instances' logs (kept anyway when an invariant breaks). All traffic is to 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import { createConnection, type Connection } from 'mysql2/promise';
import pg from 'pg';
import { verifyWebhookSignature } from '../src/domain/webhooks.js';
import { checkInvariants, invariantTable, type Ledger } from './invariants.js';
import { startTcpProxy, type TcpProxy } from './proxy.js';
import { TBLPROMOTIONS_SQL } from './tblpromotions.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 120);
const PG_URL = process.env.CHAOS_DATABASE_URL || process.env.TEST_DATABASE_URL;
const MY_URL = process.env.CHAOS_WHMCS_DATABASE_URL || process.env.TEST_WHMCS_DATABASE_URL;
const KEEP = process.env.CHAOS_KEEP === '1';
const INSTANCES = 3;
const WORKERS = 6;
const KILL_EVERY_MS = 20_000;
const CUT_MS = 5000;
const ADMIN_TOKEN = `chaos-admin-${randomBytes(8).toString('hex')}`;
const SIGNING_SECRET = `chaos-signing-${randomBytes(8).toString('hex')}`;
const ADMIN_USER = 'UCHAOSADM1';
/** How long, after the load stops, the outbox may take to drain (retries back off from 1 s) and crash repair to run (20 s + a 30 s sync). */
const DRAIN_MS = 120_000;

if (!Number.isFinite(SECONDS) || SECONDS < 10 || SECONDS > 3600) fail('CHAOS_SECONDS must be a number of seconds from 10 to 3600.');
if (!PG_URL) fail('Set CHAOS_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/test');
if (!MY_URL) fail('Set CHAOS_WHMCS_DATABASE_URL (or TEST_WHMCS_DATABASE_URL) to a MariaDB server, e.g. mysql://root@127.0.0.1:3306/test');
for (const url of [PG_URL!, MY_URL!]) {
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(new URL(url).hostname)) fail(`The chaos run only talks to 127.0.0.1: ${new URL(url).hostname} is not local.`);
}

function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n`);
  process.exit(2);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];
const started = Date.now();
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1);
const say = (line: string) => process.stdout.write(`[${elapsed().padStart(6)} s] ${line}\n`);

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// ---------- the databases, behind proxies ----------

const schema = `chaos_${randomBytes(5).toString('hex')}`;
const whmcsName = `chaos_whmcs_${randomBytes(5).toString('hex')}`;

function withSchema(url: string, host?: string, port?: number): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  if (host) parsed.hostname = host;
  if (port) parsed.port = String(port);
  return parsed.toString();
}

function mysqlConnection(database?: string): Promise<Connection> {
  const url = new URL(MY_URL!.replace(/^mariadb:/, 'mysql:'));
  return createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database, dateStrings: true });
}

// ---------- the webhook receiver ----------

type ReceiverMode = 'ok' | 'fail' | 'hang';
interface Receiver {
  url: string;
  server: Server;
  mode: ReceiverMode;
  secrets: Map<string, string>;
  received: Map<string, number>;
  createdAt: Map<string, number>;
  deliveries: number;
  rejected: number;
}

async function startReceiver(): Promise<Receiver> {
  const receiver = { mode: 'ok', secrets: new Map(), received: new Map(), createdAt: new Map(), deliveries: 0, rejected: 0 } as Receiver;
  receiver.server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      if (receiver.mode === 'hang') return; // the sender's 10 s timeout ends it
      if (receiver.mode === 'fail') {
        res.writeHead(500).end();
        return;
      }
      const raw = Buffer.concat(parts).toString('utf8');
      const secret = receiver.secrets.get(req.url ?? '');
      const check = secret ? verifyWebhookSignature(secret, raw, req.headers['promoset-signature'] as string | undefined) : { ok: false };
      if (!check.ok) {
        receiver.rejected++;
        res.writeHead(400).end();
        return;
      }
      const body = JSON.parse(raw) as { id: string; created_at: string };
      receiver.deliveries++;
      // Dedupe by event id: the first arrival is what counts.
      if (!receiver.received.has(body.id)) {
        receiver.received.set(body.id, Date.now());
        receiver.createdAt.set(body.id, Date.parse(body.created_at));
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}`;
  return receiver;
}

// ---------- the fake Slack Web API ----------

async function startFakeSlack(): Promise<{ url: string; server: Server; calls: number }> {
  const fake = { calls: 0 } as { url: string; server: Server; calls: number };
  fake.server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      fake.calls++;
      const method = (req.url ?? '').replace(/^\/api\//, '');
      const answer: Record<string, unknown> = { ok: true };
      if (method.startsWith('views.')) answer.view = { id: 'V1' };
      if (method.startsWith('chat.')) Object.assign(answer, { ts: '1.000100', channel: 'C1' });
      if (method === 'files.getUploadURLExternal') Object.assign(answer, { upload_url: `${fake.url}/upload`, file_id: 'F1' });
      if (method === 'files.completeUploadExternal') answer.files = [{ id: 'F1' }];
      if (method === 'conversations.open') answer.channel = { id: 'D1' };
      if (method === 'auth.test') Object.assign(answer, { user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1' });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
  return fake;
}

function signedSlashCommand(text: string, responseUrl: string): { headers: Record<string, string>; body: string } {
  const body = new URLSearchParams({
    token: 'x', team_id: 'T1', team_domain: 'chaos', channel_id: 'C1', channel_name: 'chaos', user_id: ADMIN_USER, user_name: 'chaos',
    command: '/promo', text, response_url: responseUrl, trigger_id: `trig-${randomUUID()}`, api_app_id: 'A1',
  }).toString();
  const ts = Math.floor(Date.now() / 1000).toString();
  const signature = `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;
  return { body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signature } };
}

// ---------- the instances ----------

interface Instance {
  index: number;
  port: number;
  url: string;
  child?: ChildProcess;
  logFile: string;
  up: boolean;
  /** Set while this process kills or stops it: any other exit is a crash. */
  stopping?: boolean;
}

/** Instances that exited by themselves: each a bug (restarted, so the run goes on). */
const crashes: string[] = [];
let loadRunning = true;

const logDir = mkdtempSync(join(tmpdir(), 'promoset-chaos-'));
let instanceEnv: Record<string, string> = {};

/** The instances' own log lines (service/whmcs-two-phase.ts repair, logged by main.ts), summed. */
function preparedSettledByRepair(): { committed: number; rolledBack: number } {
  const total = { committed: 0, rolledBack: 0 };
  for (const instance of instances) {
    let text = '';
    try {
      text = readFileSync(instance.logFile, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.includes('settled redemptions a crash left prepared in WHMCS')) continue;
      total.committed += Number(/"committed":(\d+)/.exec(line)?.[1] ?? 0);
      total.rolledBack += Number(/"rolledBack":(\d+)/.exec(line)?.[1] ?? 0);
    }
  }
  return total;
}

async function startInstance(instance: Instance): Promise<void> {
  const deadline = Date.now() + 90_000;
  // Restarting during a database cut fails start-up: try again until it is back.
  while (Date.now() < deadline) {
    const fd = openSync(instance.logFile, 'a');
    const child = spawn(process.execPath, [CLI, 'serve'], { cwd: ROOT, env: { ...process.env, ...instanceEnv, PORT: String(instance.port) }, stdio: ['ignore', 'ignore', fd] });
    closeSync(fd);
    instance.child = child;
    let exited = false;
    child.once('exit', (code, signal) => {
      exited = true;
      instance.up = false;
      if (instance.stopping || !startedOk) return;
      crashes.push(`instance ${instance.index} exited by itself (${signal ?? `code ${code}`}) at ${elapsed()} s; see ${instance.logFile}`);
      say(`BUG: ${crashes[crashes.length - 1]}`);
      if (loadRunning) void startInstance(instance).catch(() => {});
    });
    let startedOk = false;
    while (!exited && Date.now() < deadline) {
      try {
        const r = await fetch(`${instance.url}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) {
          instance.up = true;
          startedOk = true;
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    await sleep(500);
  }
  throw new Error(`instance ${instance.index} did not start within 90 s; see ${instance.logFile}`);
}

function stopInstance(instance: Instance, signal: NodeJS.Signals): Promise<void> {
  const child = instance.child;
  instance.up = false;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  instance.stopping = true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('exit', () => {
      clearTimeout(timer);
      instance.stopping = false;
      resolve();
    });
    child.kill(signal);
  });
}

// ---------- the ledger and the client ----------

const ledger: Ledger = { handedOut: [], redeemed: [], refusals: [], uncertain: new Set(), fiveXX: [], cuts: [], received: new Map() };
const stats = { requests: 0, served: 0, byStatus: new Map<number, number>(), networkErrors: 0, kills: 0, pgCuts: 0, mariadbCuts: 0, receiverFailing: 0, receiverHanging: 0, retried: 0, exhausted: 0 };
let instances: Instance[] = [];

interface Answer {
  status: number;
  json: any;
}

/**
 * One logical request, retried as a careful client would (same Idempotency-Key,
 * another instance) after a network error, a 503 or a 409 "still being
 * processed"; undefined when it never got a definitive answer.
 */
async function call(what: string, path: string, init: { method: string; body?: string; headers?: Record<string, string> }, { key = randomUUID(), attempts = 12 } = {}): Promise<Answer | undefined> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const live = instances.filter((i) => i.up);
    const target = live.length > 0 ? pick(live) : pick(instances);
    stats.requests++;
    let wait = 500;
    try {
      const res = await fetch(`${target.url}${path}`, {
        method: init.method, body: init.body, signal: AbortSignal.timeout(30_000),
        headers: { 'idempotency-key': key, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
      });
      const text = await res.text();
      stats.served++;
      stats.byStatus.set(res.status, (stats.byStatus.get(res.status) ?? 0) + 1);
      const retryAfter = res.headers.get('retry-after');
      if (res.status >= 500) ledger.fiveXX.push({ at: Date.now(), status: res.status, retryAfter, what: `${what} on instance ${target.index}: ${text.slice(0, 160)}` });
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      const pending = res.status === 409 && retryAfter !== null;
      if (res.status !== 503 && !pending) return { status: res.status, json };
      wait = Math.min(5000, Number(retryAfter ?? 1) * 1000);
    } catch {
      stats.networkErrors++; // an instance killed mid-request, or restarting
    }
    stats.retried++;
    await sleep(wait * (0.5 + Math.random()));
  }
  stats.exhausted++;
  return undefined;
}

interface ChaosSet {
  id: number;
  path: string;
  maxUses: number;
  codes: string[];
  batches: number[];
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function createSet(name: string, maxUses: number, receiver: Receiver): Promise<ChaosSet> {
  const hook = `/hooks/${name}`;
  const answer = await call('create set', '/api/sets', { method: 'POST', headers: admin, body: JSON.stringify({ name, promo_value: '5', max_uses: maxUses, code_length: 10, webhook_url: `${receiver.url}${hook}` }) });
  if (!answer || answer.status !== 201) throw new Error(`could not create set ${name}: ${JSON.stringify(answer)}`);
  receiver.secrets.set(hook, answer.json.webhook_secret);
  return { id: answer.json.id, path: new URL(answer.json.url).pathname, maxUses, codes: [], batches: [] };
}

const standing: { set: ChaosSet; id: number; code: string; entry: Ledger['redeemed'][number] }[] = [];

async function issueOne(set: ChaosSet): Promise<void> {
  const key = randomUUID();
  const answer = await call('set-URL POST', set.path, { method: 'POST' }, { key });
  if (answer?.status === 200) {
    ledger.handedOut.push({ code: answer.json.code, requestKey: key });
    set.codes.push(answer.json.code);
  }
}

async function issueBulk(set: ChaosSet): Promise<void> {
  const key = randomUUID();
  const amount = 20 + Math.floor(Math.random() * 280);
  const answer = await call('bulk batch', `${set.path}/codes`, { method: 'POST', body: JSON.stringify({ amount }) }, { key });
  if (answer?.status === 200) {
    for (const p of answer.json.promotions) {
      ledger.handedOut.push({ code: p.code, requestKey: key });
      set.codes.push(p.code);
    }
    set.batches.push(answer.json.batch_id);
  }
}

async function redeem(set: ChaosSet): Promise<void> {
  if (set.codes.length === 0) return;
  // Recent codes, so limited ones get used up and refused.
  const code = set.codes[Math.max(0, set.codes.length - 1 - Math.floor(Math.random() * 40))];
  const answer = await call('redemption', `${set.path}/redemptions`, { method: 'POST', body: JSON.stringify({ code, client_id: String(1 + Math.floor(Math.random() * 1000)) }) });
  if (answer === undefined) ledger.uncertain.add(code);
  else if (answer.status === 200) {
    const entry = { code, redemptionId: answer.json.redemption_id, rolledBack: false };
    ledger.redeemed.push(entry);
    standing.push({ set, id: entry.redemptionId, code, entry });
  } else if (answer.status === 409 || answer.status === 404) ledger.refusals.push({ code, reason: answer.json?.code });
  else ledger.uncertain.add(code);
}

async function rollback(): Promise<void> {
  if (standing.length === 0) return;
  const [one] = standing.splice(Math.floor(Math.random() * standing.length), 1);
  const answer = await call('rollback', `${one.set.path}/redemptions/${one.id}/rollback`, { method: 'POST' });
  if (answer === undefined) ledger.uncertain.add(one.code);
  else if (answer.status === 200 || answer.json?.code === 'redemption_already_rolled_back') one.entry.rolledBack = true;
  else ledger.uncertain.add(one.code);
}

async function voidCode(set: ChaosSet, slack: { url: string }): Promise<void> {
  if (set.codes.length === 0) return;
  const code = pick(set.codes);
  if (Math.random() < 0.5) {
    await call('void (admin API)', `/api/promotions/${code}/${Math.random() < 0.7 ? 'void' : 'unvoid'}`, { method: 'POST', headers: admin });
  } else {
    await slackCommand(`void ${code}`, slack);
  }
}

async function voidBatch(set: ChaosSet): Promise<void> {
  if (set.batches.length === 0) return;
  await call('batch void', `/api/sets/${set.id}/batches/${pick(set.batches)}/${Math.random() < 0.7 ? 'void' : 'unvoid'}`, { method: 'POST', headers: admin });
}

async function slackCommand(text: string, slack: { url: string }): Promise<void> {
  const { headers, body } = signedSlashCommand(text, `${slack.url}/response/${randomUUID()}`);
  // Slack itself does not retry with the same body: one attempt, as Slack sends it.
  await call(`Slack /promo ${text.split(' ')[0]}`, '/slack/events', { method: 'POST', headers, body }, { attempts: 1 });
}

// ---------- the run ----------

async function main(): Promise<void> {
  const pgTarget = new URL(PG_URL!);
  const myTarget = new URL(MY_URL!.replace(/^mariadb:/, 'mysql:'));
  const pgAdmin = new pg.Client({ connectionString: PG_URL });
  await pgAdmin.connect();
  await pgAdmin.query(`create schema ${schema}`);
  await pgAdmin.end();
  const myAdmin = await mysqlConnection();
  await myAdmin.query(`create database \`${whmcsName}\``);
  await myAdmin.end();
  const whmcs = await mysqlConnection(whmcsName);
  await whmcs.query("set session sql_mode = ''");
  await whmcs.query(TBLPROMOTIONS_SQL);

  const pgProxy: TcpProxy = await startTcpProxy(pgTarget.hostname, Number(pgTarget.port || 5432));
  const myProxy: TcpProxy = await startTcpProxy(myTarget.hostname, Number(myTarget.port || 3306));
  const receiver = await startReceiver();
  const slack = await startFakeSlack();
  const whmcsThroughProxy = new URL(myTarget);
  whmcsThroughProxy.hostname = '127.0.0.1';
  whmcsThroughProxy.port = String(myProxy.port);
  whmcsThroughProxy.pathname = `/${whmcsName}`;
  instanceEnv = {
    DATABASE_URL: withSchema(PG_URL!, '127.0.0.1', pgProxy.port),
    WHMCS_DATABASE_URL: whmcsThroughProxy.toString(),
    URL_SECRET: `chaos-url-secret-${randomBytes(8).toString('hex')}`,
    ADMIN_API_TOKEN: ADMIN_TOKEN,
    SLACK_BOT_TOKEN: 'xoxb-chaos',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: `${slack.url}/api/`,
    PROMO_ADMINS: ADMIN_USER,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    WEBHOOK_RETRY_BASE_SECONDS: '1',
    // Batches a kill -9 leaves between the two databases are repaired after twice this (then at the next 30 s sync).
    WHMCS_PENDING_TIMEOUT_SECONDS: '10',
    RATE_LIMIT_PER_MINUTE: '0',
    LOG_LEVEL: 'warn',
  };
  instances = await Promise.all(Array.from({ length: INSTANCES }, async (_, index) => {
    const port = await freePort();
    return { index, port, url: `http://127.0.0.1:${port}`, logFile: join(logDir, `instance-${index}.log`), up: false };
  }));
  // The first migrates; the others start on a migrated schema.
  await startInstance(instances[0]);
  await Promise.all(instances.slice(1).map(startInstance));
  say(`${INSTANCES} instances up (logs in ${logDir}); PostgreSQL schema ${schema}, MariaDB database ${whmcsName}`);

  const sets = [await createSet('chaos-limited', 2, receiver), await createSet('chaos-unlimited', 0, receiver), await createSet('chaos-single', 1, receiver)];
  const end = Date.now() + SECONDS * 1000;

  // Faults, on a schedule relative to the start, while the load runs.
  const faults: Promise<void>[] = [];
  const at = (offsetS: number, fault: () => Promise<void>) => {
    if (offsetS * 1000 >= SECONDS * 1000 - 5000) return;
    faults.push(sleep(offsetS * 1000).then(fault));
  };
  for (let t = 30; t < SECONDS; t += 100) {
    at(t, async () => {
      stats.pgCuts++;
      say('fault: PostgreSQL cut for 5 s');
      const window = { what: 'postgres', from: Date.now(), to: Infinity };
      ledger.cuts.push(window);
      await pgProxy.cut(CUT_MS);
      window.to = Date.now();
    });
    at(t + 40, async () => {
      stats.mariadbCuts++;
      say('fault: MariaDB cut for 5 s');
      const window = { what: 'mariadb', from: Date.now(), to: Infinity };
      ledger.cuts.push(window);
      await myProxy.cut(CUT_MS);
      window.to = Date.now();
    });
    at(t + 15, async () => {
      stats.receiverFailing++;
      say('fault: webhook receiver answers 500 for 8 s');
      receiver.mode = 'fail';
      await sleep(8000);
      receiver.mode = 'ok';
    });
    at(t + 55, async () => {
      stats.receiverHanging++;
      say('fault: webhook receiver hangs for 15 s');
      receiver.mode = 'hang';
      await sleep(15_000);
      receiver.mode = 'ok';
    });
  }
  const killer = (async () => {
    while (Date.now() + KILL_EVERY_MS / 2 < end) {
      await sleep(KILL_EVERY_MS * (0.75 + Math.random() / 2));
      if (Date.now() >= end) break;
      const victim = pick(instances);
      stats.kills++;
      say(`fault: kill -9 instance ${victim.index}`);
      await stopInstance(victim, 'SIGKILL');
      await startInstance(victim);
      say(`instance ${victim.index} back`);
    }
  })();

  const worker = async () => {
    while (Date.now() < end) {
      const set = pick(sets);
      const roll = Math.random();
      if (roll < 0.3) await issueOne(set);
      else if (roll < 0.35) await issueBulk(set);
      else if (roll < 0.7) await redeem(set);
      else if (roll < 0.8) await rollback();
      else if (roll < 0.86) await voidCode(set, slack);
      else if (roll < 0.88) await voidBatch(set);
      else await slackCommand(`info ${set.id === sets[0].id ? 'chaos-limited' : set.id === sets[1].id ? 'chaos-unlimited' : 'chaos-single'}`, slack);
    }
  };
  const progress = setInterval(() => say(`${stats.served} requests served, ${ledger.handedOut.length} codes handed out, ${ledger.redeemed.length} redeemed, ${receiver.received.size} events received`), 15_000);
  await Promise.all(Array.from({ length: WORKERS }, worker));
  await Promise.all([killer, ...faults]);
  loadRunning = false;
  clearInterval(progress);
  receiver.mode = 'ok';
  say(`load over: ${stats.served} requests served; draining the outbox`);

  // Reads go straight to PostgreSQL, not through the proxy.
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: withSchema(PG_URL!), max: 2 }) }) });
  const drainEnd = Date.now() + DRAIN_MS;
  // At least one full WHMCS uses sync (every 30 s) after the last fault, so promoset's copy of uses has settled.
  const settled = Date.now() + 35_000;
  for (;;) {
    const events = await db.selectFrom('webhook_events').select(['event_id', 'status']).execute();
    const pendingBatches = await db.selectFrom('batches').select('id').where('whmcs_state', '=', 'pending').execute();
    // Redemptions and rollbacks a kill -9 or a cut left prepared in WHMCS (XA) are settled by repair within seconds.
    const install = await db.selectFrom('settings').select('value').where('key', '=', 'whmcs_xa_install').executeTakeFirst();
    const [recovered] = await whmcs.query('xa recover');
    const prepared = install ? (recovered as { data: string | Buffer }[]).filter((row) => String(row.data).startsWith(`promoset:${install.value}:`)).length : 0;
    const done = events.every((e) => e.status !== 'pending' && receiver.received.has(e.event_id)) && pendingBatches.length === 0 && prepared === 0;
    if ((done && Date.now() >= settled) || Date.now() > drainEnd) break;
    await sleep(500);
  }
  ledger.received = receiver.received;
  const rows = await checkInvariants(ledger, db, whmcs);
  rows.push({ invariant: 'no instance exited by itself (only the run\'s kill -9)', checked: stats.kills + INSTANCES, broken: crashes.length, example: crashes[0] });
  const delays = [...receiver.received].map(([id, at]) => at - (receiver.createdAt.get(id) ?? at));
  const maxDelay = delays.length ? Math.max(...delays) : 0;
  const broken = rows.reduce((n, r) => n + r.broken, 0);
  const n503 = stats.byStatus.get(503) ?? 0;
  const settledByRepair = preparedSettledByRepair();
  const table = invariantTable(rows);
  const figures = [
    '| figure | value |',
    '|---|---:|',
    `| duration (CHAOS_SECONDS) | ${SECONDS} s |`,
    `| requests served (an HTTP answer) | ${stats.served} |`,
    `| requests without an answer (instance killed mid-request, restarting) | ${stats.networkErrors} |`,
    `| client retries (same Idempotency-Key) / given up | ${stats.retried} / ${stats.exhausted} |`,
    `| answers by status | ${[...stats.byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`).join(', ')} |`,
    `| 503s (all with Retry-After, during a cut, if the last invariant holds) | ${n503} |`,
    `| codes handed out / redeemed / refused | ${ledger.handedOut.length} / ${ledger.redeemed.length} / ${ledger.refusals.length} |`,
    `| faults injected | ${stats.kills + stats.pgCuts + stats.mariadbCuts + stats.receiverFailing + stats.receiverHanging}: ${stats.kills} kill -9, ${stats.pgCuts} PostgreSQL cuts, ${stats.mariadbCuts} MariaDB cuts (5 s each), ${stats.receiverFailing} receiver 500 spells (8 s), ${stats.receiverHanging} receiver hangs (15 s) |`,
    `| webhook events delivered (distinct ids) / deliveries (with duplicates) / bad signatures | ${receiver.received.size} / ${receiver.deliveries} / ${receiver.rejected} |`,
    `| maximum delivery delay (event created → first arrival) | ${(maxDelay / 1000).toFixed(1)} s |`,
    `| redemptions/rollbacks a fault left prepared in WHMCS (XA), settled by repair: committed / rolled back | ${settledByRepair.committed} / ${settledByRepair.rolledBack} |`,
  ].join('\n');
  process.stdout.write(`\n${table}\n\n${figures}\n\n${broken === 0 ? 'All invariants hold.' : `${broken} invariant violation(s).`}\n`);
  const command = `CHAOS_SECONDS=${SECONDS} TEST_DATABASE_URL=postgres://… TEST_WHMCS_DATABASE_URL=mysql://… npm run chaos`;
  writeFileSync(join(ROOT, 'RELIABILITY.md'), `# Reliability: the chaos run

Produced by \`${command}\` (chaos/run.ts) on ${new Date().toISOString().slice(0, 10)}.

${INSTANCES} \`promoset serve\` instances on PostgreSQL, WHMCS on MariaDB, both reached through TCP proxies
the run cuts; a webhook receiver that verifies every signature and dedupes by event id; a fake Slack Web
API. ${WORKERS} clients send a mixed load (set-URL POSTs, bulk batches of 20-300, redemptions with client ids,
rollbacks, voids and restores of codes and batches by admin API, \`/promo void\` and \`/promo info\` as signed
Slack commands) to random live instances, retrying a network error or a 503 with the same Idempotency-Key on
another instance, as a careful client does. Meanwhile: kill -9 of a random instance every ~20 s (restarted
at once), PostgreSQL and MariaDB each cut for 5 s (every 100 s), the receiver answering 500 for 8 s and
hanging for 15 s (every 100 s). Webhook retries start at 1 s (WEBHOOK_RETRY_BASE_SECONDS=1) and batches a kill -9 leaves
between the two databases are repaired after 20 s (WHMCS_PENDING_TIMEOUT_SECONDS=10); redemptions and rollbacks
a fault leaves prepared in WHMCS (their two-phase commit, README "Connect WHMCS") are settled by repair after
10 s; so both settle within the run. The checks run once the outbox is drained, no batch is pending, no
redemption is left prepared in WHMCS and a WHMCS uses sync has run (at least 35 s, at most 2 minutes after the load).

The machine is shared (2 cores, other sessions' test suites running beside it): the figures are what this run
saw, not a benchmark.

## Invariants

${table}

## Figures

${figures}
`);
  say(`RELIABILITY.md written; ${broken === 0 ? 'all invariants hold' : `${broken} violation(s)`}`);

  await Promise.all(instances.map((i) => stopInstance(i, 'SIGTERM')));
  await db.destroy();
  await whmcs.end();
  await Promise.all([pgProxy.close(), myProxy.close()]);
  receiver.server.closeAllConnections();
  slack.server.closeAllConnections();
  await Promise.all([new Promise((r) => receiver.server.close(r)), new Promise((r) => slack.server.close(r))]);
  // A broken invariant keeps the databases and logs to look into.
  if (!KEEP && broken === 0) {
    const cleanup = new pg.Client({ connectionString: PG_URL });
    await cleanup.connect();
    await cleanup.query(`drop schema if exists ${schema} cascade`);
    await cleanup.end();
    const my = await mysqlConnection();
    await my.query(`drop database if exists \`${whmcsName}\``);
    await my.end();
    rmSync(logDir, { recursive: true, force: true });
  } else {
    say(`kept: PostgreSQL schema ${schema}, MariaDB database ${whmcsName}, logs in ${logDir}`);
  }
  process.exitCode = broken === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos: ${error instanceof Error ? error.stack : String(error)}\n`);
  for (const instance of instances) instance.child?.kill('SIGKILL');
  process.exit(1);
});

