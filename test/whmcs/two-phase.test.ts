import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { syncWhmcsUses } from '../../src/service/billing.js';
import { closeCore, openCore } from '../../src/service/core.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { createTestDatabase, describeEachDialect, type Dialect, type TestDatabase } from '../support/databases.js';
import { startServerProcess, type ServerProcess } from '../support/processes.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';
import { waitFor } from '../support/wait-for.js';
import { postForm, postJson, rawRequest, type Reply } from '../http/helpers.js';

/**
 * Redemptions and rollbacks with WHMCS are a two-phase commit (MariaDB XA,
 * promoset coordinating: service/whmcs-two-phase.ts). A server is killed -9,
 * or paused, at each step through PROMOSET_TEST_FAULTS; after a restart and
 * repair, WHMCS's uses equals promoset's standing redemptions, and what the
 * client was told (or is told on its retry) agrees with both.
 */
const TOKEN = 'admin-token-0123456789';

describeWithWhmcs('two-phase commit with WHMCS: kill -9 and races at each step (real MariaDB)', () => {
  const holder = useWhmcsDatabase();

  describeEachDialect('redemptions and rollbacks', (dialect: Dialect) => {
    let database: TestDatabase;
    let db: Db;
    const servers: ServerProcess[] = [];
    // Repair settles a prepared change once it is older than min(10 s, this): 1 s.
    const start = async (faults?: string) => {
      const server = await startServerProcess({
        DATABASE_URL: database.url, WHMCS_DATABASE_URL: holder.whmcs.url, ADMIN_API_TOKEN: TOKEN, WHMCS_PENDING_TIMEOUT_SECONDS: '1',
        ...(faults ? { PROMOSET_TEST_FAULTS: faults } : {}),
      });
      servers.push(server);
      return server;
    };

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      db = openDatabase(database.url);
    });
    afterAll(async () => {
      for (const server of servers) await server.stop();
      await db?.destroy();
      await database?.drop();
    });

    /** A set (max_uses 1 unless said) and one code issued from it, by `server`. */
    async function codeOn(server: ServerProcess, maxUses = 1): Promise<{ path: string; code: string; whmcsId: number }> {
      const created = await rawRequest(`${server.url}/api/sets`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `xa-${randomUUID().slice(0, 8)}`, promo_value: '5', max_uses: maxUses, api_ip_address: 'any' }),
      });
      expect(created.status, created.text).toBe(201);
      const path = new URL(created.json.url).pathname;
      const issued = await postForm(`${server.url}${path}`, '');
      expect(issued.status, issued.text).toBe(200);
      return { path, code: issued.json.code, whmcsId: issued.json.id };
    }
    const redeem = (server: ServerProcess, path: string, code: string, key: string): Promise<Reply> =>
      postJson(`${server.url}${path}/redemptions`, { code }, { 'idempotency-key': key });
    /** A request whose server is killed -9 under it: it gets no answer. */
    async function killedUnder(server: ServerProcess, url: string, init: RequestInit): Promise<void> {
      const answer = await fetch(url, init).then((res) => res.status, (error: Error) => error);
      expect(answer).toBeInstanceOf(Error);
      expect((await server.exited).signal).toBe('SIGKILL');
    }
    const whmcsUses = async (id: number) => Number((await holder.whmcs.rows<{ uses: number }>('select uses from tblpromotions where id = ?', [id]))[0].uses);
    const standing = async (code: string) => {
      const rows = await db.selectFrom('redemptions').innerJoin('promotions', 'promotions.id', 'redemptions.promotion_id')
        .select('redemptions.id').where('promotions.code', '=', code).where('redemptions.rolled_back_at', 'is', null).execute();
      return rows.length;
    };
    /** This promoset database's prepared XA transactions in WHMCS (its xids carry its install tag). */
    const prepared = async () => {
      const install = await db.selectFrom('settings').select('value').where('key', '=', 'whmcs_xa_install').executeTakeFirst();
      const rows = await holder.whmcs.rows<{ data: string }>('xa recover');
      return install ? rows.map((r) => String(r.data)).filter((xid) => xid.startsWith(`promoset:${install.value}:`)) : [];
    };
    const repaired = () => waitFor(prepared, (xids) => xids.length === 0, 'repair to settle the prepared change', { intervalMs: 100, timeoutMs: 30_000 });

    it('kill -9 after WHMCS prepared the use, before promoset recorded it: repair rolls it back; the code is free; the retry is told to wait, never refused', async () => {
      const crashing = await start('redeem.prepared=kill');
      const { path, code, whmcsId } = await codeOn(crashing);
      const key = randomUUID();
      await killedUnder(crashing, `${crashing.url}${path}/redemptions`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify({ code }) });
      // The window was hit: a prepared, undecided use in WHMCS (invisible: uses is still 0), nothing in promoset.
      expect(await prepared()).toHaveLength(1);
      expect(await whmcsUses(whmcsId)).toBe(0);
      expect(await standing(code)).toBe(0);

      const server = await start();
      await repaired();
      expect(server.log()).toMatch(/settled redemptions a crash left prepared in WHMCS.*"committed":0,"rolledBack":1/);
      expect(await whmcsUses(whmcsId)).toBe(0);
      expect(await standing(code)).toBe(0);
      const decisions = await db.selectFrom('whmcs_decisions').select('decision').where('redemption_id', 'is', null).execute();
      expect(decisions.map((d) => d.decision)).toContain('rollback');
      // The same key: its first request's claim is still pending (it died), so "retry later", not used_up.
      const retried = await redeem(server, path, code, key);
      expect(retried.status, retried.text).toBe(409);
      expect(retried.headers['retry-after']).toBeDefined();
      expect(retried.json.code).toBe('conflict');
      // The max_uses 1 code was not used up by the crash: a new request redeems it, counted once on both sides.
      const fresh = await redeem(server, path, code, randomUUID());
      expect(fresh.status, fresh.text).toBe(200);
      expect(fresh.json.promotion.uses).toBe(1);
      expect(await whmcsUses(whmcsId)).toBe(1);
      expect(await standing(code)).toBe(1);
      await server.stop();
    });

    it('kill -9 after promoset committed the redemption, before XA COMMIT: repair commits it in WHMCS; the retry replays the 2xx', async () => {
      const crashing = await start('redeem.committed=kill');
      const { path, code, whmcsId } = await codeOn(crashing);
      const key = randomUUID();
      await killedUnder(crashing, `${crashing.url}${path}/redemptions`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify({ code }) });
      expect(await prepared()).toHaveLength(1);
      expect(await standing(code)).toBe(1);
      expect(await whmcsUses(whmcsId)).toBe(0); // prepared, not yet committed

      const server = await start();
      await repaired();
      expect(server.log()).toMatch(/settled redemptions a crash left prepared in WHMCS.*"committed":1,"rolledBack":0/);
      expect(await whmcsUses(whmcsId)).toBe(1);
      expect(await standing(code)).toBe(1);
      const retried = await redeem(server, path, code, key);
      expect(retried.status, retried.text).toBe(200);
      const [redemption] = await db.selectFrom('redemptions').innerJoin('promotions', 'promotions.id', 'redemptions.promotion_id').select('redemptions.id').where('promotions.code', '=', code).execute();
      expect(retried.json.redemption_id).toBe(redemption.id);
      expect(retried.json.promotion).toMatchObject({ code, uses: 1 });
      // And the use is really taken: another request is refused.
      const other = await redeem(server, path, code, randomUUID());
      expect(other.status).toBe(409);
      expect(other.json.code).toBe('promotion_used_up');
      expect(await whmcsUses(whmcsId)).toBe(1);
      await server.stop();
    });

    it("the uses sync leaves alone a use promoset committed whose WHMCS change is still prepared (it reads there as before)", async () => {
      const crashing = await start('redeem.committed=kill');
      const { path, code, whmcsId } = await codeOn(crashing);
      await killedUnder(crashing, `${crashing.url}${path}/redemptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
      expect(await prepared()).toHaveLength(1);
      const promosetUses = async () => Number((await db.selectFrom('promotions').select('uses').where('code', '=', code).executeTakeFirstOrThrow()).uses);
      expect(await promosetUses()).toBe(1);
      expect(await whmcsUses(whmcsId)).toBe(0);

      // A sync that runs before repair (a server's first round, while the change is younger than the timeout).
      const core = await openCore({ databaseUrl: database.url, publicUrl: 'http://promoset.test', whmcsDatabaseUrl: holder.whmcs.url });
      try {
        await syncWhmcsUses(core);
      } finally {
        await closeCore(core);
      }
      expect(await promosetUses()).toBe(1);

      const server = await start();
      await repaired();
      expect(await whmcsUses(whmcsId)).toBe(1);
      expect(await promosetUses()).toBe(1);
      await server.stop();
    });

    it('race, repair first: a request stalled after PREPARE loses the decision to another process\'s repair, answers 503 and writes nothing; its retry redeems afresh', async () => {
      const stalled = await start('redeem.prepared=pause:4000');
      const other = await start();
      const { path, code, whmcsId } = await codeOn(other);
      const key = randomUUID();
      const answer = await redeem(stalled, path, code, key);
      expect(answer.status, answer.text).toBe(503);
      expect(answer.json.code).toBe('billing_unavailable');
      expect(answer.headers['retry-after']).toBeDefined();
      expect(await prepared()).toHaveLength(0); // the live request rolled its own prepared use back
      expect(await whmcsUses(whmcsId)).toBe(0);
      expect(await standing(code)).toBe(0);
      // The 503 released the key: the retry (on the other process) runs for real.
      const retried = await redeem(other, path, code, key);
      expect(retried.status, retried.text).toBe(200);
      expect(retried.json.promotion.uses).toBe(1);
      expect(await whmcsUses(whmcsId)).toBe(1);
      expect(await standing(code)).toBe(1);
      await stalled.stop();
      await other.stop();
    });

    it('race, request first: repair finds the decision "commit" and never undoes it; the request finishes with 200', async () => {
      const stalled = await start('redeem.committed=pause:4000');
      await start(); // a second process repairing meanwhile
      const { path, code, whmcsId } = await codeOn(stalled);
      const answer = await redeem(stalled, path, code, randomUUID());
      expect(answer.status, answer.text).toBe(200);
      await repaired();
      expect(await whmcsUses(whmcsId)).toBe(1);
      expect(await standing(code)).toBe(1);
      const decision = await db.selectFrom('whmcs_decisions').select(['decision']).where('redemption_id', '=', answer.json.redemption_id).executeTakeFirstOrThrow();
      expect(decision.decision).toBe('commit');
    });

    it('a void meeting a redemption held prepared in WHMCS: the void waits for it, and both succeed (no deadlock across the two databases)', async () => {
      // Repair stays away (30 s, and no earlier test's server with its 1 s): the redemption is only slow, not abandoned.
      for (const server of servers.splice(0)) await server.stop();
      const slowEnv = { DATABASE_URL: database.url, WHMCS_DATABASE_URL: holder.whmcs.url, ADMIN_API_TOKEN: TOKEN, WHMCS_PENDING_TIMEOUT_SECONDS: '30' };
      const stalled = await startServerProcess({ ...slowEnv, PROMOSET_TEST_FAULTS: 'redeem.prepared=pause:3000' });
      const other = await startServerProcess(slowEnv);
      servers.push(stalled, other);
      const { path, code, whmcsId } = await codeOn(other, 5);
      const redemption = redeem(stalled, path, code, randomUUID());
      await waitFor(prepared, (xids) => xids.length === 1, 'the redemption to hold its WHMCS row prepared', { intervalMs: 50, timeoutMs: 10_000 });
      // A void used to lock promoset's row, then wait for WHMCS's, while the redemption waited for promoset's: 503 after WHMCS's 10 s lock wait.
      const voided = await postJson(`${other.url}/api/promotions/${encodeURIComponent(code)}/void`, {}, { authorization: `Bearer ${TOKEN}` });
      const redeemed = await redemption;
      expect(redeemed.status, redeemed.text).toBe(200);
      expect(voided.status, voided.text).toBe(200);
      expect(voided.json.changed).toBe(true);
      expect(await whmcsUses(whmcsId)).toBe(1);
      expect(await standing(code)).toBe(1);
      const [row] = await holder.whmcs.rows<{ expirationdate: string }>('select cast(expirationdate as char) as expirationdate from tblpromotions where id = ?', [whmcsId]);
      expect(row.expirationdate < new Date().toISOString().slice(0, 10)).toBe(true);
      const stored = await db.selectFrom('promotions').select('voided_at').where('code', '=', code).executeTakeFirstOrThrow();
      expect(stored.voided_at).not.toBeNull();
      expect(await prepared()).toHaveLength(0);
    });

    it('rollback: kill -9 after WHMCS prepared giving the use back: repair undoes it, the redemption stands on both sides; the retried rollback gives it back once', async () => {
      const crashing = await start('rollback.prepared=kill');
      const { path, code, whmcsId } = await codeOn(crashing, 0);
      const redeemed = await redeem(crashing, path, code, randomUUID());
      expect(redeemed.status, redeemed.text).toBe(200);
      const rollbackPath = `${path}/redemptions/${redeemed.json.redemption_id}/rollback`;
      await killedUnder(crashing, `${crashing.url}${rollbackPath}`, { method: 'POST' });
      expect(await prepared()).toHaveLength(1);

      const server = await start();
      await repaired();
      expect(await whmcsUses(whmcsId)).toBe(1);
      expect(await standing(code)).toBe(1);
      const retried = await rawRequest(`${server.url}${rollbackPath}`, { method: 'POST' });
      expect(retried.status, retried.text).toBe(200);
      expect(retried.json.promotion.uses).toBe(0);
      expect(await whmcsUses(whmcsId)).toBe(0);
      expect(await standing(code)).toBe(0);
      await server.stop();
    });
  });
});
