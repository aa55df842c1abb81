import type { App, BlockButtonAction, webApi } from '@slack/bolt';
import { PromoError } from '../domain/errors.js';
import type { PromoSet } from '../domain/set.js';
import { generatePromotion } from '../service/generate.js';
import { asPromoError } from '../service/errors.js';
import { archiveSet, editableFields, getSet, rotateSetKey } from '../service/sets.js';
import { setUrl } from '../service/set-urls.js';
import { generateCodesModal } from './blocks/codes-modal.js';
import { ACTIONS, codesMessage, setUpdatedMessage, type Message } from './blocks/messages.js';
import { editSetModal, newSetModal } from './blocks/set-modal.js';
import { replyError } from './commands.js';
import { postToUser } from './batch-delivery.js';
import { firstDelivery } from './retries.js';
import type { SlackDeps } from './deps.js';
import { voidAuthorized, voidFromSlack } from './voiding.js';
import { authorize, checkIssue, issueAllowed, overLimitsSentence, slackActor, type Action } from '../service/access.js';

/** Button presses. Permission is checked here again: a button outlives the message that showed it. */
export function register(app: App, deps: SlackDeps): void {
  const { core } = deps;

  interface Press {
    /** The set the button names (its value), loaded only after the permission check. */
    set: () => Promise<PromoSet>;
    body: BlockButtonAction;
    /** The button's raw value. */
    value: string;
    reply: (message: Message) => Promise<unknown>;
    client: webApi.WebClient;
  }

  /**
   * `action`: what the button does, authorized on the set it names (null: the
   * handler authorizes itself, e.g. voiding, whose sets come from its codes).
   */
  const button = (actionId: string, action_: Action | null, handle: (press: Press) => Promise<void>) => {
    app.action<BlockButtonAction>(actionId, async ({ ack, body, action, respond, client }) => {
      await ack();
      const userId = body.user.id;
      const reply = (message: Message) =>
        respond ? respond({ response_type: 'ephemeral', replace_original: false, ...message }) : postToUser(client, userId, message);
      try {
        if (!(await firstDelivery(deps, body))) return;
        let named: PromoSet | undefined;
        const set = async () => {
          if (named) return named;
          const id = Number(action.value);
          if (!Number.isInteger(id) || id <= 0) throw new PromoError('bad_request', 'This button names no promo set.');
          named = await getSet(core, id);
          return named;
        };
        if (action_ === 'create_set') await authorize(core, slackActor(userId), action_);
        else if (action_) await authorize(core, slackActor(userId), action_, await set());
        await handle({ set, body, reply, client, value: action.value ?? '' });
      } catch (error) {
        if (respond) await replyError(respond, error, deps);
        else await postToUser(client, userId, { text: `:warning: ${asPromoError(error)?.message ?? 'Something went wrong on our side; nothing was saved.'}` }).catch(() => undefined);
      }
    });
  };

  button(ACTIONS.generateCode, 'issue', async ({ set, body, reply }) => {
    const target = await set();
    const decision = await checkIssue(core, slackActor(body.user.id), target, { amount: 1, overrides: {} });
    if (decision.kind === 'needs_approval') throw new PromoError('forbidden', `${overLimitsSentence(decision.over)} To ask a manager, use \`/promo codes ${target.id} 1\` and give a reason in the form.`);
    const promotion = await issueAllowed(decision, () => generatePromotion(core, target, {}, `slack:${body.user.id}`));
    await reply(codesMessage(target, [promotion], promotion.id));
  });

  button(ACTIONS.generateCodes, 'issue', async ({ set, body, client }) => {
    const target = await set();
    if (target.archived_at) throw new PromoError('conflict', `The promo set "${target.name}" is archived; it no longer issues codes.`);
    await client.views.open({ trigger_id: body.trigger_id, view: generateCodesModal(target, undefined, { setId: target.id, channelId: body.channel?.id }) });
  });

  button(ACTIONS.edit, 'edit_set', async ({ set, body, client }) => {
    const target = await set();
    await client.views.open({ trigger_id: body.trigger_id, view: editSetModal(editableFields(target), { setId: target.id, channelId: body.channel?.id }) });
  });

  button(ACTIONS.rotate, 'rotate_set', async ({ set, body, reply }) => {
    const rotated = await rotateSetKey(core, (await set()).id, `slack:${body.user.id}`);
    await reply(setUpdatedMessage(rotated, 'has a new URL; the old one stopped working', setUrl(core, rotated)));
  });

  button(ACTIONS.archive, 'archive_set', async ({ set, body, reply }) => {
    const archived = await archiveSet(core, (await set()).id, `slack:${body.user.id}`);
    await reply(setUpdatedMessage(archived, 'is archived; its URL no longer issues codes'));
  });

  // On a batch's message (codes message, CSV upload): value `batch:<id>` or `code:<code>`.
  button(ACTIONS.voidCodes, null, async ({ value, body, reply }) => {
    const match = /^(batch|code):(.{1,200})$/.exec(value);
    if (!match || (match[1] === 'batch' && !/^\d{1,12}$/.test(match[2]))) throw new PromoError('bad_request', 'This button names no batch or code.');
    const target = match[1] === 'batch' ? { batchId: Number(match[2]) } : { codes: [match[2]] };
    await voidAuthorized(core, slackActor(body.user.id), target, false);
    await reply(await voidFromSlack(core, target, false, body.user.id));
  });

  button(ACTIONS.newSet, 'create_set', async ({ body, client }) => {
    await client.views.open({ trigger_id: body.trigger_id, view: newSetModal('', { channelId: body.channel?.id }) });
  });
}
