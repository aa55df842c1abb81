import type { types } from '@slack/bolt';
import type { Batch } from '../../store/promotions.js';
import type { SetSummary } from '../../service/sets.js';
import { NO_USAGE, usageText, type Usage } from '../../service/usage.js';
import { escapeText } from './codes-modal.js';
import { ACTIONS, count } from './messages.js';

/** The App Home tab: sets with counts and usage, recent batches with theirs, and a New set button. */
export function homeView(summaries: SetSummary[], batches: Batch[], isAdmin: boolean, usage: { sets: Map<number, Usage>; batches: Map<number, Usage> } = { sets: new Map(), batches: new Map() }): types.HomeView {
  const names = new Map(summaries.map(({ set }) => [set.id, set.name]));
  const blocks: types.KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: 'Promo sets' } },
  ];
  if (isAdmin) {
    blocks.push({ type: 'actions', elements: [{ type: 'button', action_id: ACTIONS.newSet, text: { type: 'plain_text', text: 'New set' }, style: 'primary' }] });
  }
  if (summaries.length === 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: 'No promo sets yet.' } });
  }
  for (const { set, promotions, batches: batchCount } of summaries.slice(0, 40)) {
    const value = set.promo_code_type === 'Percentage' ? `${set.promo_value}%` : `${set.promo_value} ${set.promo_code_type}`;
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*${escapeText(set.name)}* (id ${set.id})\n${value} · ${count(promotions, 'code')} in ${count(batchCount, 'batch', 'batches')}\n${usageText(usage.sets.get(set.id) ?? NO_USAGE)}` },
    });
  }
  blocks.push({ type: 'divider' }, { type: 'header', text: { type: 'plain_text', text: 'Recent batches' } });
  const lines = batches.map((b) => `• Batch ${b.id}: ${count(b.count, 'code')} from *${escapeText(names.get(b.set_id) ?? `set ${b.set_id}`)}*, ${b.created_at.slice(0, 16).replace('T', ' ')} by ${b.created_by.startsWith('slack:') ? `<@${b.created_by.slice(6)}>` : escapeText(b.created_by)}\n    ${usageText(usage.batches.get(b.id) ?? NO_USAGE)}`);
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: lines.length > 0 ? lines.join('\n').slice(0, 3000) : 'No codes generated yet.' } });
  return { type: 'home', blocks: blocks.slice(0, 100) };
}
