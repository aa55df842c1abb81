import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorActor } from '../../src/service/access.js';
import { grantAccess } from '../../src/service/access-grants.js';
import { createSet } from '../../src/service/sets.js';
import type { PromoSet } from '../../src/domain/set.js';
import { ADMIN, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { waitFor } from '../support/wait-for.js';

const ISSUER = 'UISSUER01';
const MANAGER = 'UMANAGER1';
const MANAGER_B = 'UMANAGERB';
const VIEWER = 'UVIEWER01';
const SUPPORT = 'S0SUPPORT';
/** The fake's DM channel with a user (conversations.open). */
const dm = (user: string) => `D${user.slice(1)}`;
const text = (call: { body: Record<string, any> }) => `${call.body.text ?? ''} ${JSON.stringify(call.body.blocks ?? call.body.view?.blocks ?? [])}`;

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  return (await waitFor(probe, (value) => Boolean(value), what, { timeoutMs, intervalMs: 20 })) as T;
}

/**
 * Roles, limits and approvals over the real protocol (signed Slack requests
 * in HTTP mode, the fake Web API answering usergroups.* and users.info).
 */
describe('Roles, limits and approvals in Slack (HTTP mode)', () => {
  let slack: SlackHarness;
  let alpha: PromoSet;
  let beta: PromoSet;

  beforeAll(async () => {
    slack = await startSlackHarness({}, {
      prepare: (fake) => {
        fake.groups.set(SUPPORT, { handle: 'support', users: [ISSUER, 'UOTHERSUP'] });
        fake.missingUsers.add('UNOBODY00');
      },
    });
    const core = slack.service.core;
    alpha = await createSet(core, { name: 'Alpha', promo_value: '10' }, 'test');
    beta = await createSet(core, { name: 'Beta', promo_value: '10' }, 'test');
  });
  afterAll(async () => {
    await slack?.stop();
  });

  async function ask(commandText: string, user: string): Promise<string> {
    const { res, responseUrl } = await slack.command(commandText, { user });
    expect(res.status).toBe(200);
    return text(await slack.replyTo(responseUrl));
  }
  async function pressed(actionId: string, value: string, user: string): Promise<string> {
    const { res, responseUrl } = await slack.press(actionId, value, { user });
    expect(res.status).toBe(200);
    return text(await slack.replyTo(responseUrl));
  }
  const grants = () => slack.service.core.db.selectFrom('access_grants').selectAll().orderBy('id').execute();
  const batchesOf = (user: string) => slack.service.core.db.selectFrom('batches').selectAll().where('created_by', '=', `slack:${user}`).orderBy('id').execute();
  const requests = () => slack.service.core.db.selectFrom('approval_requests').selectAll().orderBy('id').execute();

  async function codesModal(setName: string, amount: number, user: string) {
    const { triggerId } = await slack.command(`codes ${setName} ${amount}`, { user });
    return slack.openedView(triggerId);
  }

  it('owners grant roles to a user group and to a person from Slack, with escaped mentions', async () => {
    expect(await ask(`access grant <!subteam^${SUPPORT}|@support> issuer`, ADMIN)).toContain(`<!subteam^${SUPPORT}> is now *issuer* on every set`);
    expect(await ask(`access grant <@${MANAGER}|mgr> manager Alpha`, ADMIN)).toContain(`<@${MANAGER}> is now *manager* on "Alpha"`);
    expect(await ask(`access grant <@${MANAGER_B}> manager Beta`, ADMIN)).toContain('*manager* on "Beta"');
    const rows = await grants();
    expect(rows.map((g) => [g.subject, g.role, Number(g.set_id)])).toEqual([[SUPPORT, 'issuer', 0], [MANAGER, 'manager', alpha.id], [MANAGER_B, 'manager', beta.id]]);
    // The group's members were read from Slack (usergroups.users.list).
    expect(slack.fake.callsOf('usergroups.users.list').some((c) => c.body.usergroup === SUPPORT)).toBe(true);
    const list = await ask('access list', VIEWER);
    expect(list).toContain(`<!subteam^${SUPPORT}>: *issuer* on every set`);
  });

  it('an issuer in @support issues 5 codes; asks for 500 and gets an approval request; a manager approves; the 500 codes reach the asker; the audit names both', async () => {
    const small = await codesModal('Alpha', 5, ISSUER);
    expect((await slack.submit(small, {}, { user: ISSUER })).status).toBe(200);
    await until(async () => (await batchesOf(ISSUER)).length === 1, 'the 5-code batch');
    expect(Number((await batchesOf(ISSUER))[0].count)).toBe(5);

    const big = await codesModal('Alpha', 500, ISSUER);
    // Over the limit and no reason: told inline what to do; nothing is made or asked.
    const noReason = await (await slack.submit(big, {}, { user: ISSUER })).json();
    expect(noReason).toEqual({ response_action: 'errors', errors: { reason: expect.stringContaining('500 codes is more than your limit of 20 a request') } });
    expect(await requests()).toHaveLength(0);

    const asked = await slack.submit(big, { reason: 'Partner launch, 500 vouchers' }, { user: ISSUER });
    expect(await asked.text()).toBe('');
    const request = await until(async () => (await requests())[0], 'the approval request');
    expect(request).toMatchObject({ asker: ISSUER, amount: 500, status: 'pending', reason: 'Partner launch, 500 vouchers' });
    // No approvals channel: each manager of Alpha (and the owner) gets it by DM, with the buttons.
    const toManager = await slack.fake.waitFor('chat.postMessage', (c) => c.body.channel === dm(MANAGER) && text(c).includes('approval_approve'));
    expect(text(toManager)).toContain(`<@${ISSUER}> asks for *500 codes* from *Alpha*`);
    expect(text(toManager)).toContain('Partner launch, 500 vouchers');
    expect(slack.fake.callsOf('chat.postMessage').some((c) => c.body.channel === dm(MANAGER_B))).toBe(false);
    await slack.fake.waitFor('chat.postMessage', (c) => c.body.channel === dm(ISSUER) && text(c).includes(`Your request #${request.id}`));
    expect(await batchesOf(ISSUER)).toHaveLength(1);

    // The asker's App Home says their role and use; the manager's lists the request.
    await slack.event({ type: 'app_home_opened', user: MANAGER, channel: 'D0HOME', tab: 'home', event_ts: '1.0' });
    const home = await slack.fake.waitFor('views.publish', (c) => c.body.user_id === MANAGER);
    expect(text(home)).toContain('You are *manager*');
    expect(text(home)).toContain('Waiting for your approval');
    expect(text(home)).toContain(`"value":"${request.id}"`);
    await slack.event({ type: 'app_home_opened', user: ISSUER, channel: 'D0HOME', tab: 'home', event_ts: '1.0' });
    const issuerHome = await slack.fake.waitFor('views.publish', (c) => c.body.user_id === ISSUER);
    expect(text(issuerHome)).toContain(`You are *issuer* (grant to <!subteam^${SUPPORT}>). Your limits: 20 codes a request, 200 a day. Issued today: 5.`);
    expect(text(issuerHome)).not.toContain('Waiting for your approval');

    // The asker cannot decide (not a manager); a viewer forging the button is refused; a manager of Beta too.
    expect(await pressed('approval_approve', String(request.id), ISSUER)).toContain('Only managers of the promo set \\"Alpha\\" may decide approval requests');
    expect(await pressed('approval_approve', String(request.id), VIEWER)).toContain('Only managers of the promo set \\"Alpha\\" may decide');
    expect(await pressed('approval_approve', String(request.id), MANAGER_B)).toContain('You are a viewer here');
    expect((await requests())[0].status).toBe('pending');

    await slack.press('approval_approve', String(request.id), { user: MANAGER });
    const upload = await slack.fake.waitFor('files.completeUploadExternal', (c) => c.body.channel_id === dm(ISSUER));
    const fileId = upload.body.files[0].id;
    const getUrl = slack.fake.callsOf('files.getUploadURLExternal').find((c) => c.response?.file_id === fileId)!;
    const file = slack.fake.callsOf('upload').find((c) => c.path === new URL(getUrl.response!.upload_url).pathname)!;
    expect(file.file!.text.trim().split('\n')).toHaveLength(501);
    const batches = await batchesOf(ISSUER);
    expect(batches.map((b) => Number(b.count))).toEqual([5, 500]);
    const decided = (await requests())[0];
    expect(decided).toMatchObject({ status: 'approved', decided_by: `slack:${MANAGER}` });
    expect(Number(decided.batch_id)).toBe(Number(batches[1].id));
    // Every copy of the request shows the outcome, without buttons.
    const updated = await slack.fake.waitFor('chat.update', (c) => c.body.channel === dm(MANAGER) && text(c).includes(`Approved by <@${MANAGER}>`) && text(c).includes('batch'));
    expect(text(updated)).not.toContain('approval_approve');
    await slack.fake.waitFor('chat.postMessage', (c) => c.body.channel === dm(ISSUER) && text(c).includes(`<@${MANAGER}> approved your request #${request.id}`));

    const audit = await ask('audit Alpha', ADMIN);
    expect(audit).toContain(`asked for approval of 500 codes (request #${request.id})`);
    expect(audit).toContain(`approved request #${request.id} (500 codes asked by <@${ISSUER}>) by <@${MANAGER}>`);
    expect(audit).toContain(`received 500 codes (batch ${batches[1].id}) for request #${request.id}, approved by <@${MANAGER}>`);

    // A later click is told who decided, and changes nothing.
    expect(await pressed('approval_approve', String(request.id), ADMIN)).toContain(`Request #${request.id} was already approved by <@${MANAGER}>`);
    expect(await batchesOf(ISSUER)).toHaveLength(2);
  });

  it('approving one\'s own request is refused, even for a manager', async () => {
    expect(await ask('settings limits manager Alpha per_request=100', ADMIN)).toContain('manager limits on "Alpha": 100 codes a request');
    const view = await codesModal('Alpha', 150, MANAGER);
    expect(await (await slack.submit(view, { reason: 'Trade fair' }, { user: MANAGER })).text()).toBe('');
    const request = await until(async () => (await requests()).find((r) => r.asker === MANAGER), 'the manager\'s request');
    expect(await pressed('approval_approve', String(request.id), MANAGER)).toContain(`You asked for request #${request.id} yourself, so another manager of "Alpha" must decide it.`);
    expect((await requests()).find((r) => r.id === request.id)!.status).toBe('pending');

    // Deny asks for a reason; the asker is told it.
    const { triggerId } = await slack.press('approval_deny', String(request.id), { user: ADMIN });
    const denyView = await slack.openedView(triggerId);
    expect(await (await slack.submit(denyView, { reason: '' }, { user: ADMIN })).json()).toEqual({ response_action: 'errors', errors: { reason: expect.stringContaining('Give a reason') } });
    expect(await (await slack.submit(denyView, { reason: 'Not this quarter' }, { user: ADMIN })).text()).toBe('');
    await slack.fake.waitFor('chat.postMessage', (c) => c.body.channel === dm(MANAGER) && text(c).includes(`<@${ADMIN}> denied your request #${request.id}`) && text(c).includes('Not this quarter'));
    expect((await requests()).find((r) => r.id === request.id)).toMatchObject({ status: 'denied', decision_reason: 'Not this quarter' });
    expect(await ask('settings limits manager Alpha per_request=none', ADMIN)).toContain('manager limits on "Alpha": no limits');
  });

  it('a viewer cannot mint; a manager of set A cannot manage set B', async () => {
    expect(await ask('code Alpha', VIEWER)).toContain('Only issuers of the promo set "Alpha" may generate codes. You are a viewer here');
    const opened = slack.fake.callsOf('views.open').length;
    expect(await ask('codes Alpha 3', VIEWER)).toContain('Only issuers of the promo set "Alpha"');
    expect(slack.fake.callsOf('views.open').length).toBe(opened);
    expect(await pressed('set_generate_code', String(alpha.id), VIEWER)).toContain('Only issuers');
    expect(await batchesOf(VIEWER)).toHaveLength(0);

    expect(await ask('rotate Beta', MANAGER)).toContain('Only managers of the promo set "Beta" may rotate set URLs');
    expect(await ask('archive Beta', MANAGER)).toContain('Only managers of the promo set "Beta"');
    expect(await ask(`access grant <@${VIEWER}> issuer Beta`, MANAGER)).toContain('Only managers of the promo set "Beta" may grant or revoke the viewer and issuer roles');
    expect(await ask(`access grant <@${VIEWER}> manager Alpha`, MANAGER)).toContain('Only owners may grant or revoke the manager and owner roles');
    // …but manages A: grants issuer there.
    expect(await ask(`access grant <@${VIEWER}> issuer Alpha`, MANAGER)).toContain('is now *issuer* on "Alpha"');
    expect(await ask(`access revoke <@${VIEWER}> Alpha`, MANAGER)).toContain(`Revoked *issuer* from <@${VIEWER}>`);
    const [alphaNow, betaNow] = await Promise.all([alpha, beta].map((s) => slack.service.core.db.selectFrom('promo_sets').select(['api_key', 'archived_at']).where('id', '=', s.id).executeTakeFirstOrThrow()));
    expect(betaNow).toEqual({ api_key: beta.api_key, archived_at: null });
    expect(alphaNow.archived_at).toBeNull();
  });

  it('bad input: unknown user or group, a role typo, a revoke of nothing, each a sentence; nothing changes', async () => {
    const before = await grants();
    const cases: [string, string][] = [
      ['access grant <@UNOBODY00> issuer', 'Slack knows no active user UNOBODY00; nothing was granted.'],
      ['access grant <!subteam^SNOPE0001|@nope> issuer', 'This workspace has no user group SNOPE0001; nothing was granted.'],
      [`access grant <@${VIEWER}> isuer`, '\\"isuer\\" is not a role. Roles are viewer, issuer, manager and owner.'],
      ['access grant @bob issuer', 'This workspace has no user group \\"@bob\\"; nothing was changed.'],
      ['access grant bob! issuer', 'is not a Slack user or user group'],
      [`access grant <@${VIEWER}> issuer Gamma`, 'There is no promo set \\"Gamma\\"'],
      [`access revoke <@${VIEWER}>`, `<@${VIEWER}> has no grant for every set; nothing was revoked.`],
      [`access revoke <@${ADMIN}>`, 'is an owner through PROMO_ADMINS'],
      ['access frobnicate', "I don't know `access frobnicate`"],
      ['settings default-role admin', '\\"admin\\" is not a role'],
    ];
    for (const [command, sentence] of cases) expect(await ask(command, ADMIN), command).toContain(sentence);
    expect(await ask('settings default-role manager', ISSUER)).toContain('Only owners may change access settings');
    expect(await pressed('approval_approve', '99999', MANAGER)).toContain('There is no approval request #99999.');
    expect(await pressed('approval_approve', 'x', MANAGER)).toContain('This button names no approval request.');
    expect(await grants()).toEqual(before);
  });

  it('a request left 24 hours expires (injected clock): a late click is refused, the sweep updates every message', async () => {
    const core = slack.service.core;
    const realNow = core.now;
    const view = await codesModal('Alpha', 40, ISSUER);
    await slack.submit(view, { reason: 'Webinar' }, { user: ISSUER });
    // Posted and recorded (the asker is told last): the sweep then has messages to update.
    const first = await until(async () => (await requests()).find((r) => r.reason === 'Webinar' && r.messages !== '[]'), 'the first request, posted');
    const view2 = await codesModal('Alpha', 30, ISSUER);
    await slack.submit(view2, { reason: 'Newsletter' }, { user: ISSUER });
    const second = await until(async () => (await requests()).find((r) => r.reason === 'Newsletter' && r.messages !== '[]'), 'the second request, posted');
    try {
      core.now = () => new Date(realNow().getTime() + 24 * 60 * 60 * 1000 + 1000);
      expect(await pressed('approval_approve', String(first.id), MANAGER)).toContain(`Request #${first.id} expired at`);
      expect((await requests()).find((r) => r.id === first.id)!.status).toBe('expired');
      expect(await slack.service.slack!.sweepApprovals()).toBe(1);
      expect((await requests()).find((r) => r.id === second.id)!.status).toBe('expired');
      await slack.fake.waitFor('chat.update', (c) => c.body.channel === dm(MANAGER) && text(c).includes('Expired at') && text(c).includes(`Request #${second.id}`) === false && text(c).includes('Newsletter'));
      await slack.fake.waitFor('chat.postMessage', (c) => c.body.channel === dm(ISSUER) && text(c).includes(`Your request #${second.id} for 30 codes expired undecided`));
      expect(await slack.service.slack!.sweepApprovals()).toBe(0);
    } finally {
      core.now = realNow;
    }
    expect((await batchesOf(ISSUER)).map((b) => Number(b.count))).toEqual([5, 500]);
    expect(await ask('audit Alpha', ADMIN)).toContain(`expired request #${second.id} (30 codes asked by <@${ISSUER}>)`);
  });

  it('subteam_members_changed removing the asker from @support takes the issuer role away at once', async () => {
    // Still an issuer (the form opens), though today's 505 codes (the approved 500 count too) are over the daily limit.
    expect(await ask('code Alpha', ISSUER)).toContain('This is over your limits: you have issued 505 of your 200 codes today.');
    const { triggerId } = await slack.command('codes Alpha 3', { user: ISSUER });
    expect((await slack.openedView(triggerId)).callback_id).toBe('promo_generate_codes');
    slack.fake.groups.set(SUPPORT, { handle: 'support', users: ['UOTHERSUP'] });
    const res = await slack.event({ type: 'subteam_members_changed', subteam_id: SUPPORT, team_id: 'T0FAKE', date_previous_update: 1, date_update: 2, added_users: [], added_users_count: '0', removed_users: [ISSUER], removed_users_count: '1' });
    expect(res.status).toBe(200);
    await until(async () => {
      const row = await slack.service.core.db.selectFrom('access_groups').select('members').where('group_id', '=', SUPPORT).executeTakeFirst();
      return row?.members === 'UOTHERSUP';
    }, 'the group refresh');
    expect(await ask('code Alpha', ISSUER)).toContain('Only issuers of the promo set "Alpha" may generate codes. You are a viewer here');
  });

  it('/promo access opens a modal that lists 200 grants within Block Kit limits; it adds and removes grants', async () => {
    const core = slack.service.core;
    for (let i = 0; i < 200; i++) await grantAccess(core, operatorActor('test'), `U${String(i).padStart(8, '0')}`, i % 2 ? 'viewer' : 'issuer');
    const { triggerId } = await slack.command('access', { user: ADMIN });
    const view = await slack.openedView(triggerId);
    expect(view.callback_id).toBe('promo_access');
    expect(view.blocks.length).toBeLessThanOrEqual(100);
    const shown = JSON.stringify(view.blocks);
    expect(shown).toContain('<@U00000199>: *viewer* on every set');
    expect(shown).toContain('<@U00000000>: *issuer* on every set');
    expect(slack.fake.takeViolations()).toEqual([]);

    expect(await (await slack.submit(view, { user: VIEWER, role: 'issuer', sets: 'Beta' }, { user: ADMIN })).text()).toBe('');
    const added = (await grants()).find((g) => g.subject === VIEWER)!;
    expect(added).toMatchObject({ role: 'issuer', set_id: beta.id });
    const bad = await (await slack.submit(view, { remove: '999999' }, { user: ADMIN })).json();
    expect(bad).toEqual({ response_action: 'errors', errors: { remove: 'No grant #999999.' } });
    const both = (await (await slack.submit(view, { user: VIEWER, group: "@support" }, { user: ADMIN })).json()) as any;
    expect(both.errors.group).toBe('Pick a person or a group, not both.');
    expect(await (await slack.submit(view, { remove: `${added.id}` }, { user: ADMIN })).text()).toBe('');
    expect((await grants()).some((g) => g.subject === VIEWER)).toBe(false);
    // A viewer may look but not change.
    const refused = (await (await slack.submit(view, { user: "U00000001", role: "owner" }, { user: VIEWER })).json()) as any;
    expect(refused.errors.user).toMatch(/^Only owners may grant/);

    const trail = await ask('audit', ADMIN);
    expect(trail).toContain(`revoked <@${VIEWER}> issuer on set ${beta.id} by <@${ADMIN}>`);
    expect(trail).toContain(`granted <@${VIEWER}> issuer on set ${beta.id} by <@${ADMIN}>`);
  });
});
