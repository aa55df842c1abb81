import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, postJson, rawRequest, shell } from './helpers.js';

const AUTH = 'username=whmcs-id&password=whmcs-secret-value';
// Seed 002's response keys.
const SEED_PROMOTION_KEYS = ['id', 'code', 'type', 'recurring', 'value', 'cycles', 'appliesto', 'requires', 'requiresexisting', 'startdate', 'expirationdate', 'maxuses', 'uses', 'lifetimepromo', 'applyonce', 'newsignups', 'existingclient', 'onceperclient', 'recurfor', 'upgrades', 'upgradeconfig', 'notes'];

describe('WHMCS-compatible GetPromotions: POST /includes/api.php', () => {
  let service: TestService;
  let api: string;
  const issued: any[] = [];

  beforeAll(async () => {
    service = await startTestService({ WHMCS_API_IDENTIFIER: 'whmcs-id', WHMCS_API_SECRET: 'whmcs-secret-value', RATE_LIMIT_PER_MINUTE: '0' });
    api = `${service.url}/includes/api.php`;
    const a = await makeSet(service, { promo_code_type: 'Fixed Amount', promo_value: '7.5', cycles: 'Monthly', applies_to: '1,2' });
    const b = await makeSet(service);
    for (const [set, body] of [[a, 'name=alpha'], [b, 'notes=second'], [a, 'value=9']] as const) {
      issued.push((await postForm(localSetUrl(service, set), body)).json);
    }
    const bulk = await postForm(`${localSetUrl(service, b)}/codes`, 'amount=3');
    issued.push(...bulk.json.promotions);
  });
  afterAll(() => service.stop());

  it('lists every promotion the set URLs issued, in seed 002\'s shape', async () => {
    const reply = await postForm(api, `action=GetPromotions&${AUTH}&responsetype=json`);
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.json)).toEqual(['result', 'totalresults', 'promotions']);
    expect(reply.json.result).toBe('success');
    expect(reply.json.totalresults).toBe(6);
    expect(Object.keys(reply.json.promotions)).toEqual(['promotion']);
    expect(reply.json.promotions.promotion).toEqual(issued);
    for (const promotion of reply.json.promotions.promotion) expect(Object.keys(promotion)).toEqual(SEED_PROMOTION_KEYS);
  });

  it('finds one promotion by code, in any letter case, with identifier/secret', async () => {
    const wanted = issued[2];
    const reply = await postForm(api, `action=GetPromotions&identifier=whmcs-id&secret=whmcs-secret-value&code=${wanted.code.toLowerCase()}`);
    expect(reply.json).toEqual({ result: 'success', totalresults: 1, promotions: { promotion: [wanted] } });
    const none = await postForm(api, `action=GetPromotions&${AUTH}&code=NOPE-123`);
    expect(none.json).toEqual({ result: 'success', totalresults: 0, promotions: { promotion: [] } });
  });

  it('works with curl as a WHMCS client would call it', async () => {
    const out = await shell(`curl -s ${api} -d action=GetPromotions -d ${AUTH.split('&')[0]} -d ${AUTH.split('&')[1]} -d responsetype=json -d code=${issued[0].code}`);
    expect(JSON.parse(out).promotions.promotion).toEqual([issued[0]]);
  });

  it('answers "Authentication Failed" (403) for wrong or missing credentials', async () => {
    for (const body of ['action=GetPromotions&username=whmcs-id&password=wrong', 'action=GetPromotions', 'action=GetPromotions&identifier=whmcs-id', 'action=GetPromotions&username=WHMCS-ID&password=whmcs-secret-value']) {
      const reply = await postForm(api, body);
      expect(reply.status).toBe(403);
      expect(reply.json).toMatchObject({ result: 'error', message: 'Authentication Failed' });
    }
    const json = await postJson(api, { action: 'GetPromotions', username: 'whmcs-id', password: 12345 });
    expect(json.status).toBe(403);
  });

  it('answers "Command Not Found" for another action, and refuses responsetype=xml clearly', async () => {
    const other = await postForm(api, `action=AddClient&${AUTH}`);
    expect(other.status).toBe(400);
    expect(other.json).toMatchObject({ result: 'error', message: 'Command Not Found' });
    const missing = await postForm(api, AUTH);
    expect(missing.json.message).toBe('Command Not Found');
    const xml = await postForm(api, `action=GetPromotions&${AUTH}&responsetype=xml`);
    expect(xml.status).toBe(400);
    expect(xml.json.message).toBe('responsetype=xml is not supported here; use responsetype=json.');
  });

  it('takes POST only', async () => {
    const reply = await rawRequest(`${api}?action=GetPromotions`);
    expect(reply.status).toBe(405);
  });
});

describe('GetPromotions with no WHMCS credentials configured', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.stop());

  it('refuses everyone with "Authentication Failed"', async () => {
    const reply = await postForm(`${service.url}/includes/api.php`, 'action=GetPromotions&username=&password=');
    expect(reply.status).toBe(403);
    expect(reply.json.message).toBe('Authentication Failed');
  });
});
