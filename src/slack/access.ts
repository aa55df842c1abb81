import type { App, SlashCommand, webApi } from '@slack/bolt';
import { PromoError } from '../domain/errors.js';
import { pageWindow } from '../domain/pages.js';
import { truncate } from '../domain/text.js';
import { slackActor, type Actor } from '../service/access.js';
import { grantAccess, listAccess, mention, resolveSets, revokeAccess, revokeGrantIds, type GrantView } from '../service/access-grants.js';
import { approvalsChannel, defaultRole, describeLimits, limitsFor, parseLimitOptions } from '../service/access-policy.js';
import { accessAuditPage, setApprovalsChannel, setDefaultRole, setLimits } from '../service/access-settings.js';
import { bestRole } from '../service/role-resolution.js';
import { parseRole, ROLES } from '../service/roles.js';
import type { Core } from '../service/core.js';
import { modal, readInputs, selectInput, textInput, userInput } from './blocks/inputs.js';
import { sectionsOf, type Message } from './blocks/messages.js';
import { escapeText, shortText } from './blocks/text.js';
import type { SlackDeps } from './deps.js';
import { viewErrors } from './edge.js';
import { postToUser } from './batch-delivery.js';

export const ACCESS_CALLBACK = 'promo_access';

const section = (text: string) => ({ type: 'section' as const, text: { type: 'mrkdwn' as const, text } });

/** Sets named after the role (or subject): comma-separated names or ids; none means every set. */
const setRefs = (words: string[]) => words.join(' ').split(',').map((s) => s.trim()).filter(Boolean);

const scopeText = (g: GrantView) => (g.set_id === 0 ? 'every set' : `"${shortText(g.set_name ?? String(g.set_id), 60)}"`);
const grantLine = (g: GrantView) => `#${g.id} ${mention(g.subject)}: *${g.role}* on ${scopeText(g)}`;

const ACCESS_USAGE = [
  '`/promo access`: the grants, with a form to add and remove',
  '`/promo access list`: the grants, as a message',
  '`/promo access grant @person|@group <viewer|issuer|manager|owner> [set, set…]`: no sets means every set',
  '`/promo access revoke @person|@group [set, set…]`',
].join('\n');

/** `/promo access …` */
export async function accessCommand(deps: SlackDeps, client: webApi.WebClient, command: SlashCommand, positional: string[], options: Record<string, string>, reply: (m: Message) => Promise<unknown>): Promise<void> {
  const { core } = deps;
  const actor = slackActor(command.user_id);
  const [verb = '', ...rest] = positional;
  if (Object.keys(options).length > 0) throw new PromoError('bad_request', `\`/promo access\` takes no key=value options.\n${ACCESS_USAGE}`);
  switch (verb.toLowerCase()) {
    case '': {
      const grants = await listAccess(core, actor);
      await client.views.open({ trigger_id: command.trigger_id, view: accessModal(grants, await defaultRole(core)) });
      return;
    }
    case 'list':
      await reply(accessListMessage(await listAccess(core, actor), await defaultRole(core)));
      return;
    case 'grant': {
      const [subject, role, ...sets] = rest;
      if (!subject || !role) throw new PromoError('bad_request', `Name who and which role: \`/promo access grant @ann issuer\` or \`/promo access grant @support issuer Spring Sale\`.`);
      const result = await grantAccess(core, actor, subject, role, setRefs(sets));
      const where = result.sets.length > 0 ? result.sets.map((s) => `"${escapeText(s.name)}"`).join(', ') : 'every set';
      const replaced = result.replaced.length > 0 ? ` (was ${result.replaced.join(', ')})` : '';
      await reply(plainMessage(`:white_check_mark: ${mention(result.subject)} is now *${result.role}* on ${where}${replaced}.`));
      return;
    }
    case 'revoke': {
      const [subject, ...sets] = rest;
      if (!subject) throw new PromoError('bad_request', 'Name whose grant to revoke: `/promo access revoke @ann` or `/promo access revoke @support Spring Sale`.');
      const removed = await revokeAccess(core, actor, subject, setRefs(sets));
      await reply(plainMessage(`:white_check_mark: Revoked ${removed.map((g) => `*${g.role}*${g.set_id === 0 ? ' on every set' : ''}`).join(', ')} from ${mention(removed[0].subject)}. They now have the default role unless another grant or group gives them more.`));
      return;
    }
    default:
      throw new PromoError('bad_request', `I don't know \`access ${truncate(verb, 20).replace(/`/g, "'")}\`. Use:\n${ACCESS_USAGE}`);
  }
}

