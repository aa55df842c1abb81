import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { signWebhook } from '../../src/domain/webhooks.js';
import { syncWhmcsUses } from '../../src/service/billing.js';
import { createTestDatabase, describeEachDialect, type Dialect, type TestDatabase } from '../support/databases.js';
import { startTestService, type TestService } from '../support/service.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';
import { localSetUrl, makeSet, postJson, rawRequest } from '../http/helpers.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * POST /whmcs/hooks, promoset's side (the addon's PHP is tested in addon.test.ts):
 * the signature as the only credential, idempotency per order, and the
 * agreement of the hooks with the 30-second uses sync in every order.
 */
const SECRET = 'whmcs-hook-secret-0123456789';

function signed(service: TestService, body: unknown, options: { secret?: string; at?: number; raw?: string } = {}) {
  const text = options.raw ?? JSON.stringify(body);
  const t = options.at ?? Math.floor(Date.now() / 1000);
  return rawRequest(`${service.url}/whmcs/hooks`, {
    method: 'POST', body: text,
    headers: { 'content-type': 'application/json', 'promoset-signature': signWebhook(options.secret ?? SECRET, text, t) },
  });
}

describeEachDialect('POST /whmcs/hooks: signed, idempotent', (dialect: Dialect) => {
  let database: TestDatabase;
  let service: TestService;
  let set: PromoSet;
  let code: string;
  const redemptions = () => service.core.db.selectFrom('redemptions').select(['id', 'rolled_back_at', 'client_id']).where('created_by', 'like', 'whmcs:order:%').execute();
  const uses = async () => Number((await service.core.db.selectFrom('promotions').select('uses').where('code', '=', code).executeTakeFirstOrThrow()).uses);

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    service = await startTestService({ DATABASE_URL: database.url, WHMCS_HOOK_SECRET: SECRET, RATE_LIMIT_PER_MINUTE: '0' });
    set = await makeSet(service, { max_uses: 1 });
    const issued = await postJson(localSetUrl(service, set), { client_id: 7 });
    code = issued.json.code;
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('401 for unsigned, forged, stale and malformed calls, and they change nothing', async () => {
    const body = { event: 'checkout', order_id: 900, promocodes: [code], client_id: 7 };
    const text = JSON.stringify(body);
    const now = Math.floor(Date.now() / 1000);
    const attempts = [
      rawRequest(`${service.url}/whmcs/hooks`, { method: 'POST', body: text, headers: { 'content-type': 'application/json' } }),
      signed(service, body, { secret: 'another-secret-0123456789' }),
      signed(service, body, { at: now - 301 }),
      signed(service, body, { at: now + 301 }),
      rawRequest(`${service.url}/whmcs/hooks`, { method: 'POST', body: text, headers: { 'content-type': 'application/json', 'promoset-signature': 't=abc,v1=zz' } }),
      // Signed over a different body than the one sent.
      rawRequest(`${service.url}/whmcs/hooks`, { method: 'POST', body: text.replace('900', '901'), headers: { 'content-type': 'application/json', 'promoset-signature': signWebhook(SECRET, text, now) } }),
      // Not even JSON: still 401 first, the body is never parsed.
      signed(service, null, { raw: '{not json', secret: 'another-secret-0123456789' }),
    ];
    for (const reply of await Promise.all(attempts)) {
      expect(reply.status, reply.text).toBe(401);
      expect(reply.json.code).toBe('unauthorized');
    }
    expect(await redemptions()).toEqual([]);
    expect(await uses()).toBe(0);
  });

  it('a signed but bad call is a 400 naming the field', async () => {
    const reply = await signed(service, { event: 'checkout', promocodes: [code] });
    expect(reply.status).toBe(400);
    expect(reply.json.fields).toEqual({ order_id: 'Send the WHMCS order id as order_id.' });
    const odd = await signed(service, { event: 'refund', order_id: 3 });
    expect(odd.json.fields.event).toBe('The event must be one of validate_checkout, checkout, cancel, fraud, delete.');
  });

  it('validate_checkout: the bound customer may, another may not, and a code promoset did not issue is WHMCS\'s to judge', async () => {
    expect((await signed(service, { event: 'validate_checkout', promocode: code, client_id: 7 })).json).toEqual({ result: 'success', event: 'validate_checkout', allowed: true, message: null });
    const other = await signed(service, { event: 'validate_checkout', promocode: code.toLowerCase(), client_id: 8, client_email: 'x@example.com' });
    expect(other.json).toEqual({ result: 'success', event: 'validate_checkout', allowed: false, message: `The code ${code} was issued to another customer and cannot be used on this account. Ask the shop for a code of your own.` });
    expect((await signed(service, { event: 'validate_checkout', promocode: 'NOT-OURS', client_id: 8 })).json.allowed).toBe(true);
  });

  it('checkout replayed (the same signed call twice) and repeated later records one redemption; cancel, fraud and delete roll it back once', async () => {
    const body = { event: 'checkout', order_id: 910, invoice_id: 9910, promocodes: [code], client_id: 7 };
    const first = await signed(service, body);
    expect(first.status, first.text).toBe(200);
    expect(first.json.codes).toEqual([{ code, outcome: 'recorded', redemption_id: expect.any(Number), uses: 1 }]);
    const again = await Promise.all([signed(service, body), signed(service, body)]);
    for (const reply of again) expect(reply.json.codes[0]).toMatchObject({ outcome: 'already_recorded', uses: 1 });
    expect(await redemptions()).toHaveLength(1);
    expect(await uses()).toBe(1);
    for (const event of ['cancel', 'fraud', 'delete']) {
      const reply = await signed(service, { event, order_id: 910, promocodes: [code] });
      expect(reply.json.codes[0].outcome).toBe(event === 'cancel' ? 'rolled_back' : 'already_rolled_back');
    }
    expect(await uses()).toBe(0);
    expect((await redemptions())[0].rolled_back_at).not.toBeNull();
  });

  it('a cancel before its checkout: the late checkout records nothing and counts nothing', async () => {
    expect((await signed(service, { event: 'cancel', order_id: 920 })).status).toBe(200);
    const late = await signed(service, { event: 'checkout', order_id: 920, promocodes: [code], client_id: 7 });
    expect(late.json.codes[0]).toMatchObject({ outcome: 'cancelled_before_checkout', redemption_id: null });
    expect(await uses()).toBe(0);
    expect((await redemptions()).filter((r) => r.rolled_back_at === null)).toEqual([]);
  });
});

describeWithWhmcs('hooks and the uses sync agree, whichever comes first (real MariaDB)', () => {
  const holder = useWhmcsDatabase();

  describeEachDialect('checkout, cancel and poll in every order', (dialect: Dialect) => {
    let database: TestDatabase;
    let service: TestService;
    let set: PromoSet;
    let receiver: WebhookReceiver;
    let order = 1000;

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      receiver = await startWebhookReceiver();
      service = await startTestService({
        DATABASE_URL: database.url, WHMCS_DATABASE_URL: holder.whmcs.url, WHMCS_HOOK_SECRET: SECRET, RATE_LIMIT_PER_MINUTE: '0', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      });
      set = await makeSet(service, { max_uses: 5, webhook_url: receiver.url });
      receiver.setSecret(set.webhook_secret!);
    });
    afterAll(async () => {
      await service?.stop();
      await receiver?.close();
      await database?.drop();
    });

    const issue = async () => (await postJson(localSetUrl(service, set), { client_id: 7 })).json as { code: string; id: number };
    const whmcsUses = async (id: number) => Number((await holder.whmcs.rows<{ uses: number }>('select uses from tblpromotions where id = ?', [id]))[0].uses);
    const promosetUses = async (code: string) => Number((await service.core.db.selectFrom('promotions').select('uses').where('code', '=', code).executeTakeFirstOrThrow()).uses);
    const standing = async (orderId: number) =>
      (await service.core.db.selectFrom('redemptions').select('id').where('created_by', '=', `whmcs:order:${orderId}`).where('rolled_back_at', 'is', null).execute()).length;

    const STEPS = ['checkout', 'cancel', 'poll'] as const;
    const permutations = (items: readonly string[]): string[][] => (items.length <= 1 ? [[...items]] : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])));

    it('every order of checkout, cancel and poll ends with WHMCS and promoset at 0 uses and no standing redemption', async () => {
      for (const steps of permutations(STEPS)) {
        const { code, id } = await issue();
        const orderId = ++order;
        // WHMCS's own checkout counted the use before any hook or poll can see the order.
        await holder.whmcs.sql.query('update tblpromotions set uses = uses + 1 where id = ?', [id]);
        for (const step of steps) {
          if (step === 'poll') await syncWhmcsUses(service.core);
          else {
            const reply = await signed(service, { event: step, order_id: orderId, promocodes: [code], client_id: 7 });
            expect(reply.status, `${steps.join(' → ')}: ${reply.text}`).toBe(200);
          }
        }
        await syncWhmcsUses(service.core);
        expect([await whmcsUses(id), await promosetUses(code), await standing(orderId)], steps.join(' → ')).toEqual([0, 0, 0]);
      }
    });

    it('checkout and poll in either order count the use once, in both databases, and promotion.redeemed reaches the receiver, signed, from the checkout', async () => {
      for (const steps of [['checkout', 'poll'], ['poll', 'checkout']]) {
        const { code, id } = await issue();
        const orderId = ++order;
        await holder.whmcs.sql.query('update tblpromotions set uses = uses + 1 where id = ?', [id]);
        for (const step of steps) {
          if (step === 'poll') await syncWhmcsUses(service.core);
          else await signed(service, { event: 'checkout', order_id: orderId, promocodes: [code], client_id: 7 });
        }
        expect([await whmcsUses(id), await promosetUses(code), await standing(orderId)], steps.join(' → ')).toEqual([1, 1, 1]);
        const forOrder = () => receiver.ofType('promotion.redeemed').filter((e) => e.body.data.order_id === orderId);
        await receiver.waitFor(() => forOrder().length > 0, `promotion.redeemed for order ${orderId}`);
        expect(forOrder()).toHaveLength(1);
        expect(forOrder()[0].body.data).toMatchObject({ client_id: '7', promotion: { code, uses: 1, id } });
        expect(receiver.rejected).toEqual([]);
      }
    });

    it('an order with two promo codes: both recorded, both given back on cancel, and the replay changes nothing', async () => {
      const a = await issue();
      const b = await issue();
      const orderId = ++order;
      for (const p of [a, b]) await holder.whmcs.sql.query('update tblpromotions set uses = uses + 1 where id = ?', [p.id]);
      const checkout = await signed(service, { event: 'checkout', order_id: orderId, promocodes: [a.code, b.code.toLowerCase(), a.code], client_id: 7 });
      expect(checkout.json.codes.map((c: any) => [c.code, c.outcome])).toEqual([[a.code, 'recorded'], [b.code, 'recorded']]);
      expect(await standing(orderId)).toBe(2);
      const cancel = await signed(service, { event: 'fraud', order_id: orderId, promocodes: [a.code, b.code] });
      expect(cancel.json.codes.map((c: any) => c.outcome)).toEqual(['rolled_back', 'rolled_back']);
      await signed(service, { event: 'delete', order_id: orderId, promocodes: [a.code, b.code] });
      await syncWhmcsUses(service.core);
      for (const p of [a, b]) expect([await whmcsUses(p.id), await promosetUses(p.code)]).toEqual([0, 0]);
      expect(await standing(orderId)).toBe(0);
    });
  });
});
