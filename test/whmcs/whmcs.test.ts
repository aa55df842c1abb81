import { afterAll, beforeAll, expect, it } from 'vitest';
import { addDays, todayIn } from '../../src/domain/dates.js';
import type { PromoSet } from '../../src/domain/set.js';
import { syncWhmcsUses } from '../../src/service/billing.js';
import { listSets } from '../../src/service/sets.js';
import { usageOfBatches } from '../../src/service/usage.js';
import { countPromotions } from '../../src/store/promotions.js';
import { redeemWhmcsPromotion, restoreWhmcsPromotion, rollbackWhmcsUse, voidWhmcsPromotions } from '../../src/whmcs/promotions.js';
import { createTestDatabase, describeEachDialect, type Dialect, type TestDatabase } from '../support/databases.js';
import { runCli } from '../support/processes.js';
import { startTestService, type TestService } from '../support/service.js';
import { phpCheckout, phpMissing } from '../support/php-checkout.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';
import { SEED_SET_FIELDS, localSetUrl, makeSet, postForm, rawRequest } from '../http/helpers.js';

const AUTH = 'username=whmcs-id&password=whmcs-secret-value';
const today = todayIn('UTC');

describeWithWhmcs('WHMCS tblpromotions sink (real MariaDB)', () => {
  const holder = useWhmcsDatabase();

  describeEachDialect('issuing through WHMCS', (dialect: Dialect) => {
    let database: TestDatabase;
    let service: TestService;
    let set: PromoSet;
    let url: string;
    const whmcs = () => holder.whmcs;

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      service = await startTestService({
        DATABASE_URL: database.url, WHMCS_DATABASE_URL: whmcs().url, RATE_LIMIT_PER_MINUTE: '0',
        WHMCS_API_IDENTIFIER: 'whmcs-id', WHMCS_API_SECRET: 'whmcs-secret-value', ADMIN_API_TOKEN: 'admin-token-0123456789',
      });
      set = await makeSet(service, { ...SEED_SET_FIELDS, name: `seed-${dialect}`, api_ip_address: 'any', start_date: today, expiration_date: addDays(today, 30) });
      url = localSetUrl(service, set);
    });
    afterAll(async () => {
      await service?.stop();
      await database?.drop();
    });

    it('set URL POST: the code is a tblpromotions row with all 21 columns as the reply says, and the reply id is its row id', async () => {
      const reply = await postForm(url, 'name=puqcloud.com&notes=for+checkout');
      expect(reply.status).toBe(200);
      const promotion = reply.json;
      const [row] = await whmcs().rows<Record<string, unknown>>('select * from tblpromotions where id = ?', [promotion.id]);
      expect(row).toBeDefined();
      expect({ ...row, value: String(row.value) }).toEqual({ ...promotion, uses: 0 });
      expect(row.upgradeconfig).toBe(promotion.upgradeconfig);
      expect(promotion.code).toMatch(/^puqcloud\.com-/);

      const listed = await postForm(`${service.url}/includes/api.php`, `action=GetPromotions&${AUTH}&responsetype=json&code=${promotion.code}`);
      expect(listed.json.promotions.promotion).toEqual([promotion]);
    });

    it.skipIf(phpMissing)('WHMCS\'s checkout rules (PHP, PDO MySQL) accept the written row, found in another letter case', async () => {
      const reply = await postForm(url, 'name=php-check');
      const verdict = await phpCheckout(whmcs().url, reply.json.code.toLowerCase());
      expect(verdict).toMatchObject({ accepted: true, failed: [], id: reply.json.id });
      expect(verdict.upgradeconfig).toEqual({ value: '11', type: 'product', discounttype: 'Percentage', configoptions: ['11', '13'] });
      // The void and restore ports (issue 12): voided, WHMCS refuses it as expired; restored, it takes it again.
      await voidWhmcsPromotions(service.core.whmcs!.db, [reply.json.id], addDays(today, -1));
      expect(await phpCheckout(whmcs().url, reply.json.code)).toMatchObject({ accepted: false, failed: ['expired'] });
      await restoreWhmcsPromotion(service.core.whmcs!.db, reply.json.id, { startdate: reply.json.startdate, expirationdate: reply.json.expirationdate });
      expect(await phpCheckout(whmcs().url, reply.json.code)).toMatchObject({ accepted: true });
      // Redeem is guarded by maxuses (11 for the seed's set); rollback gives one back.
      await whmcs().sql.query('update tblpromotions set uses = 10 where id = ?', [reply.json.id]);
      expect(await redeemWhmcsPromotion(service.core.whmcs!.db, reply.json.id)).toBe(11);
      expect(await redeemWhmcsPromotion(service.core.whmcs!.db, reply.json.id)).toBeUndefined();
      expect(await phpCheckout(whmcs().url, reply.json.code)).toMatchObject({ accepted: false, failed: ['used_up'] });
      expect(await rollbackWhmcsUse(service.core.whmcs!.db, reply.json.id)).toBe(10);
      expect(await phpCheckout(whmcs().url, reply.json.code)).toMatchObject({ accepted: true });
    });

    it('bulk: 5,000 codes in tblpromotions with the ids the JSON reply and the CSV export show', async () => {
      const reply = await postForm(`${url}/codes`, `amount=5000&code_prefix=BULK${dialect.toUpperCase()}&code_length=8`);
      expect(reply.status).toBe(200);
      const promotions: { id: number; code: string }[] = reply.json.promotions;
      expect(promotions).toHaveLength(5000);
      const rows = await whmcs().rows<{ id: number; code: string }>(`select id, code from tblpromotions where code like 'BULK${dialect.toUpperCase()}-%'`);
      expect(new Map(rows.map((r) => [r.code, r.id]))).toEqual(new Map(promotions.map((p) => [p.code, p.id])));
      const csv = await rawRequest(`${url}/batches/${reply.json.batch_id}.csv`);
      const fromCsv = csv.text.trim().split('\n').slice(1).map((line) => line.split(','));
      expect(new Map(fromCsv.map(([id, code]) => [code, Number(id)]))).toEqual(new Map(promotions.map((p) => [p.code, p.id])));
    });

    it('uses counted by WHMCS show in GetPromotions, the CSV export and the set\'s redeemed count', async () => {
      const reply = await postForm(url, 'name=used');
      await syncWhmcsUses(service.core);
      const before = (await listSets(service.core)).find((s) => s.set.id === set.id)!.redeemed;
      await whmcs().sql.query('update tblpromotions set uses = 3 where id = ?', [reply.json.id]);
      await syncWhmcsUses(service.core);
      const listed = await postForm(`${service.url}/includes/api.php`, `action=GetPromotions&${AUTH}&code=${reply.json.code}`);
      expect(listed.json.promotions.promotion[0]).toMatchObject({ id: reply.json.id, uses: 3 });
      const csv = await rawRequest(`${service.url}/api/sets/${set.id}/promotions?format=csv`, { headers: { authorization: 'Bearer admin-token-0123456789' } });
      expect(csv.text).toContain(`${reply.json.id},${reply.json.code},`);
      expect(csv.text.split('\n').find((line) => line.includes(reply.json.code))!.split(',')[7]).toBe('3');
      const summary = (await listSets(service.core)).find((s) => s.set.id === set.id)!;
      expect(summary.redeemed).toBe(before + 3);
      const admin = await rawRequest(`${service.url}/api/sets`, { headers: { authorization: 'Bearer admin-token-0123456789' } });
      expect(admin.json.sets.find((s: { id: number }) => s.id === set.id).redeemed).toBe(before + 3);
    });

    it('uses going back to 0 in WHMCS follow into promoset too (the uses sync is not only for rows WHMCS counts)', async () => {
      const reply = await postForm(url, 'name=back-to-zero');
      await whmcs().sql.query('update tblpromotions set uses = 2 where id = ?', [reply.json.id]);
      await syncWhmcsUses(service.core);
      const uses = async () => Number((await service.core.db.selectFrom('promotions').select('uses').where('code', '=', reply.json.code).executeTakeFirstOrThrow()).uses);
      expect(await uses()).toBe(2);
      // As after a redemption whose promoset commit was cut off and undone in WHMCS (chaos run).
      await whmcs().sql.query('update tblpromotions set uses = 0 where id = ?', [reply.json.id]);
      await syncWhmcsUses(service.core);
      expect(await uses()).toBe(0);
    });

    it('never generates a code WHMCS already holds in another letter case, and counts WHMCS\'s rows for feasibility', async () => {
      // 3 characters of the default alphabet: 26^3 = 17,576 codes; an admin made 9,000 of them by hand, lower-cased.
      const alphabet = '23456789BCDFGHJKMNPQRSTWXZ';
      const all: string[] = [];
      for (const a of alphabet) for (const b of alphabet) for (const c of alphabet) all.push(`crowd${dialect}-${a}${b}${c}`.toLowerCase());
      const handMade = all.filter((_, i) => i % 2 === 0).concat(all.filter((_, i) => i % 2 === 1).slice(0, 9000 - Math.ceil(all.length / 2)));
      for (let i = 0; i < handMade.length; i += 1000) {
        const chunk = handMade.slice(i, i + 1000);
        await whmcs().sql.query(
          `insert into tblpromotions (code, type, recurring, value, cycles, appliesto, requires, requiresexisting, startdate, expirationdate, maxuses, uses, lifetimepromo, applyonce, newsignups, existingclient, onceperclient, recurfor, upgrades, upgradeconfig, notes) values ${chunk.map(() => "(?, 'Percentage', 0, 10, '', '', '', 0, '0000-00-00', '0000-00-00', 0, 0, 0, 0, 0, 0, 0, 0, 0, '', 'by hand')").join(', ')}`,
          chunk,
        );
      }
      const prefix = `CROWD${dialect.toUpperCase()}`;
      // Room left: (17,576 - 9,000) / 2 = 4,288. Without counting WHMCS's rows it would be 8,788.
      const tooMany = await postForm(`${url}/codes`, `amount=4289&code_prefix=${prefix}&code_length=3`);
      expect(tooMany.status).toBe(422);
      expect(tooMany.json.code).toBe('code_space_exhausted');
      const reply = await postForm(`${url}/codes`, `amount=4000&code_prefix=${prefix}&code_length=3`);
      expect(reply.status).toBe(200);
      const promotions: { id: number; code: string }[] = reply.json.promotions;
      const codes = promotions.map((p) => p.code);
      const taken = new Set(handMade);
      expect(codes.filter((code) => taken.has(code.toLowerCase()))).toEqual([]);
      // About half of the first draw was taken in WHMCS and replaced: the reply, the CSV and WHMCS agree on the codes that replaced them, with their ids.
      expect(new Set(codes.map((code) => code.toLowerCase())).size).toBe(4000);
      const rows = await whmcs().rows<{ id: number; code: string }>('select id, code from tblpromotions where notes <> ? and code like ?', ['by hand', `${prefix}-%`]);
      expect(new Map(rows.map((r) => [r.code, r.id]))).toEqual(new Map(promotions.map((p) => [p.code, p.id])));
      const csv = await rawRequest(`${url}/batches/${reply.json.batch_id}.csv`);
      const fromCsv = csv.text.trim().split('\n').slice(1).map((line) => line.split(','));
      expect(new Map(fromCsv.map(([id, code]) => [code, Number(id)]))).toEqual(new Map(promotions.map((p) => [p.code, p.id])));
      // The replacements took the taken codes' places: the batch still holds exactly its count, which usage reports as issued.
      const stored = await service.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll<number | string>().as('n')).where('batch_id', '=', reply.json.batch_id).executeTakeFirstOrThrow();
      expect(Number(stored.n)).toBe(4000);
      expect((await usageOfBatches(service.core, [reply.json.batch_id])).get(reply.json.batch_id)).toEqual({ issued: 4000, redeemed: 0, voided: 0, usedUp: 0 });
      // Single codes too, through the group commit.
      for (let i = 0; i < 20; i++) {
        const one = await postForm(url, `name=${prefix}`);
        expect(one.status).toBe(200);
        expect(taken.has(one.json.code.toLowerCase())).toBe(false);
      }
      const [{ n }] = await whmcs().rows<{ n: number }>('select count(*) as n from tblpromotions where code like ?', [`${prefix}-%`]);
      expect(Number(n)).toBe(9000 + 4000 + 20);
    });

    it('archiving the set leaves its issued codes valid in WHMCS', async () => {
      const other = await makeSet(service, { name: `archive-${dialect}`, api_ip_address: 'any' });
      const reply = await postForm(localSetUrl(service, other), '');
      const archived = await rawRequest(`${service.url}/api/sets/${other.id}`, { method: 'DELETE', headers: { authorization: 'Bearer admin-token-0123456789' } });
      expect(archived.status).toBe(200);
      const [row] = await whmcs().rows<{ expirationdate: string }>('select expirationdate from tblpromotions where id = ?', [reply.json.id]);
      expect(row.expirationdate).toBe('0000-00-00');
    });

    it('the CLI writes its codes to WHMCS before printing them', async () => {
      const result = await runCli(['codes', set.name, '--amount', '25', '--prefix', `CLI${dialect}`], { DATABASE_URL: database.url, WHMCS_DATABASE_URL: whmcs().url });
      expect(result.code).toBe(0);
      const printed = result.stdout.trim().split('\n');
      expect(printed).toHaveLength(25);
      const rows = await whmcs().rows<{ code: string }>('select code from tblpromotions where code like ?', [`CLI${dialect}-%`]);
      expect(new Set(rows.map((r) => r.code))).toEqual(new Set(printed));
    });
  });

  describeEachDialect('WHMCS refusing or unreachable', (dialect: Dialect) => {
    let database: TestDatabase;
    let service: TestService;
    let set: PromoSet;
    let url: string;
    // A closed port: connections are refused at once.
    const unreachable = 'mysql://root@127.0.0.1:1/whmcs';

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      service = await startTestService({ DATABASE_URL: database.url, WHMCS_DATABASE_URL: unreachable, RATE_LIMIT_PER_MINUTE: '0' });
      set = await makeSet(service, { name: `down-${dialect}` });
      url = localSetUrl(service, set);
    });
    afterAll(async () => {
      await service?.stop();
      await database?.drop();
    });

    it('set URL POST and bulk answer 503 billing_unavailable with Retry-After, and nothing is kept', async () => {
      for (const target of [url, `${url}/codes`]) {
        const reply = await postForm(target, target === url ? '' : 'amount=50');
        expect(reply.status).toBe(503);
        expect(reply.json).toMatchObject({ result: 'error', code: 'billing_unavailable' });
        expect(reply.json.message).toMatch(/WHMCS/);
        expect(Number(reply.headers['retry-after'])).toBeGreaterThan(0);
      }
      expect(await countPromotions(service.core.db)).toBe(0);
      expect(Number((await service.core.db.selectFrom('batches').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(0);
      // The rest of the API keeps serving.
      expect((await rawRequest(`${service.url}/healthz`)).status).toBe(200);
    });

    it('a WHMCS that refuses the write (no tblpromotions there) gets the same answer, and keeps nothing on either side', async () => {
      const dbName = holder.whmcs.name;
      await holder.whmcs.sql.query(`create database if not exists \`${dbName}_empty\``);
      try {
        const emptyUrl = holder.whmcs.url.replace(dbName, `${dbName}_empty`);
        const refusing = await startTestService({ DATABASE_URL: database.url, WHMCS_DATABASE_URL: emptyUrl, RATE_LIMIT_PER_MINUTE: '0' });
        try {
          const reply = await postForm(url.replace(service.url, refusing.url), '');
          expect(reply.status).toBe(503);
          expect(reply.json.code).toBe('billing_unavailable');
          expect(await countPromotions(refusing.core.db)).toBe(0);
        } finally {
          await refusing.stop();
        }
      } finally {
        await holder.whmcs.sql.query(`drop database if exists \`${dbName}_empty\``);
      }
    });

    it('the CLI exits non-zero with one line', async () => {
      const result = await runCli(['codes', set.name, '--amount', '5'], { DATABASE_URL: database.url, WHMCS_DATABASE_URL: unreachable });
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Error: The billing system \(WHMCS\) could not be reached/)]);
      expect(result.stdout).toBe('');
    });
  });
});
