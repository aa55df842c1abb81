import { afterAll, beforeAll, expect, it } from 'vitest';
import { todayIn } from '../../src/domain/dates.js';
import type { PromoSet } from '../../src/domain/set.js';
import { requestFingerprint, requestKeyFor } from '../../src/service/idempotency.js';
import { redeemPromotion } from '../../src/service/redemptions.js';
import { claimIdempotencyKey } from '../../src/store/idempotency.js';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, postJson, rawRequest, type Reply } from './helpers.js';

const TOKEN = 'admin-token-0123456789';

describeEachDialect('validate, redeem, roll back and void over real HTTP', (dialect) => {
  const ctx = useTestDatabase(dialect);
  let service: TestService;
  const admin = (method: string, path: string): Promise<Reply> =>
    rawRequest(`${service.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
  const issue = async (set: PromoSet, body = ''): Promise<any> => {
    const reply = await postForm(localSetUrl(service, set), body);
    expect(reply.status, reply.text).toBe(200);
    return reply.json;
  };
  const redeem = (set: PromoSet, body: Record<string, unknown>, headers: Record<string, string> = {}) => postJson(`${localSetUrl(service, set)}/redemptions`, body, headers);
  const validate = (set: PromoSet, code: string) => rawRequest(`${localSetUrl(service, set)}/promotions/${encodeURIComponent(code)}`);

  beforeAll(async () => {
    service = await startTestService({ DATABASE_URL: ctx.database.url, ADMIN_API_TOKEN: TOKEN, RATE_LIMIT_PER_MINUTE: '0', WHMCS_API_IDENTIFIER: 'whmcs-id', WHMCS_API_SECRET: 'whmcs-secret-value' });
  });
  afterAll(() => service?.stop());

  it('validate: valid with reason null and the promotion in seed 001 shape, in any letter case; it changes nothing', async () => {
    const set = await makeSet(service, { max_uses: 3, code_prefix: 'Val' });
    const promotion = await issue(set);
    for (const code of [promotion.code, promotion.code.toLowerCase(), promotion.code.toUpperCase()]) {
      const reply = await validate(set, code);
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ result: 'success', valid: true, reason: null, promotion });
    }
    // Nothing counted: the set's uses stay 0.
    expect((await validate(set, promotion.code)).json.promotion.uses).toBe(0);
  });

  it('validate: a code of another set, or no code at all, is 404 promotion_not_found; a forged URL 404; outside the allowlist 403', async () => {
    const set = await makeSet(service);
    const other = await makeSet(service);
    const foreign = await issue(other);
    for (const code of [foreign.code, 'NOSUCHCODE']) {
      const reply = await validate(set, code);
      expect(reply.status).toBe(404);
      expect(reply.json).toMatchObject({ result: 'error', code: 'promotion_not_found', fields: {} });
      expect(reply.json.message).toContain('in this set');
    }
    const forged = localSetUrl(service, set).replace(/.{4}$/, '0000');
    expect((await rawRequest(`${forged}/promotions/${foreign.code}`)).status).toBe(404);
    const locked = await makeSet(service, { api_ip_address: '203.0.113.9' });
    const lockedCode = 'ABCDEF';
    expect((await rawRequest(`${localSetUrl(service, locked)}/promotions/${lockedCode}`)).status).toBe(403);
    expect((await redeem(locked, { code: lockedCode })).status).toBe(403);
  });

  it('redeem counts one use at a time up to maxuses, then refuses with 409 promotion_used_up; rollback gives one use back, once', async () => {
    const set = await makeSet(service, { max_uses: 2 });
    const promotion = await issue(set);
    const first = await redeem(set, { code: promotion.code.toLowerCase() });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ result: 'success', redemption_id: expect.any(Number), promotion: { ...promotion, uses: 1 } });
    const second = await postForm(`${localSetUrl(service, set)}/redemptions`, `code=${promotion.code}&client_id=42`);
    expect(second.status).toBe(200);
    expect(second.json.promotion.uses).toBe(2);
    expect(second.json.redemption_id).not.toBe(first.json.redemption_id);

    const third = await redeem(set, { code: promotion.code });
    expect(third.status).toBe(409);
    expect(third.json).toEqual({ result: 'error', code: 'promotion_used_up', message: `The code ${promotion.code} has been used the maximum number of times (2). Ask the shop for a new code.`, fields: {} });
    expect((await validate(set, promotion.code)).json).toMatchObject({ valid: false, reason: 'used_up', promotion: { uses: 2 } });

    const rollbackUrl = (id: unknown) => `${localSetUrl(service, set)}/redemptions/${id}/rollback`;
    const back = await rawRequest(rollbackUrl(first.json.redemption_id), { method: 'POST' });
    expect(back.status).toBe(200);
    expect(back.json).toMatchObject({ result: 'success', redemption_id: first.json.redemption_id, rolled_back_at: expect.any(String), promotion: { code: promotion.code, uses: 1 } });
    const again = await rawRequest(rollbackUrl(first.json.redemption_id), { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ result: 'error', code: 'redemption_already_rolled_back' });
    expect((await validate(set, promotion.code)).json).toMatchObject({ valid: true, reason: null, promotion: { uses: 1 } });

    // Unknown ids, and another set's redemption, are the same 404.
    for (const id of ['999999', 'abc']) {
      const missing = await rawRequest(rollbackUrl(id), { method: 'POST' });
      expect(missing.status).toBe(404);
      expect(missing.json.code).toBe('redemption_not_found');
    }
    const otherSet = await makeSet(service);
    const otherRollback = await rawRequest(`${localSetUrl(service, otherSet)}/redemptions/${second.json.redemption_id}/rollback`, { method: 'POST' });
    expect(otherRollback.status).toBe(404);
    expect((await redeem(set, { code: promotion.code })).status).toBe(200);
  });

  it('bad input: no code is 400 with a field message, an unknown field 400, an unknown code 404; nothing is counted', async () => {
    const set = await makeSet(service);
    const promotion = await issue(set);
    const empty = await redeem(set, {});
    expect(empty.status).toBe(400);
    expect(empty.json).toMatchObject({ result: 'error', code: 'validation_failed', fields: { code: expect.any(String) } });
    const typo = await redeem(set, { code: promotion.code, clientid: '7' });
    expect(typo.status).toBe(400);
    expect(typo.json.fields).toEqual({ clientid: 'Unknown field "clientid".' });
    const unknown = await redeem(set, { code: 'NOPE-NOPE' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.code).toBe('promotion_not_found');
    const weird = await redeem(set, { code: { toString: '' } });
    expect(weird.status).toBe(400);
    expect((await validate(set, promotion.code)).json.promotion.uses).toBe(0);
  });

  it('once per client: a client_id is required, and the same client is refused a second time until its redemption is rolled back', async () => {
    const set = await makeSet(service, { once_per_client: 1, max_uses: 0 });
    const promotion = await issue(set);
    const anonymous = await redeem(set, { code: promotion.code });
    expect(anonymous.status).toBe(400);
    expect(anonymous.json.fields.client_id).toContain('once per client');
    const first = await redeem(set, { code: promotion.code, client_id: 'client-7' });
    expect(first.status).toBe(200);
    const repeat = await redeem(set, { code: promotion.code, client_id: 'client-7' });
    expect(repeat.status).toBe(409);
    expect(repeat.json).toMatchObject({ code: 'promotion_already_redeemed_by_client', message: `The client client-7 has already redeemed ${promotion.code}; it can be used once per client.` });
    expect((await redeem(set, { code: promotion.code, client_id: 8 })).status).toBe(200);
    expect((await validate(set, promotion.code)).json.promotion.uses).toBe(2);
    await rawRequest(`${localSetUrl(service, set)}/redemptions/${first.json.redemption_id}/rollback`, { method: 'POST' });
    expect((await redeem(set, { code: promotion.code, client_id: 'client-7' })).status).toBe(200);
  });

  it('once per client, concurrently: repeats refused in a shared transaction give their use back, the others count', async () => {
    const set = await makeSet(service, { once_per_client: 1, max_uses: 0 });
    const promotion = await issue(set);
    // 12 clients, each three times at once: requests that arrive together share one transaction.
    const clients = Array.from({ length: 12 }, (_, i) => `client-${i}`);
    const replies = await Promise.all([...clients, ...clients, ...clients].map((client_id) => redeem(set, { code: promotion.code, client_id })));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(12);
    expect(replies.filter((r) => r.status === 409).map((r) => r.json.code)).toEqual(new Array(24).fill('promotion_already_redeemed_by_client'));
    expect(new Set(replies.filter((r) => r.status === 200).map((r) => r.json.redemption_id)).size).toBe(12);
    // A refused repeat counted nothing: uses is exactly one per client.
    expect((await validate(set, promotion.code)).json.promotion.uses).toBe(12);
  });

  it('an Idempotency-Key replays the first result (a success or a refusal) and counts once', async () => {
    const set = await makeSet(service, { max_uses: 1 });
    const promotion = await issue(set);
    const key = { 'idempotency-key': `checkout-${dialect}-1` };
    const first = await redeem(set, { code: promotion.code }, key);
    expect(first.status).toBe(200);
    const replay = await redeem(set, { code: promotion.code }, key);
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json).toEqual(first.json);
    expect((await validate(set, promotion.code)).json.promotion.uses).toBe(1);
    // A new key is a new redemption: refused, and that refusal is replayed as such.
    const otherKey = { 'idempotency-key': `checkout-${dialect}-2` };
    const refused = await redeem(set, { code: promotion.code }, otherKey);
    expect(refused.status).toBe(409);
    const refusedAgain = await redeem(set, { code: promotion.code }, otherKey);
    expect(refusedAgain.status).toBe(409);
    expect(refusedAgain.headers['idempotent-replayed']).toBe('true');
    expect(refusedAgain.json).toEqual(refused.json);
    // The same key for a different body is refused.
    expect((await redeem(set, { code: promotion.code, client_id: 'x' }, key)).status).toBe(409);
  });

  it('a redemption that committed but whose reply was lost (a crash after COMMIT) is replayed, not counted again', async () => {
    const set = await makeSet(service, { max_uses: 5 });
    const promotion = await issue(set);
    const body = JSON.stringify({ code: promotion.code });
    const claimedAt = new Date().toISOString();
    // What a crashed first request leaves: its pending claim, and its committed redemption carrying the claim's key.
    await claimIdempotencyKey(service.core.db, { setId: set.id, key: `lost-${dialect}`, fingerprint: requestFingerprint(['redeem', Buffer.from(body)]), format: null, now: claimedAt });
    const first = await redeemPromotion(service.core, set, { code: promotion.code }, 'http:127.0.0.1', { requestKey: requestKeyFor(set.id, `lost-${dialect}`, claimedAt) });
    const retry = await rawRequest(`${localSetUrl(service, set)}/redemptions`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `lost-${dialect}` }, body });
    expect(retry.status).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json).toEqual(first);
    expect((await validate(set, promotion.code)).json.promotion.uses).toBe(1);
  });

  it('void and unvoid one code through the admin API: refused by validate and redeem while voided, audited', async () => {
    const set = await makeSet(service);
    const promotion = await issue(set);
    const voided = await admin('POST', `/api/promotions/${promotion.code.toLowerCase()}/void`);
    expect(voided.status).toBe(200);
    expect(voided.json).toEqual({ result: 'success', promotion, set_id: set.id, voided: true, changed: true });
    expect((await admin('POST', `/api/promotions/${promotion.code}/void`)).json.changed).toBe(false);
    expect((await validate(set, promotion.code)).json).toMatchObject({ valid: false, reason: 'voided' });
    const refused = await redeem(set, { code: promotion.code });
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ code: 'promotion_voided', message: `The code ${promotion.code} has been voided and can no longer be used. Ask the shop for a new code.` });
    const restored = await admin('POST', `/api/promotions/${promotion.code}/unvoid`);
    expect(restored.json).toMatchObject({ voided: false, changed: true });
    expect((await redeem(set, { code: promotion.code })).status).toBe(200);
    const missing = await admin('POST', '/api/promotions/NOSUCH/void');
    expect(missing.status).toBe(404);
    expect(missing.json.code).toBe('promotion_not_found');
    expect((await rawRequest(`${service.url}/api/promotions/${promotion.code}/void`, { method: 'POST' })).status).toBe(401);

    const audit = await admin('GET', `/api/sets/${set.id}/audit`);
    const actions = audit.json.events.filter((e: any) => e.action === 'voided' || e.action === 'unvoided');
    expect(actions.map((e: any) => [e.action, e.actor, e.detail])).toEqual([
      ['unvoided', 'admin-api', { codes: [promotion.code], count: 1 }],
      ['voided', 'admin-api', { codes: [promotion.code], count: 1 }],
    ]);
  });

  it('void a batch of 5,000 codes in one call; the CSV shows voided and uses; usage counts; unvoid restores', async () => {
    const set = await makeSet(service, { max_uses: 1 });
    const bulk = await postForm(`${localSetUrl(service, set)}/codes`, 'amount=5000');
    expect(bulk.status).toBe(200);
    const batchId = bulk.json.batch_id;
    const [used, , third] = bulk.json.promotions;
    expect((await redeem(set, { code: used.code })).status).toBe(200);

    const voided = await admin('POST', `/api/sets/${set.id}/batches/${batchId}/void`);
    expect(voided.status).toBe(200);
    expect(voided.json).toEqual({ result: 'success', batch_id: batchId, set_id: set.id, count: 5000, voided: true });
    expect((await validate(set, third.code)).json.reason).toBe('voided');
    expect((await redeem(set, { code: third.code })).json.code).toBe('promotion_voided');

    const csv = await rawRequest(`${localSetUrl(service, set)}/batches/${batchId}.csv`);
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('id,code,type,value,startdate,expirationdate,maxuses,uses,notes,voided');
    expect(lines).toHaveLength(5001);
    expect(lines.slice(1).every((line) => line.endsWith(',1'))).toBe(true);
    expect(lines.find((line) => line.includes(used.code))!.split(',')[7]).toBe('1');

    const shown = await admin('GET', `/api/sets/${set.id}`);
    expect(shown.json.usage).toEqual({ issued: 5000, redeemed: 1, voided: 5000, used_up: 1 });

    const otherSet = await makeSet(service);
    expect((await admin('POST', `/api/sets/${otherSet.id}/batches/${batchId}/void`)).status).toBe(404);

    const restored = await admin('POST', `/api/sets/${set.id}/batches/${batchId}/unvoid`);
    expect(restored.json).toMatchObject({ count: 5000, voided: false });
    expect((await validate(set, third.code)).json).toMatchObject({ valid: true, reason: null });
    const audit = await admin('GET', `/api/sets/${set.id}/audit`);
    expect(audit.json.events.filter((e: any) => e.action.endsWith('voided')).map((e: any) => [e.action, e.detail])).toEqual([
      ['unvoided', { batch_id: batchId, count: 5000 }],
      ['voided', { batch_id: batchId, count: 5000 }],
    ]);
  });

  it('archiving a set stops it issuing codes, but the codes it issued can still be validated, redeemed and rolled back', async () => {
    const set = await makeSet(service, { max_uses: 0 });
    const promotion = await issue(set);
    expect((await admin('DELETE', `/api/sets/${set.id}`)).status).toBe(200);
    expect((await postForm(localSetUrl(service, set), '')).status).toBe(404);
    expect((await validate(set, promotion.code)).json).toMatchObject({ valid: true, reason: null });
    const redeemed = await redeem(set, { code: promotion.code });
    expect(redeemed.status).toBe(200);
    expect((await rawRequest(`${localSetUrl(service, set)}/redemptions/${redeemed.json.redemption_id}/rollback`, { method: 'POST' })).status).toBe(200);
  });

  it('GetPromotions shows the real uses', async () => {
    const set = await makeSet(service, { max_uses: 0 });
    const promotion = await issue(set);
    await redeem(set, { code: promotion.code });
    await redeem(set, { code: promotion.code });
    const reply = await postForm(`${service.url}/includes/api.php`, `action=GetPromotions&username=whmcs-id&password=whmcs-secret-value&code=${promotion.code}`);
    expect(reply.json.promotions.promotion).toEqual([{ ...promotion, uses: 2 }]);
  });

  it('expired and not-yet-started codes are refused with their own code and sentence', async () => {
    const set = await makeSet(service);
    const expired = await issue(set);
    const future = await issue(set, 'start_date=2099-01-01&expiry_date=2099-12-31');
    // Move the first code's batch into the past (the API refuses to issue such a code).
    await service.core.db.updateTable('batches').set({ startdate: '2020-01-01', expirationdate: '2020-12-31' })
      .where('id', '=', service.core.db.selectFrom('promotions').select('batch_id').where('id', '=', expired.id)).execute();
    const late = await redeem(set, { code: expired.code });
    expect(late.status).toBe(409);
    expect(late.json).toMatchObject({ code: 'promotion_expired', message: `The code ${expired.code} expired on 2020-12-31. Ask the shop for a new code.` });
    expect((await validate(set, expired.code)).json).toMatchObject({ valid: false, reason: 'expired' });
    const early = await redeem(set, { code: future.code });
    expect(early.status).toBe(409);
    expect(early.json).toMatchObject({ code: 'promotion_not_started', message: `The code ${future.code} is valid from 2099-01-01. Try again on or after that date.` });
    expect((await validate(set, future.code)).json.reason).toBe('not_started');
  });
});

describeEachDialect('redemption dates follow PROMO_TIMEZONE', (dialect) => {
  const ctx = useTestDatabase(dialect);
  let east: TestService;
  let west: TestService;
  beforeAll(async () => {
    // UTC+14 and UTC-11: at every instant, Kiritimati's date is a day or two after Pago Pago's.
    east = await startTestService({ DATABASE_URL: ctx.database.url, PROMO_TIMEZONE: 'Pacific/Kiritimati', RATE_LIMIT_PER_MINUTE: '0' });
    west = await startTestService({ DATABASE_URL: ctx.database.url, PROMO_TIMEZONE: 'Pacific/Pago_Pago', RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(async () => {
    await east?.stop();
    await west?.stop();
  });

  it('a code starting "today" in Kiritimati is valid there and not started yet in Pago Pago', async () => {
    const kiritimatiToday = todayIn('Pacific/Kiritimati');
    const set = await makeSet(east, { start_date: kiritimatiToday });
    const promotion = (await postForm(localSetUrl(east, set), '')).json;
    expect(promotion.startdate).toBe(kiritimatiToday);
    const westReply = await postJson(`${localSetUrl(west, set)}/redemptions`, { code: promotion.code });
    expect(westReply.status).toBe(409);
    expect(westReply.json.code).toBe('promotion_not_started');
    expect((await rawRequest(`${localSetUrl(west, set)}/promotions/${promotion.code}`)).json.reason).toBe('not_started');
    const eastReply = await postJson(`${localSetUrl(east, set)}/redemptions`, { code: promotion.code });
    expect(eastReply.status).toBe(200);
    expect(eastReply.json.promotion.uses).toBe(1);
  });
});
