import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATE_RULES } from '../../src/domain/rules.js';
import type { PromoSet } from '../../src/domain/set.js';
import { archiveSet, getSet, rotateSetKey } from '../../src/service/sets.js';
import { setUrl } from '../../src/service/set-urls.js';
import { countPromotions } from '../../src/store/promotions.js';
import { startTestService, type TestService } from '../support/service.js';
import { SEED_SET_FIELDS, jsonTypes, localSetUrl, makeSet, postForm, postJson, rawRequest, shell } from './helpers.js';

// Seed 001's three examples, verbatim (line continuations included); only the URL is substituted.
const SEED_CURL_POST = String.raw`curl \
-X POST YOUR_URL_FROM_SET`;
const SEED_CURL_POST_FIELDS = String.raw`curl \
-X POST YOUR_URL_FROM_SET \
-d "name=puqcloud.com&\
value=50&\
promo_code_type=Fixed Amount&\
start_date=2024-01-01&\
expiry_date=2024-12-30&\
notes=TEST FOR DOCUMENTATION"`;
const SEED_CURL_GET = String.raw`curl \
-X GET YOUR_URL_FROM_SET`;

const UPGRADECONFIG = 'a:4:{s:5:"value";s:2:"11";s:4:"type";s:7:"product";s:12:"discounttype";s:10:"Percentage";s:13:"configoptions";a:2:{i:0;s:2:"11";i:1;s:2:"13";}}';

// Seed 001's response examples.
const SEED_POST_RESPONSE = {
  id: 61, code: 'XABKKA', type: 'Percentage', recurring: 1, value: '25.50',
  cycles: 'Quarterly,Semi-Annually,Annually,5Years,6Years,7Years', appliesto: '12,40,18', requires: '13,50,D.ua',
  requiresexisting: 0, startdate: '2024-01-01', expirationdate: '2024-01-27', maxuses: 11, uses: 0, lifetimepromo: 0,
  applyonce: 1, newsignups: 1, existingclient: 0, onceperclient: 0, recurfor: 0, upgrades: 1, upgradeconfig: UPGRADECONFIG, notes: 'TEST TEST',
};
const SEED_POST_FIELDS_RESPONSE = { ...SEED_POST_RESPONSE, id: 66, code: 'puqcloud.com-PFC', type: 'Fixed Amount', value: '50.00', expirationdate: '2024-12-30', notes: 'TEST FOR DOCUMENTATION' };
const SEED_GET_RESPONSE = {
  id: 1, name: 'test', api_ip_address: '77.87.125.4', api_key: 'XJCRRFKY9GZ55CDR9H98NFJND', promo_code_type: 'Percentage', recurring: 1,
  recur_for: 0, promo_value: 25.5, applies_to: ['12', '40', '18'], requires: ['13', '50', 'D.ua'], requires_existing: 0,
  cycles: ['Quarterly', 'Semi-Annually', 'Annually', '5Years', '6Years', '7Years'], start_date: '2024-01-01', expiration_date: '2024-01-27',
  max_uses: 11, lifetime_promo: 0, apply_once: 1, new_signups: 1, once_per_client: 0, existing_client: 0, upgrades: 1, upgrade_type: 'product',
  upgrade_discount_type: 'Percentage', upgrade_value: '11', config_option_upgrades: ['11', '13'], notes: 'TEST TEST',
  url: 'XJCRRFKY9GZ55CDR9H98NFJND-1-7dc8108e1a78c37c136732d464208a22',
};

const NOT_FOUND = { result: 'error', message: 'No promo set is published at this URL. Ask the set owner for its current URL.', code: 'not_found', fields: {} };

