import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSet } from '../../src/service/sets.js';
import { runCli } from '../support/processes.js';
import { startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { rawRequest, type Reply } from './helpers.js';

const TOKEN = 'admin-token-0123456789';
const WORKSPACE_ADMIN = 'UWSADMIN1';
const MEMBER = 'UMEMBER01';

/**
 * /api/access and `promoset access`: the same service functions as
 * `/promo access`. Also the bootstrap: with no PROMO_ADMINS and no owner
 * grant, the workspace's admins (users.info) are owners.
 */
describe('admin REST /api/access, the CLI, and the bootstrap owners', () => {
  let slack: SlackHarness;
  const lines: string[] = [];
  const call = (method: string, path: string, body?: unknown): Promise<Reply> =>
    rawRequest(`${slack.service.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  async function ask(text: string, user: string): Promise<string> {
    const { responseUrl } = await slack.command(text, { user });
    return String((await slack.replyTo(responseUrl)).body.text);
  }

  beforeAll(async () => {
    slack = await startSlackHarness({ ADMIN_API_TOKEN: TOKEN, PROMO_ADMINS: '' }, {
      log: (line) => lines.push(line),
      prepare: (fake) => {
        fake.users.set(WORKSPACE_ADMIN, { is_admin: true });
        fake.groups.set('S0SALES01', { handle: 'sales', users: [MEMBER] });
        fake.missingUsers.add('UGHOST001');
      },
    });
  });
  afterAll(() => slack.stop());

  it('start-up says owners are the workspace admins; a workspace admin may grant, a member is a viewer', async () => {
    expect(lines.some((l) => l.includes("the Slack workspace's admins and owners (users.info) are promoset owners"))).toBe(true);
    expect(await ask('new Bootstrapped', MEMBER)).toContain('Only managers of every set may create promo sets. You are a viewer');
    expect(await ask('access grant <!subteam^S0SALES01|@sales> manager', WORKSPACE_ADMIN)).toContain('is now *manager* on every set');
    const { triggerId } = await slack.command('new Bootstrapped', { user: MEMBER });
    expect((await slack.openedView(triggerId)).callback_id).toBe('promo_new_set');
    expect(slack.fake.callsOf('users.info').some((c) => c.body.user === WORKSPACE_ADMIN)).toBe(true);
  });

  it('GET, grant and revoke over /api/access; bad input is a 4xx sentence and changes nothing', async () => {
    const granted = await call('POST', '/api/access', { subject: MEMBER, role: 'issuer' });
    expect(granted.status).toBe(200);
    expect(granted.json).toEqual({ result: 'success', subject: MEMBER, role: 'issuer', sets: [], replaced: [] });
    const listed = await call('GET', '/api/access');
    expect(listed.status).toBe(200);
    expect(listed.json.default_role).toBe('viewer');
    expect(listed.json.grants).toEqual(expect.arrayContaining([expect.objectContaining({ subject: MEMBER, role: 'issuer', set_id: null, set_name: null, created_by: 'admin-api' })]));

    const bad: [unknown, number, string, string][] = [
      [{ subject: MEMBER, role: 'boss' }, 400, 'validation_failed', '"boss" is not a role. Roles are viewer, issuer, manager and owner.'],
      [{ subject: 'UGHOST001', role: 'issuer' }, 404, 'not_found', 'Slack knows no active user UGHOST001; nothing was granted.'],
      [{ subject: 'S0NOPE001', role: 'issuer' }, 404, 'not_found', 'This workspace has no user group S0NOPE001; nothing was granted.'],
      [{ subject: MEMBER, role: 'issuer', sets: ['Nope'] }, 404, 'not_found', 'There is no promo set "Nope"; nothing was changed.'],
      [{ role: 'issuer' }, 400, 'validation_failed', 'Name the subject: a Slack user id (U…) or user group id (S…).'],
    ];
    for (const [body, status, code, message] of bad) {
      const reply = await call('POST', '/api/access', body);
      expect({ status: reply.status, code: reply.json.code, message: reply.json.message }).toEqual({ status, code, message });
    }
    const never = await call('POST', '/api/access/revoke', { subject: 'UNEVER001' });
    expect(never.status).toBe(404);
    expect(never.json.message).toBe('<@UNEVER001> has no grant for every set; nothing was revoked.');
    expect((await call('GET', '/api/access')).json.grants).toEqual(listed.json.grants);

    const revoked = await call('POST', '/api/access/revoke', { subject: MEMBER });
    expect(revoked.status).toBe(200);
    expect(revoked.json.revoked).toEqual([expect.objectContaining({ subject: MEMBER, role: 'issuer', set_id: null })]);
  });

  it('promoset access grant|list|revoke|audit on the same database', async () => {
    await createSet(slack.service.core, { name: 'Bootstrapped', promo_value: '5' }, 'test');
    const env = { DATABASE_URL: slack.service.config.DATABASE_URL };
    const granted = await runCli(['access', 'grant', 'UCLIUSER1', 'issuer', 'Bootstrapped'], env);
    expect(granted.stderr).toBe('');
    expect(granted.stdout).toBe('UCLIUSER1 is now issuer on "Bootstrapped".\n');
    const list = await runCli(['access', 'list'], env);
    expect(list.stdout).toMatch(/UCLIUSER1\s+issuer\s+set \d+ "Bootstrapped"/);
    const typo = await runCli(['access', 'grant', 'UCLIUSER1', 'mangaer'], env);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('"mangaer" is not a role.');
    const revoked = await runCli(['access', 'revoke', 'UCLIUSER1', 'Bootstrapped'], env);
    expect(revoked.stdout).toMatch(/^Revoked issuer on set \d+ from UCLIUSER1\.\n$/);
    const again = await runCli(['access', 'revoke', 'UCLIUSER1', 'Bootstrapped'], env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('has no grant for "Bootstrapped"; nothing was revoked.');
    const audit = await runCli(['access', 'audit'], env);
    expect(audit.stdout).toMatch(/revoked\s+cli:\S+\s+\{"subject":"UCLIUSER1","role":"issuer"\}/);
    expect(audit.stdout).toMatch(/granted\s+admin-api/);
  });
});
