import type { App, RespondFn } from '@slack/bolt';
import { PromoError } from '../domain/errors.js';
import { generatePromotion } from '../service/generate.js';
import { archiveSet, editableFields, findSet, listSets, rotateSetKey, rotateWebhookSecret } from '../service/sets.js';
import { setAuditPage } from '../service/set-audit.js';
import { setUrl } from '../service/set-urls.js';
import { resendDelivery, webhookOverview } from '../service/webhooks.js';
import { pageWindow } from '../domain/pages.js';
import { generateCodesModal } from './blocks/codes-modal.js';
import { boundCodesOfSet, bindingNoteFor, promotionsForCustomer, requestedBinding } from '../service/bindings.js';
import { AUDIT_EVENTS_PER_PAGE, auditMessage, codesMessage, customerCodesMessage, errorMessage, SETS_PER_PAGE, setInfoMessage, setListMessage, setUpdatedMessage, helpMessage, webhooksMessage, type Message } from './blocks/messages.js';
import { editSetModal, newSetModal } from './blocks/set-modal.js';
import { codeOverrides, pageArgument, parseCommandText, setRefAndAmount } from './command-args.js';
import { firstDelivery } from './retries.js';
import type { SlackDeps } from './deps.js';
import { errorText } from './edge.js';
import { recentBatches } from '../service/promotions.js';
import { NO_USAGE } from '../domain/usage.js';
import { usageOfBatches, usageOfSet } from '../service/usage.js';
import { voidFromSlack, voidTarget } from './voiding.js';
import { accessAuditReply } from './access.js';
import { truncate } from '../domain/text.js';
import { parseOverrides } from '../domain/promotion.js';
import { authorize, checkIssue, issueAllowed, may, overLimitsSentence, slackActor } from '../service/access.js';
import { accessCommand, settingsCommand } from './access.js';
import { voidAuthorized } from './voiding.js';
import { parseReportWindow } from '../domain/daily-usage.js';
import { digestTime, setDigest } from '../service/digests.js';
import { notInChannelText, NOT_IN_CHANNEL_ERRORS, parseChannel, sendReport, setChartBlocks, slackErrorCode } from './charts.js';
import type { webApi } from '@slack/bolt';

export const COMMAND = '/promo';

const ephemeral = (message: Message) => ({ response_type: 'ephemeral' as const, ...message });