describe('set URL (seed 001) over real HTTP', () => {
  let service: TestService;
  let seedSet: PromoSet;
  let url: string;

  beforeAll(async () => {
    service = await startTestService();
    // The seed's dates are in 2024: run the service's "today" on the seed's start date.
    service.core.now = () => new Date('2024-01-01T12:00:00Z');
    // The seed's allowlist plus this machine, so curl from here is let in.
    seedSet = await makeSet(service, { ...SEED_SET_FIELDS, api_ip_address: '77.87.125.4,127.0.0.0/8' });
    url = localSetUrl(service, seedSet);
  });
  afterAll(() => service.stop());

  it('seed curl 1 (bare POST) returns the seed\'s keys, in order, with its JSON types and the set\'s terms', async () => {
    const promotion = JSON.parse(await shell(SEED_CURL_POST.replace('YOUR_URL_FROM_SET', url)));
    expect(Object.keys(promotion)).toEqual(Object.keys(SEED_POST_RESPONSE));
    expect(jsonTypes(promotion)).toEqual(jsonTypes(SEED_POST_RESPONSE));
    expect(promotion.code).toMatch(/^[23456789BCDFGHJKMNPQRSTWXZ]{6}$/);
    const { id: _id, code: _code, ...terms } = SEED_POST_RESPONSE;
    expect(promotion).toMatchObject(terms);
    expect(promotion.upgradeconfig).toBe(UPGRADECONFIG);
  });

  it('seed curl 2 (form fields with spaces) gives a puqcloud.com- code, Fixed Amount, "50.00", the dates and notes', async () => {
    const promotion = JSON.parse(await shell(SEED_CURL_POST_FIELDS.replace('YOUR_URL_FROM_SET', url)));
    expect(Object.keys(promotion)).toEqual(Object.keys(SEED_POST_FIELDS_RESPONSE));
    expect(jsonTypes(promotion)).toEqual(jsonTypes(SEED_POST_FIELDS_RESPONSE));
    expect(promotion.code).toMatch(/^puqcloud\.com-[23456789BCDFGHJKMNPQRSTWXZ]{6}$/);
    const { id: _id, code: _code, ...terms } = SEED_POST_FIELDS_RESPONSE;
    expect(promotion).toMatchObject(terms);
    expect(promotion).toMatchObject({ type: 'Fixed Amount', value: '50.00', startdate: '2024-01-01', expirationdate: '2024-12-30', notes: 'TEST FOR DOCUMENTATION' });
  });

  it('seed curl 3 (GET) returns the set in the seed\'s GET shape', async () => {
    const body = JSON.parse(await shell(SEED_CURL_GET.replace('YOUR_URL_FROM_SET', url)));
    expect(Object.keys(body)).toEqual(Object.keys(SEED_GET_RESPONSE));
    expect(jsonTypes(body)).toEqual(jsonTypes(SEED_GET_RESPONSE));
    const { id: _id, api_key: _key, url: _url, api_ip_address: _ip, ...fields } = SEED_GET_RESPONSE;
    expect(body).toMatchObject(fields);
    expect(body).toMatchObject({ id: seedSet.id, api_key: seedSet.api_key, api_ip_address: '77.87.125.4,127.0.0.0/8', url: setUrl(service.core, seedSet) });
  });

  it('takes the same fields as JSON', async () => {
    const reply = await postJson(url, { name: 'partner', value: 12.5, promo_code_type: 'Fixed Amount', expiry_date: '2024-06-30', notes: 'json' });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ type: 'Fixed Amount', value: '12.50', expirationdate: '2024-06-30', notes: 'json' });
    expect(reply.json.code).toMatch(/^partner-/);
  });

  it('answers the seed\'s two date errors verbatim, with 400, and stores nothing', async () => {
    const before = await countPromotions(service.core.db, { setId: seedSet.id });
    const past = await postForm(url, 'expiry_date=2023-12-31');
    expect(past.status).toBe(400);
    expect(past.json).toEqual({ result: 'error', message: DATE_RULES.expiryInPast, code: 'validation_failed', fields: { expiry_date: 'The expiry date must be a date in the future.' } });
    const beforeStart = await postForm(url, 'start_date=2024-03-01&expiry_date=2024-02-01');
    expect(beforeStart.status).toBe(400);
    expect(beforeStart.json.message).toBe('The expiry date must be later than the start date.');
    const badValue = await postForm(url, 'value=abc');
    expect(badValue.status).toBe(400);
    expect(badValue.json.fields).toEqual({ value: 'The value must be a number with at most 2 decimals, like 25 or 25.50.' });
    expect(await countPromotions(service.core.db, { setId: seedSet.id })).toBe(before);
  });

  it('refuses a caller outside the allowlist with 403 naming the address seen', async () => {
    const closed = await makeSet(service, { api_ip_address: '77.87.125.4,2001:db8::/32' });
    const reply = await postForm(localSetUrl(service, closed), '');
    expect(reply.status).toBe(403);
    expect(reply.json).toEqual({
      result: 'error', code: 'forbidden', fields: {},
      message: 'Requests from IP 127.0.0.1 are not allowed for this promo set. Ask the set owner to add 127.0.0.1 to its api_ip_address list.',
    });
    expect((await rawRequest(localSetUrl(service, closed))).status).toBe(403);
    expect(await countPromotions(service.core.db, { setId: closed.id })).toBe(0);
  });

  it('ignores X-Forwarded-For when TRUST_PROXY is unset', async () => {
    const closed = await makeSet(service, { api_ip_address: '203.0.113.7' });
    const reply = await postForm(localSetUrl(service, closed), '', { 'x-forwarded-for': '203.0.113.7' });
    expect(reply.status).toBe(403);
    expect(reply.json.message).toContain('Requests from IP 127.0.0.1 ');
  });

  it('answers the same 404 for unknown, forged, rotated and archived tokens', async () => {
    const victim = await makeSet(service);
    const good = localSetUrl(service, victim);
    expect((await postForm(good, '')).status).toBe(200);
    const forged = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
    const otherId = good.replace(`-${victim.id}-`, `-${victim.id + 1000}-`);
    const garbage = `${service.url}/sets/not-a-token`;
    const replies = await Promise.all([forged, otherId, garbage].flatMap((u) => [rawRequest(u), postForm(u, '')]));
    for (const reply of replies) {
      expect(reply.status).toBe(404);
      expect(reply.json).toEqual(NOT_FOUND);
    }
    await rotateSetKey(service.core, victim.id, 'test');
    const rotated = await postForm(good, '');
    expect(rotated.status).toBe(404);
    expect(rotated.json).toEqual(NOT_FOUND);
    const fresh = localSetUrl(service, await getSet(service.core, victim.id));
    expect((await postForm(fresh, '')).status).toBe(200);
    await archiveSet(service.core, victim.id, 'test');
    const archived = await rawRequest(fresh);
    expect(archived.status).toBe(404);
    expect(archived.json).toEqual(NOT_FOUND);
  });
});

