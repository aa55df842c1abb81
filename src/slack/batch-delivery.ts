import type { webApi } from '@slack/bolt';
import type { BulkRequest } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import { generatePromotions } from '../service/generate.js';
import { batchBindings, listPromotions, promotionsCsv } from '../service/promotions.js';
import { bindingNoteFor } from '../service/bindings.js';
import { codesMessage, errorMessage, voidButton, type Message } from './blocks/messages.js';
import { count } from '../domain/text.js';
import { escapeText } from './blocks/text.js';
import type { SlackDeps } from './deps.js';
import { errorText } from './edge.js';

type WebClient = webApi.WebClient;

/** Batches up to this size are posted as a message; bigger ones as a CSV file. */
export const MAX_CODES_IN_MESSAGE = 20;

/** The person's DM with the app: where private results go, and the fallback when a channel refuses us. */
export async function directChannel(client: WebClient, userId: string): Promise<string> {
  const opened = await client.conversations.open({ users: userId });
  const id = opened.channel?.id;
  if (!id) throw new Error('conversations.open returned no channel');
  return id;
}

export async function postToUser(client: WebClient, userId: string, message: Message): Promise<void> {
  await client.chat.postMessage({ channel: await directChannel(client, userId), ...message });
}

/** Post in the channel where it was asked; if the app may not post there, in the person's DM. */
async function postWhereAsked(client: WebClient, channelId: string | undefined, userId: string, message: Message): Promise<{ channel: string; ts?: string }> {
  if (channelId) {
    try {
      const posted = await client.chat.postMessage({ channel: channelId, ...message });
      return { channel: posted.channel ?? channelId, ts: posted.ts };
    } catch {
      // not_in_channel, channel_not_found, a private DM between two people: fall back to our DM.
    }
  }
  const dm = await directChannel(client, userId);
  const posted = await client.chat.postMessage({ channel: dm, ...message });
  return { channel: posted.channel ?? dm, ts: posted.ts };
}

export interface BatchOrder {
  set: PromoSet;
  request: BulkRequest;
  userId: string;
  channelId?: string;
  /** After the batch is stored (an approved request links it to the request). */
  onGenerated?: (batchId: number) => Promise<void>;
  /** When nothing was issued (gives back the codes counted against today's limit). */
  onFailed?: () => Promise<void>;
}

/**
 * Generate a batch (after ack) and hand it over: up to 20 codes as a
 * message, more as a CSV file, with a progress message updated while a large
 * batch runs. Failures reach the person as a sentence; nothing is half-saved
 * (generatePromotions commits all codes or none).
 */
export async function deliverBatch(deps: SlackDeps, client: WebClient, order: BatchOrder): Promise<void> {
  const { set, request, userId } = order;
  const amount = request.amount;
  const asFile = amount > MAX_CODES_IN_MESSAGE;
  const label = `${count(amount, 'code')} from *${escapeText(set.name)}*`;

  let progress: { channel: string; ts?: string } | undefined;
  let updates = Promise.resolve();
  const update = (text: string, blocks: Message['blocks'] = []) => {
    const target = progress;
    if (!target?.ts) return;
    updates = updates.then(() => client.chat.update({ channel: target.channel, ts: target.ts!, text, blocks }).then(() => undefined, () => undefined));
  };

  let generated = false;
  try {
    if (asFile) progress = await postWhereAsked(client, order.channelId, userId, { text: `:hourglass_flowing_sand: Generating ${label}…` });
    let lastTenth = 0;
    const result = await generatePromotions(deps.core, set, request, `slack:${userId}`, {
      onProgress: (done, total) => {
        const tenth = Math.floor((done * 10) / total);
        if (tenth > lastTenth && done < total) {
          lastTenth = tenth;
          update(`:hourglass_flowing_sand: Generating ${label}… ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`);
        }
      },
    });
    generated = true;
    await order.onGenerated?.(result.batchId);

    if (!asFile) {
      const promotions = await listPromotions(deps.core, { batchId: result.batchId });
      const clients = await batchBindings(deps.core, { id: result.batchId, set_id: set.id });
      await postWhereAsked(client, order.channelId, userId, codesMessage(set, promotions, result.batchId, { clients, note: clients.length > 0 ? bindingNoteFor(result.terms.maxuses) : null }));
      return;
    }

    update(`:outbox_tray: ${label} are stored (batch ${result.batchId}); uploading the CSV…`);
    const channel = progress?.channel ?? (await directChannel(client, userId));
    try {
      await uploadBatchCsv(deps, client, channel, set, result.batchId, result.count, userId);
    } catch (error) {
      deps.logger.warn('CSV upload to the channel failed; sending it by DM', { error: error instanceof Error ? error.message : String(error) });
      await uploadBatchCsv(deps, client, await directChannel(client, userId), set, result.batchId, result.count, userId);
    }
    const done = `:white_check_mark: ${label}: done, batch ${result.batchId}; the CSV file is attached below.`;
    // The batch's message keeps a *Void batch* button (with a confirm dialog) for as long as it exists.
    update(done, [{ type: 'section', text: { type: 'mrkdwn', text: done } }, voidButton(`batch:${result.batchId}`, result.count)]);
  } catch (error) {
    if (!generated) await order.onFailed?.().catch(() => undefined);
    const text = errorText(error, deps.logger);
    update(`:warning: Generating ${label} failed: ${text}`);
    await postToUser(client, userId, errorMessage(text)).catch(() => undefined);
  } finally {
    await updates;
  }
}

/** A batch's codes as a CSV file in `channel` (files.uploadV2: three Web API calls); the file's id. */
export async function uploadBatchCsv(deps: SlackDeps, client: WebClient, channel: string, set: PromoSet, batchId: number, codes: number, userId: string): Promise<string> {
  let csv = '';
  for await (const piece of promotionsCsv(deps.core, { batchId })) csv += piece;
  const filename = `${set.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60)}-batch-${batchId}.csv`;
  const uploaded = await client.files.uploadV2({
    channel_id: channel,
    content: csv,
    filename,
    title: `${set.name}: ${count(codes, 'code')} (batch ${batchId})`,
    initial_comment: `${count(codes, 'new code')} from ${set.name} (batch ${batchId}), requested by <@${userId}>.`,
  });
  // One completeUploadExternal answer per file, each listing its files.
  const fileId = (uploaded as { files?: { files?: { id?: string }[] }[] }).files?.[0]?.files?.[0]?.id;
  if (!fileId) throw new Error('files.uploadV2 returned no file id');
  return fileId;
}
