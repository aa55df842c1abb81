import { describe, expect, it } from 'vitest';
import { SLACK_UNAVAILABLE_TEXT } from '../../src/slack/connection.js';
import { localSetUrl, makeSet, postForm } from '../http/helpers.js';
import { startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Issue 10, item 1, in HTTP mode: Slack unreachable or refusing the bot
 * token never stops the HTTP API, the log says once what is wrong, /readyz
 * reports it (still 200), and Slack works again without a restart.
 */
type Line = { level: string; msg: string };

async function readyz(slack: SlackHarness): Promise<{ status: number; body: any }> {
  const res = await fetch(`${slack.service.url}/readyz`);
  return { status: res.status, body: await res.json() };
}

/** The set URL still hands out codes. */
async function expectSetUrlWorks(slack: SlackHarness): Promise<void> {
  const set = await makeSet(slack.service);
  const reply = await postForm(localSetUrl(slack.service, set), 'notes=during+outage');
  expect(reply.status).toBe(200);
  expect(reply.json).toMatchObject({ notes: 'during outage' });
  expect(reply.json.code).toMatch(/^[A-Z0-9]+$/);
}

describe('Slack outage in HTTP mode', () => {
  it('Slack unreachable at start-up: one log line, the HTTP API and /readyz serve, and Slack works once it is back', async () => {
    const lines: Line[] = [];
    const slack = await startSlackHarness({}, { log: (line) => lines.push(JSON.parse(line)), prepare: (fake) => fake.down() });
    const unreachable = () => lines.filter((l) => l.msg.startsWith('Slack is unreachable'));
    try {
      // /readyz waits for the first check: Slack is down, yet the instance is ready.
      expect(await readyz(slack)).toEqual({ status: 200, body: { status: 'ready', dependencies: { database: 'ok', slack: 'unreachable' } } });
      expect(unreachable()).toHaveLength(1);
      expect(unreachable()[0].level).toBe('error');
      expect(unreachable()[0].msg).toMatch(/^Slack is unreachable at http:\/\/127\.0\.0\.1:\d+\/api\/ \(ECONNREFUSED\): check SLACK_API_URL, the network/);
      expect((await fetch(`${slack.service.url}/healthz`)).status).toBe(200);
      await expectSetUrlWorks(slack);

      // A command while Slack is down is acknowledged but cannot be handled; the log does not repeat itself.
      const during = await slack.command('new Spring sale');
      expect(during.res.status).toBe(200);
      // The person is told why nothing happens (a slash command's answer needs no token).
      expect(await during.res.json()).toEqual({ response_type: 'ephemeral', text: SLACK_UNAVAILABLE_TEXT });
      expect(unreachable()).toHaveLength(1);
      expect(lines.some((l) => l.level === 'warn' && l.msg.startsWith('A Slack request was not handled: Slack is unreachable at')), JSON.stringify(lines, null, 1)).toBe(true);

      // Slack comes back: the next command works at once, with Web API calls made with our token, and no restart.
      await slack.fake.up();
      const after = await slack.command('new Spring sale');
      expect(after.res.status).toBe(200);
      const view = await slack.openedView(after.triggerId);
      expect(view.callback_id).toBeTruthy();
      const open = slack.fake.callsOf('views.open').find((c) => c.body.trigger_id === after.triggerId)!;
      expect(open.headers.authorization).toBe('Bearer xoxb-test-token');
      expect(slack.fake.callsOf('views.open').filter((c) => c.body.trigger_id === during.triggerId)).toEqual([]);
      expect(lines.some((l) => l.msg.startsWith('Slack is reachable again'))).toBe(true);
      expect((await readyz(slack)).body.dependencies.slack).toBe('ok');
    } finally {
      await slack.stop();
    }
  });

  it('Slack refusing the token: one log line naming the error, the HTTP API serves, and a token accepted again is used', async () => {
    const lines: Line[] = [];
    const slack = await startSlackHarness({}, { log: (line) => lines.push(JSON.parse(line)), prepare: (fake) => fake.refuseToken('invalid_auth') });
    const refused = () => lines.filter((l) => l.msg.startsWith('Slack refused SLACK_BOT_TOKEN'));
    try {
      expect(await readyz(slack)).toEqual({ status: 200, body: { status: 'ready', dependencies: { database: 'ok', slack: 'refused' } } });
      expect(refused()).toHaveLength(1);
      expect(refused()[0].msg).toMatch(/^Slack refused SLACK_BOT_TOKEN \(invalid_auth\): check the token/);
      // It was auth.test that was refused, with our token.
      expect(slack.fake.callsOf('auth.test')[0].headers.authorization).toBe('Bearer xoxb-test-token');
      await expectSetUrlWorks(slack);

      const during = await slack.command('new Refused');
      expect(during.res.status).toBe(200);
      expect(await during.res.json()).toEqual({ response_type: 'ephemeral', text: SLACK_UNAVAILABLE_TEXT });
      // Checked again on that request (still refused), and nothing else was asked of Slack.
      expect(slack.fake.calls.map((c) => c.method).filter((m) => m !== 'auth.test')).toEqual([]);
      expect(refused()).toHaveLength(1);
      // The token is never logged.
      expect(JSON.stringify(lines)).not.toContain('xoxb-test-token');

      slack.fake.acceptToken();
      const after = await slack.command('new Accepted');
      expect(after.res.status).toBe(200);
      const open = await slack.fake.waitFor('views.open', (c) => c.body.trigger_id === after.triggerId);
      expect(open.headers.authorization).toBe('Bearer xoxb-test-token');
      expect((await readyz(slack)).body.dependencies.slack).toBe('ok');
    } finally {
      await slack.stop();
    }
  });

  it('a token revoked while running is noticed from the failed call, said once, and /readyz reports it', async () => {
    const lines: Line[] = [];
    const slack = await startSlackHarness({}, { log: (line) => lines.push(JSON.parse(line)) });
    try {
      expect((await readyz(slack)).body.dependencies.slack).toBe('ok');
      slack.fake.refuseToken('token_revoked');
      const { res } = await slack.command('new Revoked');
      expect(res.status).toBe(200);
      await slack.fake.waitFor('views.open', (c) => c.response?.error === 'token_revoked');
      await waitFor(() => lines, (ls) => ls.some((l) => l.msg.startsWith('Slack refused SLACK_BOT_TOKEN (token_revoked)')), 'the token_revoked log line', { timeoutMs: 5_000 });
      expect(lines.filter((l) => l.msg.startsWith('Slack refused SLACK_BOT_TOKEN (token_revoked)'))).toHaveLength(1);
      expect((await readyz(slack)).body.dependencies.slack).toBe('refused');
    } finally {
      await slack.stop();
    }
  });
});
