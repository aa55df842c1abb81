import type { App } from '@slack/bolt';
import { PromoError } from '../domain/errors.js';
import { claimDelivery, releaseDelivery } from '../service/deliveries.js';
import { checkGenerationRequest } from '../service/generate.js';
import { createSet, editableFields, getSet, updateSet } from '../service/sets.js';
import { setUrl } from '../service/set-urls.js';
import { codesInputFromForm, GENERATE_CODES_CALLBACK, type CodesModalMetadata } from './blocks/codes-modal.js';
import { readInputs } from './blocks/inputs.js';
import { setCreatedMessage, setUpdatedMessage } from './blocks/messages.js';
import { EDIT_SET_CALLBACK, NEW_SET_CALLBACK, parseMetadata, setFormValues, setInputFromForm, type SetModalMetadata } from './blocks/set-modal.js';
import { deliverBatch, postToUser, type BatchOrder } from './batch-delivery.js';
import type { SlackDeps } from './deps.js';
import { viewErrors } from './edge.js';
import { authorize, checkIssue, overLimitsSentence, slackActor } from '../service/access.js';
import { askForApproval } from './approvals.js';

/**
 * Modal submissions. Each checks permission, validates through the service
 * (errors go back inline with response_action 'errors', keyed by block_id),
 * claims the delivery so a retried or replayed submission changes nothing a
 * second time, acks, and only then does slow work.
 */
export function register(app: App, deps: SlackDeps): void {
  const { core, logger, jobs } = deps;

  app.view(NEW_SET_CALLBACK, async ({ ack, body, view, client }) => {
    const userId = body.user.id;
    const blockIds = Object.keys(view.state.values);
    const key = `view:${view.id}`;
    let created;
    try {
      await authorize(core, slackActor(userId), 'create_set');
      if (!(await claimDelivery(core, key))) {
        await ack();
        return;
      }
      try {
        created = await createSet(core, setInputFromForm(readInputs(view.state.values)), `slack:${userId}`);
      } catch (error) {
        await releaseDelivery(core, key);
        throw error;
      }
    } catch (error) {
      await ack({ response_action: 'errors', errors: viewErrors(error, blockIds, 'name', logger) });
      return;
    }
    await ack();
    const set = created;
    jobs.run('new set summary', () => postToUser(client, userId, setCreatedMessage(set, setUrl(core, set))));
  });

  app.view(EDIT_SET_CALLBACK, async ({ ack, body, view, client }) => {
    const userId = body.user.id;
    const blockIds = Object.keys(view.state.values);
    const { setId } = parseMetadata<SetModalMetadata>(view.private_metadata);
    let updated;
    try {
      const current = await getSet(core, formSetId(setId));
      await authorize(core, slackActor(userId), 'edit_set', current);
      const changes = setInputFromForm(readInputs(view.state.values), setFormValues(editableFields(current)));
      updated = await updateSet(core, current.id, changes, `slack:${userId}`);
    } catch (error) {
      await ack({ response_action: 'errors', errors: viewErrors(error, blockIds, 'name', logger) });
      return;
    }
    await ack();
    const set = updated;
    jobs.run('edit summary', () => postToUser(client, userId, setUpdatedMessage(set, 'is saved')));
  });

  app.view(GENERATE_CODES_CALLBACK, async ({ ack, body, view, client }) => {
    const userId = body.user.id;
    const blockIds = Object.keys(view.state.values);
    const metadata = parseMetadata<CodesModalMetadata>(view.private_metadata);
    const key = `view:${view.id}`;
    let order: BatchOrder;
    let approval: { reason: string; over: string[] } | undefined;
    const actor = slackActor(userId);
    try {
      const set = await getSet(core, formSetId(metadata.setId));
      await authorize(core, actor, 'issue', set);
      const { reason: rawReason, ...form } = readInputs(view.state.values);
      const reason = String(rawReason ?? '').trim();
      const request = await checkGenerationRequest(core, set, codesInputFromForm(form));
      // Within limits: counted against today's limit now (given back if issuing fails or the
      // submission was a duplicate). Over them: a reason turns it into an approval request.
      const decision = await checkIssue(core, actor, set, { amount: request.amount, overrides: request.overrides });
      if (decision.kind === 'needs_approval') {
        if (reason === '') {
          throw new PromoError('validation_failed', overLimitsSentence(decision.over), { reason: `${overLimitsSentence(decision.over)} Give a reason to ask a manager.` });
        }
        approval = { reason, over: decision.over };
        order = { set, request, userId, channelId: metadata.channelId };
      } else {
        order = { set, request, userId, channelId: metadata.channelId, onFailed: decision.release };
      }
    } catch (error) {
      await ack({ response_action: 'errors', errors: viewErrors(error, blockIds, 'amount', logger) });
      return;
    }
    await ack();
    if (approval) {
      const ask = { ...order, ...approval };
      jobs.run('approval request', async () => {
        if (await claimDelivery(core, key)) await askForApproval(deps, client, ask);
      });
      return;
    }
    // Claimed only once the input is valid, so a corrected resubmission of the same
    // modal still goes through; and after ack, because on SQLite a running batch
    // holds the write lock and Slack must get its answer at once.
    const claimed = order;
    jobs.run('generate codes', async () => {
      if (await claimDelivery(core, key)) await deliverBatch(deps, client, claimed);
      else {
        await claimed.onFailed?.();
        logger.info('duplicate Slack delivery acknowledged, not processed', { kind: 'view' });
      }
    });
  });
}

/** The set a modal was opened for (from private_metadata, which we wrote). */
function formSetId(value: unknown): number {
  const id = Number(value);
  if (!Number.isInteger(id) || id <= 0) throw new PromoError('bad_request', 'This form names no promo set; open it again from /promo.');
  return id;
}