function plainMessage(text: string): Message {
  return { text, blocks: [section(text)] };
}

export function accessListMessage(grants: GrantView[], defaultRoleName: string): Message {
  const heading = `*Grants* (${grants.length}). Everyone else is *${defaultRoleName}* (the default role). PROMO_ADMINS are owners.`;
  return { text: `Grants (${grants.length})`, blocks: [section(heading), ...sectionsOf(grants.length > 0 ? grants.map(grantLine) : ['No grants yet.'])] };
}

/**
 * The access modal: every grant (packed into sections of 3,000 characters,
 * so 200 grants take 7 blocks), and inputs to add one and to remove some by number.
 */
export function accessModal(grants: GrantView[], defaultRoleName: string): ReturnType<typeof modal> {
  return modal(ACCESS_CALLBACK, 'Who may do what', 'Save', {}, [
    section(`Everyone is *${defaultRoleName}* unless a grant says more. Roles: viewer < issuer < manager < owner. Managers grant viewer and issuer; owners grant any role.`),
    ...sectionsOf(grants.length > 0 ? grants.map(grantLine) : ['No grants yet.']).slice(0, 60),
    { type: 'divider' },
    userInput('user', { label: 'Add: a person', optional: true }),
    textInput('group', { label: '…or a user group', optional: true, placeholder: '@support', maxLength: 80 }),
    selectInput('role', { label: 'Role', options: ROLES, initial: 'issuer' }),
    textInput('sets', { label: 'On sets', optional: true, placeholder: 'Spring Sale, Winter (empty: every set)', maxLength: 500 }),
    textInput('remove', { label: 'Remove grants', optional: true, placeholder: '3, 17 (the numbers above)', maxLength: 500 }),
  ]);
}