/** `/promo <subcommand> …`: ack at once, then answer through the response_url (ephemeral). */
export function register(app: App, deps: SlackDeps): void {
  const { core } = deps;

  app.command(COMMAND, async ({ command, ack, respond, client }) => {
    await ack();
    const userId = command.user_id;
    const actor = slackActor(userId);
    const reply = (message: Message) => respond(ephemeral(message));
    try {
      if (!(await firstDelivery(deps, command))) return;
      const { subcommand, positional, options } = parseCommandText(command.text ?? '');
      const ref = positional.join(' ');
      switch (subcommand) {
        case '':
        case 'help':
          await reply(helpMessage());
          return;
        case 'list': {
          const { rest, page } = pageArgument(positional);
          if (rest.length > 0) throw new PromoError('bad_request', `\`/promo list\` takes only a page, like \`/promo list page 2\`; for one set use \`/promo info ${truncate(rest.join(' '), 40).replace(/`/g, "'")}\`.`);
          await authorize(core, actor, 'view');
          const sets = await listSets(core);
          const window = pageWindow(sets.length, page, SETS_PER_PAGE, 'sets');
          await reply(setListMessage(sets.slice(window.offset, window.offset + window.size), window));
          return;
        }
        case 'info': {
          await authorize(core, actor, 'view');
          const set = await findSet(core, ref);
          const [summary] = (await listSets(core, { includeArchived: true })).filter((s) => s.set.id === set.id);
          const batches = await recentBatches(core, { setId: set.id, limit: 5 });
          const [setUsage, batchUsage] = await Promise.all([usageOfSet(core, set.id), usageOfBatches(core, batches.map((b) => b.id))]);
          const usage = { set: setUsage, batches: batches.map((batch) => ({ batch, usage: batchUsage.get(batch.id) ?? NO_USAGE })) };
          const message = setInfoMessage(summary ?? { set, promotions: 0, batches: 0 }, setUrl(core, set), await may(core, actor, 'see_secrets', set), usage, await boundCodesOfSet(core, set.id));
          await reply(withChart(message, await setChartBlocks(deps, client, set)));
          return;
        }
        case 'report': {
          // The window is the last word when it looks like one, digits then letters (30d, 7x); set
          // names may have spaces and end in a number ("Sale 2026"). A name ending like a window is quoted.
          const words = [...positional];
          const window = words.length > 1 && /^\d+[a-z]+$/i.test(words.at(-1)!) ? words.pop() : undefined;
          const days = parseReportWindow(window);
          const set = await findSet(core, words.join(' '));
          await authorize(core, actor, 'view', set);
          await reply(await sendReport(deps, client, set, days, userId, command.channel_id));
          return;
        }
        case 'digest': {
          await authorize(core, actor, 'schedule_digest');
          const [channelToken, frequencyWord, ...extra] = positional;
          const channelId = parseChannel(channelToken);
          const frequency = (frequencyWord ?? '').toLowerCase();
          if (!['daily', 'weekly', 'off'].includes(frequency) || extra.length > 0) {
            throw new PromoError('bad_request', 'Say how often: `/promo digest #channel daily`, `weekly` (Mondays) or `off`.', { frequency: 'must be daily, weekly or off' });
          }
          await reply(await scheduleDigest(deps, client, channelId, frequency as 'daily' | 'weekly' | 'off', userId));
          return;
        }
        case 'void':
        case 'unvoid': {
          const restore = subcommand === 'unvoid';
          if (Object.keys(options).length > 0) throw new PromoError('bad_request', `\`/promo ${subcommand}\` takes codes or \`batch <id>\`, no options.`);
          const target = voidTarget(positional, restore);
          await voidAuthorized(core, actor, target, restore);
          await reply(await voidFromSlack(core, target, restore, userId));
          return;
        }
        case 'new':
          await authorize(core, actor, 'create_set');
          await client.views.open({ trigger_id: command.trigger_id, view: newSetModal(ref, { channelId: command.channel_id }) });
          return;
        case 'code': {
          const set = await findSet(core, ref);
          const input = codeOverrides(options);
          const decision = await checkIssue(core, actor, set, { amount: 1, overrides: parseOverrides(input) });
          if (decision.kind === 'needs_approval') {
            throw new PromoError('forbidden', `${overLimitsSentence(decision.over)} To ask a manager, use \`/promo codes ${set.id} 1\` and give a reason in the form.`);
          }
          const promotion = await issueAllowed(decision, () => generatePromotion(core, set, input, `slack:${userId}`));
          const binding = requestedBinding(input);
          await reply(codesMessage(set, [promotion], promotion.id, { clients: binding ? [{ code: promotion.code, ...binding }] : [], note: binding ? bindingNoteFor(promotion.maxuses) : null }));
          return;
        }
        case 'codes-for': {
          // Who got which code is customer data: for those who manage sets.
          await authorize(core, actor, 'see_customers');
          if (ref === '') throw new PromoError('bad_request', 'Name the customer: `/promo codes-for ann@example.com` or `/promo codes-for 42` (a WHMCS client id).');
          const { customer, promotions } = await promotionsForCustomer(core, ref, 50);
          await reply(customerCodesMessage(customer, promotions, 50));
          return;
        }
        case 'codes': {
          const target = setRefAndAmount(positional);
          const set = await findSet(core, target.ref);
          await authorize(core, actor, 'issue', set);
          if (set.archived_at) throw new PromoError('conflict', `The promo set "${set.name}" is archived; it no longer issues codes.`);
          await client.views.open({ trigger_id: command.trigger_id, view: generateCodesModal(set, target.amount ?? options.amount, { setId: set.id, channelId: command.channel_id }) });
          return;
        }
        case 'edit': {
          const set = await findSet(core, ref);
          await authorize(core, actor, 'edit_set', set);
          await client.views.open({ trigger_id: command.trigger_id, view: editSetModal(editableFields(set), { setId: set.id, channelId: command.channel_id }) });
          return;
        }
        case 'rotate': {
          const found = await findSet(core, ref);
          await authorize(core, actor, 'rotate_set', found);
          const set = await rotateSetKey(core, found.id, `slack:${userId}`);
          await reply(setUpdatedMessage(set, 'has a new URL; the old one stopped working', setUrl(core, set)));
          return;
        }
        case 'audit': {
          // Actors include client IPs and people: for those who manage sets only.
          const { rest, page } = pageArgument(positional);
          if (rest.length === 0) {
            // No set: the access trail (grants, revokes, settings).
            await reply(await accessAuditReply(core, actor, page));
            return;
          }
          const set = await findSet(core, rest.join(' '));
          await authorize(core, actor, 'audit', set);
          const { events, window } = await setAuditPage(core, set.id, page, AUDIT_EVENTS_PER_PAGE);
          await reply(auditMessage(set, events, window));
          return;
        }
        case 'webhooks': {
          // Deliveries name events and errors of other systems; the secret is for admins only.
          // Set names may have spaces: the action is read from the end.
          const words = [...positional];
          let action: string | undefined;
          let eventId = '';
          if (words.at(-1) === 'rotate-secret') action = words.pop();
          else if (words.at(-2) === 'resend') [action, eventId] = words.splice(-2);
          const set = await findSet(core, words.join(' '));
          await authorize(core, actor, 'manage_webhooks', set);
          if (action === 'rotate-secret') {
            const updated = await rotateWebhookSecret(core, set.id, `slack:${userId}`);
            await reply(setUpdatedMessage(updated, `has a new webhook signing secret: \`${updated.webhook_secret}\`. Deliveries from now on are signed with it`));
          } else if (action === 'resend') {
            const delivery = await resendDelivery(core, set.id, eventId, `slack:${userId}`);
            await reply(setUpdatedMessage(set, `will send \`${delivery.event_id}\` (${delivery.type}) again now`));
          } else {
            await reply(webhooksMessage(await webhookOverview(core, set.id)));
          }
          return;
        }
        case 'archive': {
          const found = await findSet(core, ref);
          await authorize(core, actor, 'archive_set', found);
          const set = await archiveSet(core, found.id, `slack:${userId}`);
          await reply(setUpdatedMessage(set, 'is archived; its URL no longer issues codes'));
          return;
        }
        case 'access':
          await accessCommand(deps, client, command, positional, options, reply);
          return;
        case 'settings':
          await reply(await settingsCommand(deps, actor, positional, options));
          return;
        default:
          await reply(helpMessage(`I don't know \`${truncate(subcommand, 30).replace(/`/g, "'")}\`. Here is what I can do:`));
      }
    } catch (error) {
      await replyError(respond, error, deps);
    }
  });
}

