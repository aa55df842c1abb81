import type { App, BlockButtonAction, types, webApi } from '@slack/bolt';
import { PromoError } from '../domain/errors.js';
import { promotionTerms, type BulkRequest } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import { slackActor } from '../service/access.js';
import { approvalsChannel } from '../service/access-policy.js';
import { approversOf } from '../service/role-resolution.js';
import { assertMayDecide, decideApproval, expireApprovals, pendingApprovals, recordApprovalMessages, recordApprovedBatch, requestApproval, type Approval } from '../service/approvals.js';
import { today, type Core } from '../service/core.js';
import { getSet } from '../service/sets.js';
import { deliverBatch, directChannel, postToUser } from './batch-delivery.js';
import { modal, readInputs, textInput } from './blocks/inputs.js';
import type { Message } from './blocks/messages.js';
import { escapeText, shortText, truncateMrkdwn } from './blocks/text.js';
import type { SlackDeps } from './deps.js';
import { errorText, viewErrors } from './edge.js';
import { firstDelivery } from './retries.js';

export const APPROVAL_ACTIONS = { approve: 'approval_approve', deny: 'approval_deny' } as const;
export const DENY_CALLBACK = 'promo_approval_deny';

type WebClient = webApi.WebClient;
type Block = types.KnownBlock;

const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text: truncateMrkdwn(text, 3000) } });
const time = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
const person = (actor: string | null) => (actor?.startsWith('slack:') ? `<@${actor.slice(6)}>` : escapeText(actor ?? 'someone'));

/** What the request asks for, the same on every copy of its message. */
function describe(core: Core, request: Approval, set: PromoSet): string {
  const terms = promotionTerms(set, request.request.overrides, today(core));
  const value = terms.type === 'Percentage' ? `${terms.value}%` : `${terms.value} (${terms.type})`;
  const dates = `${terms.startdate === '0000-00-00' ? 'from today' : `from ${terms.startdate}`}, ${terms.expirationdate === '0000-00-00' ? 'no expiry' : `until ${terms.expirationdate}`}`;
  return [
    `:raising_hand: <@${request.asker}> asks for *${request.amount.toLocaleString('en-US')} code${request.amount === 1 ? '' : 's'}* from *${shortText(set.name, 80)}* (id ${set.id}).`,
    `*Value*: ${value} · *Dates*: ${dates}`,
    `*Reason*: ${escapeText(shortText(request.reason, 1000))}`,
    `*Over*: ${escapeText(request.over_limits.join('; '))}`,
  ].join('\n');
}

export function approvalMessage(core: Core, request: Approval, set: PromoSet): Message {
  const blocks: Block[] = [section(describe(core, request, set))];
  if (request.status === 'pending') {
    blocks.push(
      { type: 'context', elements: [{ type: 'mrkdwn', text: `Request #${request.id} · a manager of this set other than the asker decides · expires ${time(request.expires_at)}` }] },
      {
        type: 'actions',
        block_id: `approval_${request.id}`,
        elements: [
          { type: 'button', action_id: APPROVAL_ACTIONS.approve, text: { type: 'plain_text', text: 'Approve' }, style: 'primary', value: String(request.id) },
          { type: 'button', action_id: APPROVAL_ACTIONS.deny, text: { type: 'plain_text', text: 'Deny' }, style: 'danger', value: String(request.id) },
        ],
      },
    );
  } else {
    blocks.push(section(outcomeText(request)));
  }
  return { text: `Approval request #${request.id}: ${request.amount} codes from ${shortText(set.name, 80)} (${request.status})`, blocks };
}

function outcomeText(request: Approval): string {
  switch (request.status) {
    case 'approved':
      return `:white_check_mark: Approved by ${person(request.decided_by)} at ${time(request.decided_at ?? '')}${request.batch_id ? `; issued as batch ${request.batch_id}` : ''}.`;
    case 'denied':
      return `:no_entry: Denied by ${person(request.decided_by)} at ${time(request.decided_at ?? '')}: ${escapeText(shortText(request.decision_reason ?? '', 500))}`;
    case 'expired':
      return `:hourglass: Expired at ${time(request.expires_at)}, undecided; nothing was issued.`;
    default:
      return request.status;
  }
}

export interface ApprovalAsk {
  set: PromoSet;
  request: BulkRequest;
  userId: string;
  reason: string;
  over: string[];
}

/** Record the request, post it to the approvals channel (or each manager's DM), and tell the asker. */
export async function askForApproval(deps: SlackDeps, client: WebClient, ask: ApprovalAsk): Promise<Approval> {
  const { core, logger } = deps;
  const request = await requestApproval(core, slackActor(ask.userId), ask.set, ask.request, ask.reason, ask.over);
  const message = approvalMessage(core, request, ask.set);
  const posted: { channel: string; ts: string }[] = [];
  const channel = await approvalsChannel(core);
  const post = async (target: string) => {
    const answer = await client.chat.postMessage({ channel: target, ...message });
    if (answer.ts) posted.push({ channel: answer.channel ?? target, ts: answer.ts });
  };
  if (channel) {
    await post(channel).catch((error: unknown) => logger.warn('could not post an approval request to the approvals channel', { error: error instanceof Error ? error.message : String(error) }));
  }
  if (posted.length === 0) {
    for (const manager of (await approversOf(core, ask.set.id)).filter((id) => id !== ask.userId).slice(0, 50)) {
      await post(await directChannel(client, manager)).catch((error: unknown) => logger.warn('could not DM a manager an approval request', { error: error instanceof Error ? error.message : String(error) }));
    }
  }
  await recordApprovalMessages(core, request.id, posted);
  const where = posted.length === 0 ? ' Nobody could be asked yet (no approvals channel and no other manager of this set): ask an owner to set one with `/promo settings approvals #channel`.' : channel && posted[0].channel === channel ? ` It is in <#${channel}>.` : ` ${posted.length} manager${posted.length === 1 ? ' was' : 's were'} asked by DM.`;
  await postToUser(client, ask.userId, { text: `:hourglass_flowing_sand: Your request #${request.id} for ${request.amount.toLocaleString('en-US')} codes from ${shortText(ask.set.name, 80)} waits for a manager's approval (24 hours at most).${where}` });
  return { ...request, messages: posted };
}

