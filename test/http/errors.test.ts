import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { countPromotions } from '../../src/store/promotions.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, rawRequest } from './helpers.js';

describe('HTTP errors: status, sentence, nothing stored, server still up', () => {
  let service: TestService;
  let set: PromoSet;
  let url: string;

  beforeAll(async () => {
    service = await startTestService({ RATE_LIMIT_PER_MINUTE: '0' });
    set = await makeSet(service);
    url = localSetUrl(service, set);
  });
  afterAll(() => service.stop());

  it('405 with an Allow header for a wrong method', async () => {
    const put = await rawRequest(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, POST, HEAD');
    expect(put.json).toEqual({ result: 'error', message: 'PUT is not supported here. Use GET or POST here.', code: 'method_not_allowed', fields: {} });
    const getCodes = await rawRequest(`${url}/codes`);
    expect(getCodes.status).toBe(405);
    expect(getCodes.headers.allow).toBe('POST');
    const getApi = await rawRequest(`${service.url}/includes/api.php`);
    expect(getApi.status).toBe(405);
    expect(getApi.headers.allow).toBe('POST');
  });

  it('413 for a body over 64 KiB, by Content-Length and while streaming without one', async () => {
    const big = `notes=${'x'.repeat(70 * 1024)}`;
    const declared = await postForm(url, big);
    expect(declared.status).toBe(413);
    expect(declared.json).toEqual({ result: 'error', message: 'The request body is larger than 64 KiB; send only the documented fields.', code: 'payload_too_large', fields: {} });
    const chunked = await rawRequest(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' },
      chunks: Array.from({ length: 20 }, () => Buffer.alloc(8 * 1024, 'x')),
    });
    expect(chunked.status).toBe(413);
    expect(chunked.json.code).toBe('payload_too_large');
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(0);
  });

  it('415 for an unsupported content type, or a body without one', async () => {
    const xml = await rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<x/>' });
    expect(xml.status).toBe(415);
    expect(xml.json).toEqual({
      result: 'error', code: 'unsupported_media_type', fields: {},
      message: 'The content type "application/xml" is not supported. Send the body as application/x-www-form-urlencoded (what curl -d sends) or application/json.',
    });
    const none = await rawRequest(url, { method: 'POST', body: 'value=5' });
    expect(none.status).toBe(415);
    expect(none.json.message).toBe('The request has a body but no Content-Type. Send the body as application/x-www-form-urlencoded (what curl -d sends) or application/json.');
    const latin1 = await rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1' }, body: 'value=5' });
    expect(latin1.status).toBe(415);
    expect(latin1.json.message).toBe('The charset "iso-8859-1" is not supported; send UTF-8.');
  });

  it('400 for malformed JSON, JSON that is not an object, bad percent-encoding, duplicate and unknown fields', async () => {
    const cases: [string, string, string, Record<string, string>][] = [
      ['application/json', '{"value": ', 'The request body is not valid JSON.', {}],
      ['application/json', '[1,2]', 'The JSON body must be an object of fields, like {"value": "50"}.', {}],
      ['application/json', 'null', 'The JSON body must be an object of fields, like {"value": "50"}.', {}],
      ['application/x-www-form-urlencoded', 'notes=100%', 'The form body has invalid percent-encoding near "100%"; encode "%" as %25.', {}],
      ['application/x-www-form-urlencoded', 'value=5&value=50', 'The field "value" appears more than once; send each field once.', { value: 'Sent more than once.' }],
      ['application/x-www-form-urlencoded', 'valeu=5', 'Unknown field "valeu". Did you mean "value"?', { valeu: 'Unknown field "valeu". Did you mean "value"?' }],
      // A set's name for the date, sent for a single code: the code's own name is suggested.
      ['application/x-www-form-urlencoded', 'expiration_date=2030-01-01', 'Unknown field "expiration_date". Did you mean "expiry_date"?', { expiration_date: 'Unknown field "expiration_date". Did you mean "expiry_date"?' }],
      ['application/x-www-form-urlencoded', 'constructor=1', 'Unknown field "constructor".', { constructor: 'Unknown field "constructor".' }],
      ['application/json', '{"notes": {"nested": true}}', 'Notes must be text.', { notes: 'Notes must be text.' }],
    ];
    for (const [type, body, message, fields] of cases) {
      const reply = await rawRequest(url, { method: 'POST', headers: { 'content-type': type }, body });
      expect({ body, status: reply.status, json: reply.json }).toEqual({ body, status: 400, json: { result: 'error', message, code: expect.any(String), fields } });
    }
    const invalidUtf8 = await rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from([0x7b, 0xff, 0x7d]) });
    expect(invalidUtf8.status).toBe(400);
    expect(invalidUtf8.json.message).toBe('The request body is not valid UTF-8.');
    expect(await countPromotions(service.core.db, { setId: set.id })).toBe(0);
  });

  it('404 in the error shape for unknown paths', async () => {
    const reply = await rawRequest(`${service.url}/sets`);
    expect(reply.status).toBe(404);
    expect(reply.json).toEqual({ result: 'error', message: 'Nothing lives at this address. See the README for the endpoints.', code: 'not_found', fields: {} });
  });

  it('never answers 5xx to random bodies, content types and paths', async () => {
    const contentTypes = fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=utf-8', 'multipart/form-data; boundary=x', '');
    const paths = fc.constantFrom('', '/codes', '/codes?format=csv', '/batches/1.csv', '/../../etc/passwd');
    const bodies = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.json({ maxDepth: 3 }),
      fc.dictionary(fc.constantFrom('name', 'value', 'promo_code_type', 'start_date', 'expiry_date', 'notes', 'amount', 'code_type', '__proto__', 'x'), fc.oneof(fc.string({ maxLength: 50 }), fc.integer(), fc.constant("'; drop table promotions; --"), fc.constant('<script>'))).map((d) => new URLSearchParams(d as Record<string, string>).toString()),
    );
    await fc.assert(
      fc.asyncProperty(contentTypes, paths, bodies, async (type, path, body) => {
        const headers: Record<string, string> = type ? { 'content-type': type } : {};
        const reply = await rawRequest(url + path, { method: 'POST', headers, body });
        expect(reply.status).toBeLessThan(500);
        if (reply.status >= 400) expect(reply.json).toMatchObject({ result: 'error', message: expect.any(String), code: expect.any(String) });
      }),
      { numRuns: 200 },
    );
    expect((await rawRequest(`${service.url}/healthz`)).status).toBe(200);
  });
});
