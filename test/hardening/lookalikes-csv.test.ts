import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet, postForm, postJson, rawRequest } from '../http/helpers.js';

const TOKEN = 'admin-token-0123456789';

describe('issue 28: look-alike codes (item 7) and CSV in semicolon locales (item 8), over HTTP', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ ADMIN_API_TOKEN: TOKEN, RATE_LIMIT_PER_MINUTE: '0', WHMCS_API_IDENTIFIER: 'whmcs-id', WHMCS_API_SECRET: 'whmcs-secret-value' });
  });
  afterAll(() => service?.stop());

  it('a code written with the Kelvin sign (U+212A) for K is 400 on validate, redeem, void and GetPromotions, and nothing changes', async () => {
    const set = await makeSet(service, { code_prefix: 'KX' });
    const issued = await postForm(localSetUrl(service, set), '');
    expect(issued.status).toBe(200);
    const code: string = issued.json.code;
    // KX-… : the prefix's K, spelt with the Kelvin sign.
    const lookalike = `\u212A${code.slice(1)}`;
    expect(lookalike.toLowerCase()).toBe(code.toLowerCase());

    const validate = await rawRequest(`${localSetUrl(service, set)}/promotions/${encodeURIComponent(lookalike)}`);
    expect(validate.status).toBe(400);
    expect(validate.json).toMatchObject({ result: 'error', code: 'bad_request', fields: { code: 'Only ASCII characters.' } });

    const redeem = await postJson(`${localSetUrl(service, set)}/redemptions`, { code: lookalike });
    expect(redeem.status).toBe(400);

    const voided = await rawRequest(`${service.url}/api/promotions/${encodeURIComponent(lookalike)}/void`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(voided.status).toBe(400);

    const listed = await postForm(`${service.url}/includes/api.php`, new URLSearchParams({ action: 'GetPromotions', identifier: 'whmcs-id', secret: 'whmcs-secret-value', responsetype: 'json', code: lookalike }).toString());
    expect(listed.status).toBe(400);

    const after = await rawRequest(`${localSetUrl(service, set)}/promotions/${encodeURIComponent(code)}`);
    expect(after.json).toMatchObject({ valid: true, promotion: { uses: 0 } });
  });

  it("notes like x;=cmd|' /C calc'!A0 are exported quoted and defused, without NUL bytes", async () => {
    const set = await makeSet(service);
    const bulk = await postForm(`${localSetUrl(service, set)}/codes`, new URLSearchParams({ amount: '2', notes: "x;=cmd|' /C calc'!A0\u0000" }).toString(), { accept: 'text/csv' });
    expect(bulk.status, bulk.text).toBe(200);
    for (const text of [bulk.text, (await rawRequest(`${localSetUrl(service, set)}/batches/${bulk.headers['x-batch-id']}.csv`)).text]) {
      const rows = text.trim().split('\n').slice(1);
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row).toContain(`,"x;'=cmd|' /C calc'!A0",`);
      expect(text).not.toContain('\u0000');
    }
  });
});
