import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signed } from '../support/slack-signing.js';
import { SIGNING_SECRET, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

/** Issue 28, item 4: /slack/events checks the signature on the raw bytes before parsing anything. */
describe('Slack requests: signature before parsing, and a body limit that fits Slack', () => {
  let slack: SlackHarness;
  beforeAll(async () => {
    slack = await startSlackHarness();
  });
  afterAll(() => slack.stop());

  it('an unsigned 900 KB JSON body is refused with 401 without ever being parsed', async () => {
    const body = `{"type":"event_callback","pad":[${'1,'.repeat(450_000)}1]}`;
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const res = await fetch(slack.eventsUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status).toBe(401);
      expect(parse.mock.calls.filter(([text]) => typeof text === 'string' && text.length > 100_000)).toEqual([]);
      const badlySigned = signed('not-the-secret', body, 'application/json');
      const res2 = await fetch(slack.eventsUrl, { method: 'POST', headers: badlySigned.headers, body: badlySigned.body });
      expect(res2.status).toBe(401);
      expect(parse.mock.calls.filter(([text]) => typeof text === 'string' && text.length > 100_000)).toEqual([]);
    } finally {
      parse.mockRestore();
    }
  });

  it('a body over 1 MiB is 413, signed or not; the server keeps answering', async () => {
    const body = `{"pad":"${'a'.repeat(1024 * 1024)}"}`;
    const request = signed(SIGNING_SECRET, body, 'application/json');
    const res = await fetch(slack.eventsUrl, { method: 'POST', headers: request.headers, body: request.body });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ result: 'error', code: 'payload_too_large' });
    const health = await fetch(new URL('/healthz', slack.eventsUrl));
    expect(health.status).toBe(200);
  });

  it("Slack's unsigned ssl_check still gets its 200", async () => {
    const res = await fetch(slack.eventsUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'ssl_check=1&token=abc' });
    expect(res.status).toBe(200);
  });
});