/** Show the outcome on every copy of the request's message. */
async function updateMessages(core: Core, client: WebClient, request: Approval): Promise<void> {
  const set = await getSet(core, request.set_id);
  const message = approvalMessage(core, request, set);
  await Promise.all(request.messages.map((m) => client.chat.update({ channel: m.channel, ts: m.ts, ...message }).catch(() => undefined)));
}

/**
 * Expire requests left undecided for 24 hours, update their messages and tell
 * the askers. Runs every minute on every instance; each request is expired once.
 */
export async function sweepApprovals(deps: SlackDeps, client: WebClient): Promise<number> {
  const expired = await expireApprovals(deps.core);
  for (const request of expired) {
    await updateMessages(deps.core, client, request);
    await postToUser(client, request.asker, { text: `:hourglass: Your request #${request.id} for ${request.amount.toLocaleString('en-US')} codes expired undecided after 24 hours; nothing was issued. Ask again if you still need them.` }).catch(() => undefined);
  }
  return expired.length;
}

export function register(app: App, deps: SlackDeps): void {
  const { core, logger, jobs } = deps;

  const press = (actionId: string, handle: (args: { userId: string; id: number; body: BlockButtonAction; client: WebClient }) => Promise<void>) => {
    app.action<BlockButtonAction>(actionId, async ({ ack, body, action, respond, client }) => {
      await ack();
      const userId = body.user.id;
      try {
        if (!(await firstDelivery(deps, body))) return;
        const id = Number(action.value);
        if (!Number.isInteger(id) || id <= 0) throw new PromoError('bad_request', 'This button names no approval request.');
        await handle({ userId, id, body, client });
      } catch (error) {
        const text = `:warning: ${errorText(error, logger)}`;
        const message = { text, blocks: [section(escapeText(text))] };
        if (respond) await respond({ response_type: 'ephemeral', replace_original: false, ...message }).catch(() => undefined);
        else await postToUser(client, userId, message).catch(() => undefined);
      }
    });
  };

  press(APPROVAL_ACTIONS.approve, async ({ userId, id, client }) => {
    const decided = await decideApproval(core, slackActor(userId), id, 'approve');
    const set = await getSet(core, decided.set_id);
    await updateMessages(core, client, decided);
    jobs.run('approved batch', async () => {
      let batchId: number | undefined;
      await deliverBatch(deps, client, {
        set, request: decided.request, userId: decided.asker,
        onGenerated: async (stored) => {
          batchId = stored;
          await recordApprovedBatch(core, decided, stored);
        },
      });
      if (batchId !== undefined) {
        await updateMessages(core, client, { ...decided, batch_id: batchId });
        await postToUser(client, decided.asker, { text: `:white_check_mark: <@${userId}> approved your request #${id}; the ${decided.amount.toLocaleString('en-US')} codes are in batch ${batchId}.` }).catch(() => undefined);
      }
    });
  });

  press(APPROVAL_ACTIONS.deny, async ({ userId, id, body, client }) => {
    // Refuse early (not a manager, the asker, already decided) rather than after the form.
    await assertMayDecide(core, slackActor(userId), id);
    await client.views.open({
      trigger_id: body.trigger_id,
      view: modal(DENY_CALLBACK, 'Deny request', 'Deny', { requestId: id }, [
        section(`Deny request #${id}? The asker sees your reason.`),
        textInput('reason', { label: 'Reason', multiline: true, maxLength: 500 }),
      ]),
    });
  });

  app.view(DENY_CALLBACK, async ({ ack, body, view, client }) => {
    const userId = body.user.id;
    let decided: Approval;
    try {
      const { requestId } = JSON.parse(view.private_metadata || '{}') as { requestId?: unknown };
      const reason = String(readInputs(view.state.values).reason ?? '');
      decided = await decideApproval(core, slackActor(userId), Number(requestId), 'deny', reason);
    } catch (error) {
      await ack({ response_action: 'errors', errors: viewErrors(error, Object.keys(view.state.values), 'reason', logger) });
      return;
    }
    await ack();
    jobs.run('denied request', async () => {
      await updateMessages(core, client, decided);
      await postToUser(client, decided.asker, { text: `:no_entry: <@${userId}> denied your request #${decided.id} for ${decided.amount.toLocaleString('en-US')} codes: ${escapeText(decided.decision_reason ?? '')}` });
    });
  });
}

/** App Home: the pending requests this person may decide (managers), with the buttons. */
export async function pendingForHome(core: Core, userId: string, may: (set: PromoSet) => Promise<boolean>): Promise<Block[]> {
  const blocks: Block[] = [];
  const pending = await pendingApprovals(core);
  let shown = 0;
  for (const request of pending) {
    if (request.asker === userId) continue;
    const set = await getSet(core, request.set_id);
    if (!(await may(set))) continue;
    if (shown === 8) {
      blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…and more: the approvals channel or your DMs have them all.` }] });
      break;
    }
    blocks.push(...approvalMessage(core, request, set).blocks!);
    shown++;
  }
  return blocks;
}
