import type { App, RespondFn } from '@slack/bolt';
import { PromoError } from '../domain/errors.js';
import { generatePromotion } from '../service/generate.js';
import { archiveSet, editableFields, findSet, listSets, rotateSetKey, rotateWebhookSecret } from '../service/sets.js';
import { setAuditPage } from '../service/set-audit.js';
import { setUrl } from '../service/set-urls.js';
import { resendDelivery, webhookOverview } from '../service/webhooks.js';
import { pageWindow } from '../domain/pages.js';
import { generateCodesModal } from './blocks/codes-modal.js';
import { AUDIT_EVENTS_PER_PAGE, auditMessage, codesMessage, errorMessage, SETS_PER_PAGE, setInfoMessage, setListMessage, setUpdatedMessage, helpMessage, webhooksMessage, type Message } from './blocks/messages.js';
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
import { authorize, checkIssue, may, overLimitsSentence, slackActor } from '../service/access.js';
import { accessCommand, settingsCommand } from './access.js';
import { voidAuthorized } from './voiding.js';

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
          await reply(setInfoMessage(summary ?? { set, promotions: 0, batches: 0 }, setUrl(core, set), await may(core, actor, 'see_secrets', set), usage));
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
          let promotion;
          try {
            promotion = await generatePromotion(core, set, input, `slack:${userId}`);
          } catch (error) {
            await decision.release();
            throw error;
          }
          await reply(codesMessage(set, [promotion], promotion.id));
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
