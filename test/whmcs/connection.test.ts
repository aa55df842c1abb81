import { randomBytes } from 'node:crypto';
import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { createTestDatabase, describeEachDialect, type Dialect, type TestDatabase } from '../support/databases.js';
import { runCli, startServerProcess } from '../support/processes.js';
import { startTestService, type TestService } from '../support/service.js';
import { describeWithWhmcs, useWhmcsDatabase, WHMCS_SERVER_URL } from '../support/whmcs.js';
import { localSetUrl, makeSet, postForm } from '../http/helpers.js';
import { waitFor } from '../support/wait-for.js';

const AUTH = 'username=whmcs-id&password=whmcs-secret-value';
const API = { WHMCS_API_IDENTIFIER: 'whmcs-id', WHMCS_API_SECRET: 'whmcs-secret-value', ADMIN_API_TOKEN: 'admin-token-0123456789', RATE_LIMIT_PER_MINUTE: '0' };

async function readyz(url: string): Promise<any> {
  return (await fetch(`${url}/readyz`)).json();
}

async function promotionCount(db: Db): Promise<number> {
  const row = await db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

describeWithWhmcs('WHMCS connection recorded in promoset\'s database (real MariaDB)', () => {
  const holder = useWhmcsDatabase();
  const other = useWhmcsDatabase();

  describeEachDialect('a process without a matching WHMCS_DATABASE_URL refuses', (dialect: Dialect) => {
    let database: TestDatabase;
    let db: Db;
    let connected: TestService;
    let set: PromoSet;

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      db = openDatabase(database.url);
      connected = await startTestService({ DATABASE_URL: database.url, WHMCS_DATABASE_URL: holder.whmcs.url, ...API });
      set = await makeSet(connected, { name: `conn-${dialect}`, api_ip_address: 'any' });
      expect((await postForm(localSetUrl(connected, set), '')).status).toBe(200);
      expect(await readyz(connected.url)).toMatchObject({ dependencies: { whmcs: 'ok' } });
    });
    afterAll(async () => {
      await connected?.stop();
      await db?.destroy();
      await database?.drop();
    });

    it('the CLI without WHMCS_DATABASE_URL issues nothing, exits 1 and names the variable (codes, void)', async () => {
      const before = await promotionCount(db);
      const codes = await runCli(['codes', `conn-${dialect}`, '--amount', '2'], { DATABASE_URL: database.url });
      expect(codes.code).toBe(1);
      expect(codes.stdout).toBe('');
      expect(codes.stderr.trim().split('\n')).toHaveLength(1);
      expect(codes.stderr).toContain('WHMCS_DATABASE_URL is not set');
      expect(codes.stderr).toContain(`database "${holder.whmcs.name}"`);
      expect(await promotionCount(db)).toBe(before);
      const [row] = await db.selectFrom('promotions').select('code').execute();
      const voided = await runCli(['codes', 'void', row.code], { DATABASE_URL: database.url });
      expect(voided.code).toBe(1);
      expect(voided.stderr).toContain('WHMCS_DATABASE_URL');
      expect((await db.selectFrom('promotions').select('voided_at').where('code', '=', row.code).executeTakeFirstOrThrow()).voided_at).toBeNull();
    });

    it('a second server without the variable answers 503 billing_not_configured on issuing, bulk and redeeming, and says why in /readyz', async () => {
      const second = await startServerProcess({ DATABASE_URL: database.url, ...API });
      try {
        const before = await promotionCount(db);
        const setUrl = localSetUrl(connected, set).replace(connected.url, second.url);
        const single = await postForm(setUrl, '');
        expect(single.status).toBe(503);
        expect(single.json).toMatchObject({ result: 'error', code: 'billing_not_configured' });
        expect(single.json.message).toContain('WHMCS_DATABASE_URL is not set in this process');
        const bulk = await postForm(`${setUrl}/codes`, 'amount=5');
        expect(bulk.status).toBe(503);
        expect(bulk.json.code).toBe('billing_not_configured');
        const [row] = await db.selectFrom('promotions').select('code').execute();
        const redeem = await postForm(`${setUrl}/redemptions`, `code=${row.code}`);
        expect(redeem.status).toBe(503);
        expect(redeem.json.code).toBe('billing_not_configured');
        expect(await promotionCount(db)).toBe(before);
        const ready = await readyz(second.url);
        expect(ready.dependencies.whmcs).toBe('not_configured');
        expect(ready.messages.whmcs).toContain('WHMCS_DATABASE_URL is not set');
        // Reads keep working.
        expect((await fetch(setUrl)).status).toBe(200);
      } finally {
        await second.stop();
      }
    });

    it('WHMCS_REQUIRED=true: a server without the variable does not start, naming it', async () => {
      const started = await startServerProcess({ DATABASE_URL: database.url, WHMCS_REQUIRED: 'true', ...API }).then(
        async (server) => {
          await server.stop();
          return true;
        },
        (error: Error) => error.message,
      );
      expect(started).toContain('WHMCS_DATABASE_URL');
    });

    it('another WHMCS database is refused until "whmcs reconnect --yes", which is audited; reconnect and disconnect refuse without --yes', async () => {
      const env = { DATABASE_URL: database.url, WHMCS_DATABASE_URL: other.whmcs.url };
      const refused = await runCli(['codes', `conn-${dialect}`, '--amount', '1'], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`points at database "${other.whmcs.name}"`);
      expect(refused.stderr).toContain('promoset whmcs reconnect --yes');
      expect((await other.whmcs.rows('select id from tblpromotions')).length).toBe(0);

      const noYes = await runCli(['whmcs', 'reconnect'], env);
      expect(noYes.code).toBe(1);
      expect(noYes.stderr).toContain('nothing was changed: run "promoset whmcs reconnect --yes"');
      const noYesOff = await runCli(['whmcs', 'disconnect'], env);
      expect(noYesOff.code).toBe(1);
      expect(noYesOff.stderr).toContain('"promoset whmcs disconnect --yes"');

      // The connected server still issues into its own WHMCS.
      expect((await postForm(localSetUrl(connected, set), '')).status).toBe(200);
      const switched = await runCli(['whmcs', 'reconnect', '--yes'], env);
      expect(switched.code, switched.stderr).toBe(0);
      expect(switched.stdout).toContain(`Connected to WHMCS database "${other.whmcs.name}"`);
      expect(switched.stdout).toContain('run "promoset whmcs backfill"');
      // Within a second, the old server refuses too: it points at the old database.
      const answer = await waitFor(() => postForm(localSetUrl(connected, set), ''), (reply) => reply.status !== 200, 'the old server to refuse', { timeoutMs: 5_000, intervalMs: 50 });
      expect(answer.status).toBe(503);
      expect(answer.json.code).toBe('billing_not_configured');
      const status = await runCli(['whmcs', 'status'], env);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/reconnected\s+cli:/);

      const off = await runCli(['whmcs', 'disconnect', '--yes'], env);
      expect(off.code).toBe(0);
      const alone = await runCli(['codes', `conn-${dialect}`, '--amount', '1'], { DATABASE_URL: database.url });
      expect(alone.code, alone.stderr).toBe(0);
    });
  });

  describeEachDialect('ids before and after the connection', (dialect: Dialect) => {
    let database: TestDatabase;

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
    });
    afterAll(() => database?.drop());

    it('codes issued before the connection show ids above any tblpromotions id until backfilled; GetPromotions never repeats an id', async () => {
      const alone = await startTestService({ DATABASE_URL: database.url, ...API });
      let set: PromoSet;
      let early: any;
      try {
        set = await makeSet(alone, { name: `ids-${dialect}`, api_ip_address: 'any' });
        early = (await postForm(localSetUrl(alone, set), '')).json;
        expect(early.id).toBeLessThan(10);
      } finally {
        await alone.stop();
      }
      const service = await startTestService({ DATABASE_URL: database.url, WHMCS_DATABASE_URL: other.whmcs.url, ...API });
      try {
        // Other rows in WHMCS first, so its ids overlap promoset's own.
        await other.whmcs.sql.query("insert into tblpromotions (code, type, value, cycles, appliesto, requires, requiresexisting, startdate, maxuses, uses, lifetimepromo, applyonce, newsignups, existingclient, onceperclient, recurfor, upgrades, upgradeconfig, notes) values ('HANDMADE-1', 'Percentage', 5, '', '', '', 0, '0000-00-00', 0, 0, 0, 0, 0, 0, 0, 0, 0, '', '')");
        const fresh = (await postForm(localSetUrl(service, set!), '')).json;
        const listed = await postForm(`${service.url}/includes/api.php`, `action=GetPromotions&${AUTH}&responsetype=json`);
        const ids = listed.json.promotions.promotion.map((p: { id: number }) => p.id);
        expect(new Set(ids).size).toBe(ids.length);
        const old = listed.json.promotions.promotion.find((p: { code: string }) => p.code === early.code);
        expect(old.id).toBe(2_147_483_648 + early.id);
        expect(ids).toContain(fresh.id);
        const backfill = await runCli(['whmcs', 'backfill'], { DATABASE_URL: database.url, WHMCS_DATABASE_URL: other.whmcs.url });
        expect(backfill.code, backfill.stderr).toBe(0);
        const after = await postForm(`${service.url}/includes/api.php`, `action=GetPromotions&${AUTH}&responsetype=json&code=${early.code}`);
        const [row] = await other.whmcs.rows<{ id: number }>('select id from tblpromotions where code = ?', [early.code]);
        expect(after.json.promotions.promotion[0].id).toBe(row.id);
      } finally {
        await service.stop();
      }
    });
  });

  describeEachDialect('named failures', (dialect: Dialect) => {
    let database: TestDatabase;
    let admin: Connection;
    const user = `p26_${randomBytes(4).toString('hex')}`;
    const emptyDb = `whmcs_empty_${randomBytes(4).toString('hex')}`;
    const server = new URL(WHMCS_SERVER_URL ?? 'mysql://root@127.0.0.1:3306/test');
    const urlFor = (name: string, password: string, db: string) => `mysql://${name}:${password}@${server.hostname}:${server.port || 3306}/${db}`;

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      admin = await createConnection({ host: server.hostname, port: Number(server.port || 3306), user: decodeURIComponent(server.username), password: decodeURIComponent(server.password) });
      await admin.query(`create user '${user}'@'%' identified by 'right-password'`);
      // SELECT and UPDATE, but no INSERT.
      await admin.query(`grant select, update on \`${holder.whmcs.name}\`.tblpromotions to '${user}'@'%'`);
      await admin.query(`create database \`${emptyDb}\``);
    });
    afterAll(async () => {
      await admin?.query(`drop user if exists '${user}'@'%'`);
      await admin?.query(`drop database if exists \`${emptyDb}\``);
      await admin?.end();
      await database?.drop();
    });

    async function stateOf(whmcsUrl: string): Promise<{ state: string; message: string; issue: { status: number; json: any } }> {
      const dir = await createTestDatabase(dialect);
      const service = await startTestService({ DATABASE_URL: dir.url, WHMCS_DATABASE_URL: whmcsUrl, ...API });
      try {
        const set = await makeSet(service, { name: 'failing', api_ip_address: 'any' });
        const ready = await readyz(service.url);
        const issue = await postForm(localSetUrl(service, set), '');
        return { state: ready.dependencies.whmcs, message: ready.messages?.whmcs ?? '', issue };
      } finally {
        await service.stop();
        await dir.drop();
      }
    }

    it('a wrong password: credentials_refused, "check the user name and password"', async () => {
      const { state, message, issue } = await stateOf(urlFor(user, 'wrong-password', holder.whmcs.name));
      expect(state).toBe('credentials_refused');
      expect(message).toContain('refused promoset\'s login to database');
      expect(message).toContain('(Access denied for user');
      expect(message).toContain('Check the user name and password in WHMCS_DATABASE_URL');
      expect(issue.status).toBe(503);
      expect(issue.json.message).toContain('Access denied');
      expect(issue.json.message).not.toContain('could not be reached');
    });

    it('a database without tblpromotions: wrong_database, "check that the URL names WHMCS\'s own database"', async () => {
      const { state, message, issue } = await stateOf(urlFor(decodeURIComponent(server.username), decodeURIComponent(server.password), emptyDb));
      expect(state).toBe('wrong_database');
      expect(message).toContain('has no tblpromotions table');
      expect(message).toContain('names WHMCS\'s own database');
      expect(issue.status).toBe(503);
      expect(issue.json.message).toContain('has no tblpromotions table');
    });

    it('no INSERT grant: missing_grants, naming the grants to give', async () => {
      const { state, message, issue } = await stateOf(urlFor(user, 'right-password', holder.whmcs.name));
      expect(state).toBe('missing_grants');
      expect(message).toContain('INSERT command denied');
      expect(message).toContain(`Grant it SELECT, INSERT, UPDATE on ${holder.whmcs.name}.tblpromotions`);
      expect(issue.status).toBe(503);
      expect(issue.json.message).toContain('INSERT command denied');
    });

    it('WHMCS_REQUIRED=true with WHMCS refusing the login: the server does not start, and says why', async () => {
      const dir = await createTestDatabase(dialect);
      try {
        const refused = await startTestService({ DATABASE_URL: dir.url, WHMCS_DATABASE_URL: urlFor(user, 'wrong-password', holder.whmcs.name), WHMCS_REQUIRED: 'true' }).then(
          async (service) => {
            await service.stop();
            return 'started';
          },
          (error: Error) => error.message,
        );
        expect(refused).toContain('refused promoset\'s login');
        expect(refused).toContain('Check the user name and password in WHMCS_DATABASE_URL');
      } finally {
        await dir.drop();
      }
    });

    it('nobody listening: unreachable, naming host and port', async () => {
      const { state, message } = await stateOf(`mysql://root@127.0.0.1:1/${holder.whmcs.name}`);
      expect(state).toBe('unreachable');
      expect(message).toContain(`The billing system (WHMCS) could not be reached, so issuing, redeeming and voiding answer 503: database "${holder.whmcs.name}" on 127.0.0.1:1 did not answer`);
    });
  });
});

it('an unreachable DATABASE_URL at start-up names the variable and the host', async () => {
  const url = 'postgres://postgres@127.0.0.1:1/test';
  const cli = await runCli(['sets', 'list'], { DATABASE_URL: url });
  expect(cli.code).toBe(1);
  expect(cli.stderr).toContain('DATABASE_URL');
  expect(cli.stderr).toContain('127.0.0.1:1');
  const serve = await runCli(['serve'], { DATABASE_URL: url, PORT: '0' });
  expect(serve.code).toBe(1);
  expect(serve.stderr).toContain('promoset\'s database (DATABASE_URL, PostgreSQL at 127.0.0.1:1/test) could not be reached');
});