/** The access modal's submission: add and remove, through the same service functions as the commands. */
export function register(app: App, deps: SlackDeps): void {
  const { core, logger, jobs } = deps;
  app.view(ACCESS_CALLBACK, async ({ ack, body, view, client }) => {
    const actor = slackActor(body.user.id);
    const blockIds = Object.keys(view.state.values);
    const done: string[] = [];
    try {
      const form = readInputs(view.state.values);
      const user = String(form.user ?? '').trim();
      const group = String(form.group ?? '').trim();
      const remove = String(form.remove ?? '').trim();
      if (user && group) throw new PromoError('validation_failed', 'Pick a person or a group, not both.', { group: 'Pick a person or a group, not both.' });
      if (!user && !group && !remove) throw new PromoError('validation_failed', 'Pick someone to add, or grant numbers to remove.', { user: 'Pick someone, or fill in Remove grants.' });
      const ids = remove ? remove.split(/[\s,]+/).filter(Boolean).map((n) => n.replace(/^#/, '')) : [];
      if (ids.some((n) => !/^\d{1,12}$/.test(n))) throw new PromoError('validation_failed', 'Remove takes grant numbers, like 3, 17.', { remove: 'Grant numbers, like 3, 17.' });
      if (user || group) {
        const role = parseRole(String(form.role ?? ''));
        const sets = setRefs([String(form.sets ?? '')]);
        await resolveSets(core, sets);
        const result = await grantAccess(core, actor, user || group, role, sets);
        done.push(`${mention(result.subject)} is now *${result.role}* on ${result.sets.length > 0 ? result.sets.map((s) => `"${escapeText(s.name)}"`).join(', ') : 'every set'}`);
      }
      if (ids.length > 0) {
        const removed = await revokeGrantIds(core, actor, ids.map(Number));
        done.push(`removed ${removed.map((g) => `${mention(g.subject)} *${g.role}*`).join(', ')}`);
      }
    } catch (error) {
      const errors = viewErrors(remap(error), blockIds, 'user', logger);
      await ack({ response_action: 'errors', errors });
      return;
    }
    await ack();
    const text = `:white_check_mark: Access: ${done.join('; ')}.`;
    jobs.run('access summary', () => postToUser(client, body.user.id, { text, blocks: [section(text)] }));
  });
}

/** Errors about "subject" belong on the person field in the modal. */
function remap(error: unknown): unknown {
  if (!(error instanceof PromoError) || !error.fields.subject) return error;
  const { subject, ...rest } = error.fields;
  return new PromoError(error.code, error.message, { ...rest, user: subject, group: subject });
}

/** `/promo settings [approvals #channel|off] [default-role <role>] [limits <role> [set] k=v…]` */
export async function settingsCommand(deps: SlackDeps, actor: Actor, positional: string[], options: Record<string, string>): Promise<Message> {
  const { core } = deps;
  const [what = '', ...rest] = positional;
  switch (what.toLowerCase()) {
    case '':
      return settingsMessage(core);
    case 'approvals': {
      const target = rest[0] ?? '';
      const channel = /^<#(C[A-Z0-9]{2,}|G[A-Z0-9]{2,})(?:\|[^>]*)?>$/.exec(target)?.[1] ?? (/^[CG][A-Z0-9]{2,}$/.test(target) ? target : undefined);
      if (target.toLowerCase() !== 'off' && !channel) throw new PromoError('bad_request', 'Name a channel, like `/promo settings approvals #promo-approvals`, or `off` to DM the set\'s managers instead.');
      await setApprovalsChannel(core, actor, channel);
      return plainMessage(channel ? `:white_check_mark: Approval requests go to <#${channel}> now. Invite promoset there (\`/invite @promoset\`).` : ':white_check_mark: Approval requests go to each manager of the set by DM now.');
    }
    case 'default-role':
    case 'default_role': {
      const role = parseRole(rest[0]);
      await setDefaultRole(core, actor, role);
      return plainMessage(`:white_check_mark: Everyone without a grant is *${role}* now.`);
    }
    case 'limits': {
      const [roleText, ...setWords] = rest;
      const role = parseRole(roleText);
      const [set] = await resolveSets(core, setRefs(setWords));
      await setLimits(core, actor, role, parseLimitOptions(options), set);
      return plainMessage(`:white_check_mark: ${role} limits${set ? ` on "${escapeText(set.name)}"` : ''}: ${describeLimits(await limitsFor(core, role, set?.id))}.`);
    }
    default:
      throw new PromoError('bad_request', 'Use `/promo settings`, `/promo settings approvals #channel|off`, `/promo settings default-role viewer|issuer|manager|owner`, or `/promo settings limits issuer [set] per_request=20 per_day=200 max_percentage=50`.');
  }
}

async function settingsMessage(core: Core): Promise<Message> {
  const channel = await approvalsChannel(core);
  const lines = [
    `*Default role*: ${await defaultRole(core)}`,
    `*Approval requests*: ${channel ? `<#${channel}>` : 'DM to each manager of the set'}`,
    ...(await Promise.all(ROLES.map(async (role) => `*${role}* limits: ${describeLimits(await limitsFor(core, role))}`))),
  ];
  return { text: 'promoset settings', blocks: [section(lines.join('\n'))] };
}

/** `/promo audit` without a set: grants, revokes and settings changes. */
export async function accessAuditReply(core: Core, actor: Actor, page: number): Promise<Message> {
  const size = 50;
  const { total } = await accessAuditPage(core, actor, 0, 1);
  const window = pageWindow(total, page, size, 'audit events');
  const { events } = await accessAuditPage(core, actor, window.offset, size);
  const lines = events.map((e) => {
    const d = e.detail;
    const subject = typeof d.subject === 'string' ? ` ${mention(d.subject)}` : '';
    const role = typeof d.role === 'string' ? ` ${d.role}` : '';
    const where = e.action === 'granted' || e.action === 'revoked' ? (e.set_id ? ` on set ${e.set_id}` : ' on every set') : '';
    const actorText = e.actor.startsWith('slack:') ? `<@${e.actor.slice(6)}>` : escapeText(e.actor);
    return `• ${e.created_at.slice(0, 19).replace('T', ' ')} UTC: ${e.action.replace(/_/g, ' ')}${subject}${role}${where} by ${actorText}`;
  });
  const heading = `*Access audit trail*${window.pages > 1 ? `, page ${window.page} of ${window.pages}` : ''}, newest first. A set's own trail: \`/promo audit <set>\`.`;
  return { text: 'Access audit trail', blocks: [section(heading), ...sectionsOf(lines.length > 0 ? lines : ['Nothing yet.'])] };
}

/** App Home's "You" section: role, limits, today's use. */
export async function youSection(core: Core, userId: string, usedToday: number): Promise<string> {
  const best = await bestRole(core, userId);
  const limits = await limitsFor(core, best.role);
  const named = best.sets.length > 0 ? ` (plus grants on ${best.sets.length} named set${best.sets.length === 1 ? '' : 's'})` : '';
  return `You are *${best.role}* (${best.source})${named}. Your limits: ${describeLimits(limits)}. Issued today: ${usedToday.toLocaleString('en-US')}.`;
}