describe('set URL behind a trusted proxy (TRUST_PROXY)', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ TRUST_PROXY: '127.0.0.1,10.0.0.0/8' });
  });
  afterAll(() => service.stop());

  it('believes X-Forwarded-For from a trusted peer, skipping trusted hops', async () => {
    const set = await makeSet(service, { api_ip_address: '203.0.113.0/24' });
    const url = localSetUrl(service, set);
    const direct = await postForm(url, '', { 'x-forwarded-for': '203.0.113.7' });
    expect(direct.status).toBe(200);
    const twoHops = await postForm(url, '', { 'x-forwarded-for': '203.0.113.9, 10.1.2.3' });
    expect(twoHops.status).toBe(200);
    const [batch] = await service.core.db.selectFrom('batches').select('created_by').where('set_id', '=', set.id).orderBy('id').execute();
    expect(batch.created_by).toBe('http:203.0.113.7');
  });

  it('uses the client the proxy saw, not what the client claimed, and names it in the 403', async () => {
    const set = await makeSet(service, { api_ip_address: '203.0.113.7' });
    // The client sent "203.0.113.7"; our proxy appended the real peer 198.51.100.4.
    const spoofed = await postForm(localSetUrl(service, set), '', { 'x-forwarded-for': '203.0.113.7, 198.51.100.4' });
    expect(spoofed.status).toBe(403);
    expect(spoofed.json.message).toBe('Requests from IP 198.51.100.4 are not allowed for this promo set. Ask the set owner to add 198.51.100.4 to its api_ip_address list.');
    const noHeader = await postForm(localSetUrl(service, set), '');
    expect(noHeader.status).toBe(403);
    expect(noHeader.json.message).toContain('Requests from IP 127.0.0.1 ');
  });
});