export async function replyError(respond: RespondFn | undefined, error: unknown, deps: SlackDeps): Promise<void> {
  const text = errorText(error, deps.logger);
  if (!respond) return;
  await respond(ephemeral(errorMessage(text))).catch((e: unknown) => deps.logger.warn('could not reply in Slack', { error: e instanceof Error ? e.message : String(e) }));
}

/** The info message with the chart after its heading and counts (kept within a message's 50 blocks). */
function withChart(message: Message, chart: Message['blocks']): Message {
  if (!chart || chart.length === 0 || !message.blocks) return message;
  const blocks = [...message.blocks];
  blocks.splice(Math.min(3, blocks.length), 0, ...chart);
  return { ...message, blocks: blocks.slice(0, 50) };
}

/**
 * Subscribe a channel to the digest. promoset posts a confirmation there
 * first: a channel it is not in refuses the post, and the person is told how
 * to invite it, before anything is saved.
 */
async function scheduleDigest(deps: SlackDeps, client: webApi.WebClient, channelId: string, frequency: 'daily' | 'weekly' | 'off', userId: string): Promise<Message> {
  const schedule = { hour: deps.digestHour };
  const when = frequency === 'daily' ? `every day at ${digestTime(deps.core, schedule)}` : `every Monday at ${digestTime(deps.core, schedule)}`;
  if (frequency === 'off') {
    const removed = await setDigest(deps.core, schedule, channelId, 'off', `slack:${userId}`);
    const text = removed ? `The digest for <#${channelId}> is off.` : `<#${channelId}> had no digest; nothing changed.`;
    return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
  }
  try {
    await client.chat.postMessage({ channel: channelId, text: `<@${userId}> scheduled a ${frequency} promo digest for this channel: a summary of every live promo set with a chart and alerts, ${when}.` });
  } catch (error) {
    const code = slackErrorCode(error);
    if (code && NOT_IN_CHANNEL_ERRORS.has(code)) throw new PromoError('conflict', notInChannelText(channelId), { channel: 'promoset is not in this channel' });
    throw error;
  }
  await setDigest(deps.core, schedule, channelId, frequency, `slack:${userId}`);
  const text = `<#${channelId}> gets a ${frequency} promo digest ${when}. Turn it off with \`/promo digest <#${channelId}> off\`.`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
}
