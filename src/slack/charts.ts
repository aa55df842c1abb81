import type { types, webApi } from '@slack/bolt';
import { dailyUsageCsv, hasActivity, totalsOf } from '../domain/daily-usage.js';
import { PromoError } from '../domain/errors.js';
import type { PromoSet } from '../domain/set.js';
import { plainShort, setUsageChart, slug, type ChartFile, type ChartUpload } from '../service/charts.js';
import { digestChart, type Digest, type DigestOutcome, type DigestSubscription } from '../service/digests.js';
import { directChannel } from './batch-delivery.js';
import { count, type Message } from './blocks/messages.js';
import { escapeText, shortText, truncateMrkdwn } from './blocks/text.js';
import type { SlackDeps } from './deps.js';

type WebClient = webApi.WebClient;
type Block = types.KnownBlock;

/**
 * A PNG into Slack with files.getUploadURLExternal, the bytes POSTed to the
 * URL it gives, and files.completeUploadExternal (the Web API client's
 * uploadV2 makes exactly these calls). Shared with no channel: the file is
 * the app's, shown by id in image blocks (slack_file).
 */
export function slackChartUpload(client: WebClient): ChartUpload {
  return async ({ png, filename, title, altText }) => {
    const result = (await client.files.uploadV2({ file: png, filename, title, alt_text: plainShort(altText, 1000) })) as { files?: { files?: { id?: string }[]; id?: string }[] };
    const first = result.files?.[0];
    const id = first?.files?.[0]?.id ?? first?.id;
    if (!id) throw new Error('files.completeUploadExternal returned no file id');
    return id;
  };
}

export function chartImageBlock(file: ChartFile): Block {
  return { type: 'image', slack_file: { id: file.fileId }, alt_text: plainShort(file.altText, 2000), title: { type: 'plain_text', text: plainShort(file.title, 200) } } as Block;
}

/** A set's 30-day chart block, or nothing (logged) when Slack would not take the upload: the numbers still show. */
export async function setChartBlocks(deps: SlackDeps, client: WebClient, set: PromoSet, days = 30): Promise<Block[]> {
  try {
    const chart = await setUsageChart(deps.core, set, days, slackChartUpload(client));
    return [chartImageBlock(chart)];
  } catch (error) {
    deps.logger.warn('usage chart not shown', { set: set.id, error: error instanceof Error ? error.message : String(error) });
    return [];
  }
}

/** `/promo report <set> [30d|90d]`: the chart (ephemeral, where asked) and the daily figures as a CSV file. */
export async function sendReport(deps: SlackDeps, client: WebClient, set: PromoSet, days: number, userId: string, channelId: string | undefined): Promise<Message> {
  const chart = await setUsageChart(deps.core, set, days, slackChartUpload(client));
  const totals = totalsOf(chart.series);
  const first = chart.series[0].date;
  const last = chart.series.at(-1)!.date;
  const csv = dailyUsageCsv(chart.series);
  const upload = (channel: string) =>
    client.files.uploadV2({
      channel_id: channel,
      content: csv,
      filename: `${slug(set.name)}-usage-${first}-to-${last}.csv`,
      title: `${set.name}: daily figures, ${first} to ${last}`,
      initial_comment: `Daily figures of ${set.name} for the last ${days} days (${first} to ${last}, ${deps.core.timeZone}), asked for by <@${userId}>.`,
    });
  let where = 'below';
  try {
    if (!channelId) throw new Error('no channel');
    await upload(channelId);
  } catch {
    // Not in that channel (or a DM between two people): the CSV goes to the person's DM.
    await upload(await directChannel(client, userId));
    where = 'in your DM with promoset';
  }
  const summary = hasActivity(chart.series)
    ? `*${escapeText(shortText(set.name, 80))}*, last ${days} days (${first} to ${last}): ${count(totals.issued, 'code')} issued, ${totals.redeemed.toLocaleString('en-US')} redeemed, ${totals.voided.toLocaleString('en-US')} voided, ${totals.rolled_back.toLocaleString('en-US')} rolled back. The daily figures are in the CSV file ${where}.`
    : `*${escapeText(shortText(set.name, 80))}* had no activity in the last ${days} days (${first} to ${last}): nothing issued, redeemed, voided or rolled back. The chart and the CSV file (${where}) show the empty days.`;
  return { text: summary.replace(/\*/g, ''), blocks: [{ type: 'section', text: { type: 'mrkdwn', text: summary } }, chartImageBlock(chart)] };
}

