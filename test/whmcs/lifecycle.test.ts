import { afterAll, beforeAll, expect, it } from 'vitest';
import { addDays, todayIn } from '../../src/domain/dates.js';
import type { PromoSet } from '../../src/domain/set.js';
import { syncWhmcsUses } from '../../src/service/billing.js';
import { idRanges } from '../../src/whmcs/promotions.js';
import { createTestDatabase, describeEachDialect, type Dialect, type TestDatabase } from '../support/databases.js';
import { startServerProcess, type ServerProcess } from '../support/processes.js';
import { startTestService, type TestService } from '../support/service.js';
import { phpCheckout, phpMissing } from '../support/php-checkout.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';
import { localSetUrl, makeSet, postForm, postJson, rawRequest, type Reply } from '../http/helpers.js';

/**
 * Issue 12's lifecycle with issue 11's WHMCS sink: WHMCS's tblpromotions.uses
 * is the one counter (its checkout counts there too), a void moves the code's
 * expiration date in WHMCS, and an unreachable WHMCS changes nothing anywhere.
 */
const TOKEN = 'admin-token-0123456789';
const today = todayIn('UTC');

describeWithWhmcs('redeem, roll back, validate and void with WHMCS connected (real MariaDB)', () => {
  const holder = useWhmcsDatabase();
  const whmcsRow = async (id: number) => (await holder.whmcs.rows<{ uses: number; startdate: string; expirationdate: string }>('select uses, startdate, expirationdate from tblpromotions where id = ?', [id]))[0];

  describeEachDialect('one counter, one switch', (dialect: Dialect) => {
    let database: TestDatabase;
    let service: TestService;
    const admin = (method: string, path: string, on: TestService = service): Promise<Reply> =>
      rawRequest(`${on.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
    const issue = async (set: PromoSet, body = ''): Promise<any> => {
      const reply = await postForm(localSetUrl(service, set), body);
      expect(reply.status, reply.text).toBe(200);
      return reply.json;
    };
    const redeem = (set: PromoSet, body: Record<string, unknown>, headers: Record<string, string> = {}, on: TestService = service) =>
      postJson(`${localSetUrl(on, set)}/redemptions`, body, headers);
    const validate = (set: PromoSet, code: string) => rawRequest(`${localSetUrl(service, set)}/promotions/${encodeURIComponent(code)}`);
    const storedUses = async (code: string) =>
      Number((await service.core.db.selectFrom('promotions').select('uses').where('code', '=', code).executeTakeFirstOrThrow()).uses);

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      service = await startTestService({ DATABASE_URL: database.url, WHMCS_DATABASE_URL: holder.whmcs.url, ADMIN_API_TOKEN: TOKEN, RATE_LIMIT_PER_MINUTE: '0' });
    });
    afterAll(async () => {
      await service?.stop();
      await database?.drop();
    });

    it('redeem counts in WHMCS: the reply\'s uses is WHMCS\'s, promoset\'s copy agrees; rollback gives it back there, once', async () => {
      const set = await makeSet(service, { max_uses: 5, api_ip_address: 'any' });
      const promotion = await issue(set);
      const first = await redeem(set, { code: promotion.code.toLowerCase() });
      expect(first.status, first.text).toBe(200);
      expect(first.json.promotion).toEqual({ ...promotion, uses: 1 });
      expect((await whmcsRow(promotion.id)).uses).toBe(1);
      // A checkout in WHMCS itself counts a use there too; promoset's next redemption sees it.
      await holder.whmcs.sql.query('update tblpromotions set uses = uses + 1 where id = ?', [promotion.id]);
      const second = await redeem(set, { code: promotion.code });
      expect(second.json.promotion.uses).toBe(3);
      expect((await whmcsRow(promotion.id)).uses).toBe(3);
      expect((await validate(set, promotion.code)).json).toMatchObject({ valid: true, promotion: { uses: 3 } });
      await syncWhmcsUses(service.core);
      expect(await storedUses(promotion.code)).toBe(3);

      const rollbackUrl = `${localSetUrl(service, set)}/redemptions/${first.json.redemption_id}/rollback`;
      const back = await rawRequest(rollbackUrl, { method: 'POST' });
      expect(back.status, back.text).toBe(200);
      expect(back.json.promotion.uses).toBe(2);
      expect((await whmcsRow(promotion.id)).uses).toBe(2);
      expect(await storedUses(promotion.code)).toBe(2);
      const again = await rawRequest(rollbackUrl, { method: 'POST' });
      expect(again.status).toBe(409);
      expect(again.json.code).toBe('redemption_already_rolled_back');
      expect((await whmcsRow(promotion.id)).uses).toBe(2);
    });

    it('a code WHMCS\'s checkout used up is refused promotion_used_up by promoset, and validate says used_up', async () => {
      const set = await makeSet(service, { max_uses: 4, api_ip_address: 'any' });
      const promotion = await issue(set);
      await holder.whmcs.sql.query('update tblpromotions set uses = maxuses where id = ?', [promotion.id]);
      const reply = await redeem(set, { code: promotion.code });
      expect(reply.status).toBe(409);
      expect(reply.json.code).toBe('promotion_used_up');
      expect((await whmcsRow(promotion.id)).uses).toBe(4);
      expect(await storedUses(promotion.code)).toBe(0);
      expect((await validate(set, promotion.code)).json).toMatchObject({ valid: false, reason: 'used_up', promotion: { uses: 4 } });
      const redemptions = await service.core.db.selectFrom('redemptions').select('id').where('set_id', '=', set.id).execute();
      expect(redemptions).toEqual([]);
    });

    it('100 concurrent redemptions on maxuses 7: exactly 7 succeed, WHMCS uses = 7 = promoset\'s', async () => {
      const set = await makeSet(service, { max_uses: 7, api_ip_address: 'any' });
      const promotion = await issue(set);
      const replies = await Promise.all(Array.from({ length: 100 }, () => redeem(set, { code: promotion.code })));
      expect(replies.filter((r) => r.status >= 500)).toEqual([]);
      const ok = replies.filter((r) => r.status === 200);
      expect(ok).toHaveLength(7);
      expect(ok.map((r) => r.json.promotion.uses).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(replies.filter((r) => r.status === 409).every((r) => r.json.code === 'promotion_used_up')).toBe(true);
      expect((await whmcsRow(promotion.id)).uses).toBe(7);
      expect(await storedUses(promotion.code)).toBe(7);
    });

    it('an Idempotency-Key replay does not count twice in WHMCS', async () => {
      const set = await makeSet(service, { max_uses: 0, api_ip_address: 'any' });
      const promotion = await issue(set);
      const headers = { 'idempotency-key': `whmcs-${dialect}-once` };
      const first = await redeem(set, { code: promotion.code }, headers);
      const replay = await redeem(set, { code: promotion.code }, headers);
      expect(replay.status).toBe(200);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.json).toEqual(first.json);
      expect((await whmcsRow(promotion.id)).uses).toBe(1);
    });

    it.skipIf(phpMissing)('void: WHMCS\'s checkout refuses the code (expiration yesterday); unvoid: accepted again with its dates back', async () => {
      const set = await makeSet(service, { api_ip_address: 'any', expiration_date: addDays(today, 20) });
      const promotion = await issue(set);
      expect(await phpCheckout(holder.whmcs.url, promotion.code)).toMatchObject({ accepted: true });
      const voided = await admin('POST', `/api/promotions/${promotion.code}/void`);
      expect(voided.status, voided.text).toBe(200);
      expect((await whmcsRow(promotion.id)).expirationdate).toBe(addDays(today, -1));
      expect(await phpCheckout(holder.whmcs.url, promotion.code)).toMatchObject({ accepted: false, failed: ['expired'] });
      expect((await redeem(set, { code: promotion.code })).json.code).toBe('promotion_voided');
      expect((await whmcsRow(promotion.id)).uses).toBe(0);
      const restored = await admin('POST', `/api/promotions/${promotion.code}/unvoid`);
      expect(restored.status).toBe(200);
      expect(await whmcsRow(promotion.id)).toMatchObject({ startdate: promotion.startdate, expirationdate: addDays(today, 20) });
      expect(await phpCheckout(holder.whmcs.url, promotion.code)).toMatchObject({ accepted: true });
      expect((await redeem(set, { code: promotion.code })).status).toBe(200);
    });

    it('batch void of 3,000 codes moves them all in WHMCS, and nothing else; unvoid puts \'0000-00-00\' back', async () => {
      const set = await makeSet(service, { api_ip_address: 'any' });
      const bulk = await postForm(`${localSetUrl(service, set)}/codes`, `amount=3000&code_prefix=VB${dialect.toUpperCase()}&code_length=8`);
      expect(bulk.status).toBe(200);
      const neighbour = await issue(set);
      const ids: number[] = bulk.json.promotions.map((p: { id: number }) => p.id);
      // One bulk request's rows have consecutive ids: WHMCS's side of the batch void is a single `id between` UPDATE.
      expect(idRanges(ids)).toEqual([[Math.min(...ids), Math.max(...ids)]]);
      const voided = await admin('POST', `/api/sets/${set.id}/batches/${bulk.json.batch_id}/void`);
      expect(voided.status, voided.text).toBe(200);
      expect(voided.json.count).toBe(3000);
      const dates = async () => holder.whmcs.rows<{ expirationdate: string; n: number }>(`select expirationdate, count(*) as n from tblpromotions where id in (${ids.join(',')}) group by expirationdate`);
      expect((await dates()).map((r) => ({ ...r, n: Number(r.n) }))).toEqual([{ expirationdate: addDays(today, -1), n: 3000 }]);
      expect((await whmcsRow(neighbour.id)).expirationdate).toBe('0000-00-00');
      const restored = await admin('POST', `/api/sets/${set.id}/batches/${bulk.json.batch_id}/unvoid`);
      expect(restored.status, restored.text).toBe(200);
      expect((await dates()).map((r) => ({ ...r, n: Number(r.n) }))).toEqual([{ expirationdate: '0000-00-00', n: 3000 }]);
    });

    it('WHMCS unreachable: redeem, rollback, validate and void answer 503 billing_unavailable and change nothing in promoset', async () => {
      const set = await makeSet(service, { max_uses: 3, api_ip_address: 'any' });
      const promotion = await issue(set);
      const standing = await redeem(set, { code: promotion.code });
      expect(standing.status).toBe(200);
      const { batch_id: batchId } = await service.core.db.selectFrom('promotions').select('batch_id').where('code', '=', promotion.code).executeTakeFirstOrThrow();
      const down = await startTestService({ DATABASE_URL: database.url, WHMCS_DATABASE_URL: 'mysql://root@127.0.0.1:1/whmcs', ADMIN_API_TOKEN: TOKEN, RATE_LIMIT_PER_MINUTE: '0' });
      try {
        const replies = [
          await redeem(set, { code: promotion.code }, { 'idempotency-key': `down-${dialect}` }, down),
          await rawRequest(`${localSetUrl(down, set)}/redemptions/${standing.json.redemption_id}/rollback`, { method: 'POST' }),
          await rawRequest(`${localSetUrl(down, set)}/promotions/${promotion.code}`),
          await admin('POST', `/api/promotions/${promotion.code}/void`, down),
          await admin('POST', `/api/sets/${set.id}/batches/${batchId}/void`, down),
        ];
        for (const reply of replies) {
          expect(reply.status, reply.text).toBe(503);
          expect(reply.json).toMatchObject({ result: 'error', code: 'billing_unavailable', message: expect.stringMatching(/^The billing system \(WHMCS\) could not be reached, so (the|nothing)/) });
          expect(Number(reply.headers['retry-after'])).toBeGreaterThan(0);
        }
        const row = await service.core.db.selectFrom('promotions').select(['uses', 'voided_at']).where('code', '=', promotion.code).executeTakeFirstOrThrow();
        expect({ uses: Number(row.uses), voided_at: row.voided_at }).toEqual({ uses: 1, voided_at: null });
        const redemptions = await service.core.db.selectFrom('redemptions').select(['id', 'rolled_back_at']).where('set_id', '=', set.id).execute();
        expect(redemptions.map((r) => ({ id: Number(r.id), rolled_back_at: r.rolled_back_at }))).toEqual([{ id: standing.json.redemption_id, rolled_back_at: null }]);
        expect(await whmcsRow(promotion.id)).toMatchObject({ uses: 1, expirationdate: '0000-00-00' });
        // The same Idempotency-Key runs for real once WHMCS is back: the 503 kept no claim.
        const retried = await redeem(set, { code: promotion.code }, { 'idempotency-key': `down-${dialect}` });
        expect(retried.status).toBe(200);
        expect(retried.json.promotion.uses).toBe(2);
      } finally {
        await down.stop();
      }
    });
  });

  describeEachDialect('two server processes', (dialect: Dialect) => {
    let database: TestDatabase;
    let servers: ServerProcess[] = [];

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      servers = await Promise.all([1, 2].map(() => startServerProcess({ DATABASE_URL: database.url, WHMCS_DATABASE_URL: holder.whmcs.url, ADMIN_API_TOKEN: TOKEN, RATE_LIMIT_PER_MINUTE: '0' })));
    }, 60_000);
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.stop('SIGTERM')));
      await database?.drop();
    });

    it('200 redemptions split across 2 processes on maxuses 7: 7 successes, WHMCS uses = 7', async () => {
      const created = await rawRequest(`${servers[0].url}/api/sets`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `two-${dialect}`, max_uses: 7, api_ip_address: 'any' }),
      });
      expect(created.status, created.text).toBe(201);
      const path = new URL(created.json.url).pathname;
      const issued = await fetch(`${servers[0].url}${path}`, { method: 'POST' });
      const promotion = (await issued.json()) as { id: number; code: string };
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          fetch(`${servers[i % 2].url}${path}/redemptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: promotion.code }) }).then(async (r) => ({ status: r.status, json: (await r.json()) as any })),
        ),
      );
      expect(replies.filter((r) => r.status >= 500)).toEqual([]);
      expect(replies.filter((r) => r.status === 200)).toHaveLength(7);
      expect((await whmcsRow(promotion.id)).uses).toBe(7);
    });
  });
});
