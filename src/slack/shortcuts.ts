import type { App } from '@slack/bolt';
import { PromoError } from '../domain/errors.js';
import type { PromoSet } from '../domain/set.js';
import { may, slackActor } from '../service/access.js';
import { claimDelivery } from '../service/deliveries.js';
import { getSet, listSets } from '../service/sets.js';
import { ISSUE_CODE_CALLBACK, issueCodeModal, type IssueCodeMetadata } from './blocks/issue-code-modal.js';
import { readInputs } from './blocks/inputs.js';
import { codesMessage, errorMessage } from './blocks/messages.js';
import { parseMetadata } from './blocks/set-modal.js';
import { postToUser } from './batch-delivery.js';
import type { SlackDeps } from './deps.js';
import { errorText, viewErrors } from './edge.js';
import { checkOneFor } from './workflow-steps.js';

export const SHORTCUTS = {
  /** Global: *Issue a promo code*. */
  issueCode: 'issue_promo_code',
  /** Message: a code whose notes link to the message. */
  issueCodeForMessage: 'issue_promo_code_for_message',
} as const;

/** The live sets this person may issue from, asked of service/access.ts set by set. */
export async function issuableSets(deps: SlackDeps, userId: string): Promise<PromoSet[]> {
  const actor = slackActor(userId);
  const sets = (await listSets(deps.core)).map((summary) => summary.set);
  const allowed = await Promise.all(sets.map((set) => may(deps.core, actor, 'issue', set)));
  return sets.filter((_, i) => allowed[i]);
}

export function register(app: App, deps: SlackDeps): void {
  const { core, logger, jobs } = deps;

  app.shortcut(SHORTCUTS.issueCode, async ({ ack, shortcut, client }) => {
    await ack();
    try {
      const sets = await issuableSets(deps, shortcut.user.id);
      await client.views.open({ trigger_id: shortcut.trigger_id, view: issueCodeModal(sets, {}) });
    } catch (error) {
      await postToUser(client, shortcut.user.id, errorMessage(errorText(error, logger))).catch(() => undefined);
    }
  });

  app.shortcut(SHORTCUTS.issueCodeForMessage, async ({ ack, shortcut, client, respond }) => {
    await ack();
    if (shortcut.type !== 'message_action') return;
    // The trigger is good for 3 seconds: the link and the sets are read at once, before the modal opens.
    const [sets, permalink] = await Promise.all([
      issuableSets(deps, shortcut.user.id).catch(async (error) => {
        await respond({ response_type: 'ephemeral', ...errorMessage(errorText(error, logger)) }).catch(() => undefined);
        return undefined;
      }),
      client.chat.getPermalink({ channel: shortcut.channel.id, message_ts: shortcut.message.ts }).then((r) => r.permalink, (error: Error) => error),
    ]);
    if (typeof permalink !== 'string') {
      logger.warn('chat.getPermalink failed for the message shortcut', { error: permalink instanceof Error ? permalink.message : String(permalink) });
      await respond({ response_type: 'ephemeral', text: ':warning: promoset cannot link to this message (it cannot see this conversation). Invite the app to the channel, or use the *Issue a promo code* shortcut instead.' });
      return;
    }
    if (!sets) return;
    await client.views.open({ trigger_id: shortcut.trigger_id, view: issueCodeModal(sets, { permalink }) });
  });

  app.view(ISSUE_CODE_CALLBACK, async ({ ack, body, view, client }) => {
    const userId = body.user.id;
    const metadata = parseMetadata<IssueCodeMetadata>(view.private_metadata);
    const blockIds = Object.keys(view.state.values);
    let checked: Awaited<ReturnType<typeof checkOneFor>>;
    let set: PromoSet;
    try {
      const form = readInputs(view.state.values);
      const id = Number(form.set);
      if (!Number.isInteger(id) || id <= 0) throw new PromoError('validation_failed', 'Pick a promo set.', { set: 'Pick a promo set.' });
      set = await getSet(core, id);
      const permalink = typeof metadata.permalink === 'string' && metadata.permalink.startsWith('https://') ? metadata.permalink : undefined;
      const notes = [String(form.note ?? '').trim(), permalink && `From Slack: ${permalink}`].filter(Boolean).join('\n');
      // Role, limits and the set's state decide now, so a refusal shows in the modal.
      checked = await checkOneFor(deps, userId, set, notes ? { notes } : {});
    } catch (error) {
      await ack({ response_action: 'errors', errors: viewErrors(error, blockIds, 'set', logger) });
      return;
    }
    await ack();
    // After ack: on SQLite a running batch may hold the write lock, and Slack wants its answer at once.
    jobs.run('shortcut code', async () => {
      if (!(await claimDelivery(core, `view:${view.id}`))) {
        await checked.release();
        return;
      }
      try {
        const promotion = await checked.issue();
        await postToUser(client, userId, codesMessage(set, [promotion], promotion.id));
      } catch (error) {
        await postToUser(client, userId, errorMessage(errorText(error, logger))).catch(() => undefined);
      }
    });
  });
}
