import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/store/db.js';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { runCli, startServerProcess, type ServerProcess } from '../support/processes.js';
import { stateFromView } from '../support/slack-harness.js';
import { send, signInteractive, signSlashCommand } from '../support/slack-signing.js';
import { waitFor } from '../support/wait-for.js';

const SECRET = 'test-signing-secret-0123456789abcdef';
const OWNER = 'UOWNER001';
const MANAGER_1 = 'UMANAGER1';
const MANAGER_2 = 'UMANAGER2';
const ISSUER = 'UISSUER01';
const ISSUER_2 = 'UISSUER02';

/**
 * Two `promoset serve` processes on one database (SQLite file, PostgreSQL
 * schema), Slack in HTTP mode against one fake Web API: the first decision on
 * a request wins across processes, and a daily limit holds across them.
 */
describeEachDialect('approvals and limits across 2 processes', (dialect) => {
  const ctx = useTestDatabase(dialect);
  let fake: FakeSlack;
  let servers: ServerProcess[] = [];
  let db: Db;

  beforeAll(async () => {
    fake = await startFakeSlack();
    const env = { DATABASE_URL: ctx.database.url };
    const cli = async (...args: string[]) => {
      const result = await runCli(args, env);
      expect(result.code, result.stderr).toBe(0);
      return result.stdout;
    };
    await cli('sets', 'create', 'Alpha', 'promo_value=10');
    await cli('access', 'grant', MANAGER_1, 'manager');
    await cli('access', 'grant', MANAGER_2, 'manager', 'Alpha');
    await cli('access', 'grant', ISSUER, 'issuer');
    await cli('access', 'grant', ISSUER_2, 'issuer', 'Alpha');
    expect(await cli('access', 'limits', 'issuer', 'per_day=30')).toBe('issuer limits: 20 codes a request, 30 a day.\n');
    servers = await Promise.all([0, 1].map(() => startServerProcess({
      ...env, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: fake.apiUrl, PROMO_ADMINS: OWNER,
    })));
    db = openDatabase(ctx.database.url);
  }, 120_000);
  afterAll(async () => {
    await db?.destroy();
    await Promise.all(servers.map((s) => s.stop()));
    await fake?.stop();
  });

  function command(server: ServerProcess, text: string, user: string) {
    const responseUrl = fake.responseUrl();
    const triggerId = `trigger-${randomUUID()}`;
    const sent = send(`${server.url}/slack/events`, signSlashCommand(SECRET, {
      token: 'x', team_id: 'T0FAKE', team_domain: 'fake', channel_id: 'C0PROMOS', channel_name: 'promos', user_id: user, user_name: user,
      command: '/promo', text, api_app_id: 'A0PROMO', is_enterprise_install: 'false', response_url: responseUrl, trigger_id: triggerId,
    }));
    return { sent, responseUrl, triggerId };
  }
  function interactive(server: ServerProcess, payload: Record<string, unknown>, user: string) {
    const responseUrl = fake.responseUrl();
    const sent = send(`${server.url}/slack/events`, signInteractive(SECRET, {
      team: { id: 'T0FAKE', domain: 'fake' }, user: { id: user, username: user, team_id: 'T0FAKE' }, api_app_id: 'A0PROMO', token: 'x',
      trigger_id: `trigger-${randomUUID()}`, response_url: responseUrl, ...payload,
    }));
    return { sent, responseUrl };
  }
  const press = (server: ServerProcess, actionId: string, value: string, user: string) =>
    interactive(server, {
      type: 'block_actions', container: { type: 'message', message_ts: '1.1', channel_id: 'DMANAGER', is_ephemeral: false }, channel: { id: 'DMANAGER', name: 'dm' },
      actions: [{ type: 'button', action_id: actionId, block_id: 'approval', value, action_ts: '1.1' }],
    }, user);
  const reply = async (responseUrl: string) => {
    const call = await fake.waitFor('response_url', (c) => c.path === new URL(responseUrl).pathname);
    return String(call.body.text);
  };

  it('two managers click Approve at the same moment on 2 processes: exactly one batch is issued; the later click is told who decided', async () => {
    const asked = command(servers[0], 'codes Alpha 500', ISSUER);
    expect((await asked.sent).status).toBe(200);
    const opened = await fake.waitFor('views.open', (c) => c.body.trigger_id === asked.triggerId);
    const view = { ...opened.body.view, id: opened.response?.view?.id };
    const submitted = interactive(servers[0], { type: 'view_submission', view: { ...view, state: { values: stateFromView(view, { reason: 'Partner launch' }) } } }, ISSUER);
    expect((await submitted.sent).status).toBe(200);
    const request = await waitFor(() => db.selectFrom('approval_requests').select('id').where('asker', '=', ISSUER).executeTakeFirst(), (row) => row !== undefined, 'the approval request', { timeoutMs: 20_000 });

    const clicks = [press(servers[0], 'approval_approve', String(request!.id), MANAGER_1), press(servers[1], 'approval_approve', String(request!.id), MANAGER_2)];
    expect((await Promise.all(clicks.map((c) => c.sent))).map((r) => r.status)).toEqual([200, 200]);
    // The winner's codes reach the asker; the loser is told who decided.
    await fake.waitFor('files.completeUploadExternal', (c) => c.body.channel_id === 'DISSUER01', 60_000);
    const decided = await db.selectFrom('approval_requests').selectAll().where('id', '=', request!.id).executeTakeFirstOrThrow();
    expect(decided.status).toBe('approved');
    const winner = decided.decided_by === `slack:${MANAGER_1}` ? 0 : 1;
    expect(decided.decided_by).toBe(`slack:${[MANAGER_1, MANAGER_2][winner]}`);
    expect(await reply(clicks[1 - winner].responseUrl)).toContain(`Request #${request!.id} was already approved by <@${[MANAGER_1, MANAGER_2][winner]}>`);
    const batches = await db.selectFrom('batches').select(['id', 'count']).where('created_by', '=', `slack:${ISSUER}`).execute();
    expect(batches.map((b) => Number(b.count))).toEqual([500]);
    expect(Number(decided.batch_id)).toBe(Number(batches[0].id));
    const promotions = await db.selectFrom('promotions').select((eb) => eb.fn.countAll<number | string>().as('n')).where('batch_id', '=', batches[0].id).executeTakeFirstOrThrow();
    expect(Number(promotions.n)).toBe(500);
  }, 120_000);

  it('a daily limit holds across instances: 40 single codes asked at once on 2 processes, a limit of 30, exactly 30 issued', async () => {
    const asks = Array.from({ length: 40 }, (_, i) => command(servers[i % 2], 'code Alpha', ISSUER_2));
    expect(new Set((await Promise.all(asks.map((a) => a.sent))).map((r) => r.status))).toEqual(new Set([200]));
    const replies = await Promise.all(asks.map((a) => reply(a.responseUrl)));
    const issued = replies.filter((r) => r.startsWith('A new code from *Alpha*'));
    const refused = replies.filter((r) => r.includes('This is over your limits') && r.includes('of your 30 codes today'));
    expect(issued).toHaveLength(30);
    expect(refused).toHaveLength(10);
    const stored = await db.selectFrom('batches').select((eb) => eb.fn.countAll<number | string>().as('n')).where('created_by', '=', `slack:${ISSUER_2}`).executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(30);
    const usage = await db.selectFrom('access_usage').select('count').where('user_id', '=', ISSUER_2).executeTakeFirstOrThrow();
    expect(Number(usage.count)).toBe(30);
  }, 120_000);
});
