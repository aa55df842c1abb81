import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startService } from '../../src/main.js';
import { startFakeSlack } from '../support/fake-slack.js';
import { send, signed } from '../support/slack-signing.js';

async function start(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'promoset-slack-start-'));
  const lines: { level: string; msg: string }[] = [];
  const logger = createLogger('info', (line) => lines.push(JSON.parse(line)));
  const service = await startService(loadConfig({ PORT: '0', DATABASE_URL: join(dir, 'db.sqlite'), ...env }), logger);
  return {
    service,
    lines,
    async stop() {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('Slack at start-up', () => {
  it('without credentials Slack is off with one clear log line, and the HTTP API still runs', async () => {
    const { service, lines, stop } = await start({});
    try {
      expect(service.slack).toBeUndefined();
      const off = lines.filter((l) => l.msg.startsWith('Slack is off'));
      expect(off).toHaveLength(1);
      expect(off[0].msg).toContain('SLACK_BOT_TOKEN');
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
      // Slack checks this URL when the app is created, before the tokens exist: a 503 naming them, not a 404.
      const events = await fetch(`${service.url}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"url_verification","challenge":"abc"}' });
      expect(events.status).toBe(503);
      expect(events.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await events.json()).toEqual({
        result: 'error',
        code: 'slack_off',
        message: "Slack is off on this promoset server: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set. Set them from the Slack app's settings (or SLACK_APP_TOKEN for Socket Mode), restart promoset, then press Retry in Slack.",
        fields: { SLACK_BOT_TOKEN: 'SLACK_BOT_TOKEN is not set.', SLACK_SIGNING_SECRET: 'SLACK_SIGNING_SECRET is not set.' },
      });
      expect(off[0].msg).toBe('Slack is off: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode) not set. The HTTP API runs without it.');
    } finally {
      await stop();
    }
  });

  it('with only the bot token set, /slack/events names the one variable still missing', async () => {
    const { service, stop } = await start({ SLACK_BOT_TOKEN: 'xoxb-only-token' });
    try {
      const events = await fetch(`${service.url}/slack/events`, { method: 'POST' });
      expect(events.status).toBe(503);
      expect(await events.json()).toMatchObject({ code: 'slack_off', fields: { SLACK_SIGNING_SECRET: 'SLACK_SIGNING_SECRET is not set.' }, message: expect.stringContaining('SLACK_SIGNING_SECRET is not set. Set it from') });
    } finally {
      await stop();
    }
  });

  it('after a restart with the tokens, Slack\'s Retry of the request URL check is answered with its challenge', async () => {
    const fake = await startFakeSlack();
    const { service, stop } = await start({ SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'secret-for-retry-test', SLACK_API_URL: fake.apiUrl });
    try {
      const check = await send(`${service.url}/slack/events`, signed('secret-for-retry-test', JSON.stringify({ token: 'legacy', challenge: 'c-3f9a7', type: 'url_verification' }), 'application/json'));
      expect(check.status).toBe(200);
      expect(await check.json()).toEqual({ challenge: 'c-3f9a7' });
    } finally {
      await stop();
      await fake.stop();
    }
  });

  it('start-up says how owners are found: PROMO_ADMINS when set, else the workspace admins (the everyone-is-admin default is gone)', async () => {
    const fake = await startFakeSlack();
    const base = { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'secret-for-start-test', SLACK_API_URL: fake.apiUrl };
    const open = await start(base);
    const closed = await start({ ...base, PROMO_ADMINS: 'UADMIN001' });
    try {
      expect(open.service.slack?.mode).toBe('http');
      expect(open.lines.some((l) => l.msg.startsWith("PROMO_ADMINS is not set and nobody has an owner grant: the Slack workspace's admins and owners"))).toBe(true);
      expect(closed.lines.some((l) => l.msg === 'Owners: UADMIN001 (PROMO_ADMINS), plus any owner grants.')).toBe(true);
      expect(closed.lines.some((l) => l.msg.startsWith('PROMO_ADMINS is not set'))).toBe(false);
      // Secrets never reach the log.
      const all = JSON.stringify([...open.lines, ...closed.lines]);
      expect(all).not.toContain('xoxb-test');
      expect(all).not.toContain('secret-for-start-test');
    } finally {
      await open.stop();
      await closed.stop();
      await fake.stop();
    }
  });

  it('Socket Mode that cannot connect logs why, and the HTTP API still runs', async () => {
    const fake = await startFakeSlack();
    fake.failNext('apps.connections.open', 'invalid_auth');
    const { service, lines, stop } = await start({ SLACK_BOT_TOKEN: 'xoxb-test', SLACK_APP_TOKEN: 'xapp-test-token', SLACK_API_URL: fake.apiUrl });
    try {
      expect(service.slack).toBeUndefined();
      // Bolt asked Slack for a socket with the app token (through SLACK_API_URL).
      expect(fake.callsOf('apps.connections.open')[0].headers.authorization).toBe('Bearer xapp-test-token');
      const off = lines.find((l) => l.msg.startsWith('Slack is off: Socket Mode could not connect'));
      expect(off?.msg).toContain('invalid_auth');
      expect(JSON.stringify(lines)).not.toContain('xapp-test-token');
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    } finally {
      await stop();
      await fake.stop();
    }
  });
});