/** `#channel` as Slack sends it with escaping on (`<#C123|name>`), or a bare channel id. */
export function parseChannel(token: string | undefined): string {
  const escaped = /^<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(token ?? '');
  if (escaped) return escaped[1];
  if (token && /^[CGD][A-Z0-9]{2,}$/.test(token)) return token;
  if (token?.startsWith('#')) {
    throw new PromoError('bad_request', `Slack sent "${shortText(token, 40)}" as plain text, not as a channel: pick the channel from the list Slack shows as you type #, then send the command again.`, { channel: 'must be a channel picked from the list' });
  }
  throw new PromoError('bad_request', 'Name a channel and how often, like `/promo digest #promos daily` (or `weekly`, or `off`).', { channel: 'is required' });
}

export const NOT_IN_CHANNEL_ERRORS = new Set(['not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action']);

/** The sentence for a channel promoset cannot post in. */
export function notInChannelText(channelId: string): string {
  return `promoset is not in <#${channelId}>, so it cannot post the digest there. Invite it first: type \`/invite @promoset\` in <#${channelId}>, then run this command again.`;
}

export function slackErrorCode(error: unknown): string | undefined {
  return (error as { data?: { error?: string } } | undefined)?.data?.error;
}

/** The digest as one message: the combined chart, a line per live set, and the alerts. */
export function digestMessage(digest: Digest, chart: ChartFile | undefined): Message {
  const label = digest.frequency === 'daily' ? 'Daily' : 'Weekly';
  const span = digest.frequency === 'daily' ? `yesterday and today (${digest.from} to ${digest.to})` : `the last 7 days (${digest.from} to ${digest.to})`;
  const all = totalsOf(digest.combined);
  const blocks: Block[] = [{ type: 'header', text: { type: 'plain_text', text: `${label} promo digest, ${digest.period}` } }];
  const lines = digest.sets.map(({ set, period }) => `• *${escapeText(shortText(set.name, 60))}*: ${period.issued.toLocaleString('en-US')} issued, ${period.redeemed.toLocaleString('en-US')} redeemed${period.voided ? `, ${period.voided.toLocaleString('en-US')} voided` : ''}`);
  blocks.push({
    type: 'section',
    text: { type: 'mrkdwn', text: truncateMrkdwn(digest.sets.length === 0 ? 'There are no live promo sets.' : `*${count(digest.sets.length, 'live set')}*, ${span}:\n${lines.join('\n')}`, 3000) },
  });
  if (chart) blocks.push(chartImageBlock(chart));
  const alerts: string[] = [];
  for (const e of digest.expiring) alerts.push(`:hourglass: *${escapeText(shortText(e.set.name, 60))}* expires ${e.daysLeft <= 0 ? 'today' : `in ${count(e.daysLeft, 'day')}`} (${e.expires}).`);
  for (const c of digest.nearlyUsedUp) alerts.push(`:warning: Code \`${escapeText(shortText(c.code, 40))}\` of *${escapeText(shortText(c.set.name, 60))}* is at ${c.uses} of ${c.maxUses} uses.`);
  for (const b of digest.idleBatches) alerts.push(`:zzz: Batch ${b.batchId} of *${escapeText(shortText(b.set.name, 60))}* (${count(b.count, 'code')}, ${b.createdAt.slice(0, 10)}) has no redemption after 14 days.`);
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncateMrkdwn(alerts.length > 0 ? `*Alerts*\n${alerts.join('\n')}` : 'No alerts: nothing expires within 7 days, no code is near its max uses, and every batch older than 14 days has redemptions.', 3000) } });
  return { text: `${label} promo digest ${digest.period}: ${count(digest.sets.length, 'live set')}, ${all.issued.toLocaleString('en-US')} issued and ${all.redeemed.toLocaleString('en-US')} redeemed in 30 days, ${count(alerts.length, 'alert')}.`, blocks };
}

/** Post a due digest; a channel that no longer has promoset is skipped for this period (logged). */
export function digestSender(deps: SlackDeps, client: WebClient) {
  return async (subscription: DigestSubscription, digest: Digest): Promise<DigestOutcome> => {
    let chart: ChartFile | undefined;
    try {
      chart = await digestChart(deps.core, digest, slackChartUpload(client));
    } catch (error) {
      deps.logger.warn('digest chart not drawn; the digest goes without it', { error: error instanceof Error ? error.message : String(error) });
    }
    try {
      await client.chat.postMessage({ channel: subscription.channelId, ...digestMessage(digest, chart) });
      return 'sent';
    } catch (error) {
      const code = slackErrorCode(error);
      if (code && NOT_IN_CHANNEL_ERRORS.has(code)) {
        deps.logger.warn(`digest for ${subscription.channelId} not sent: ${code}. Invite promoset there (/invite @promoset) or turn it off with /promo digest <#channel> off.`);
        return 'skip';
      }
      throw error;
    }
  };
}
