import type { types } from '@slack/bolt';
import type { Batch } from '../../domain/batch.js';
import type { SetSummary } from '../../service/sets.js';
import { NO_USAGE, type Usage } from '../../domain/usage.js';
import { usageText } from '../../service/usage.js';
import { ACTIONS, count, NAME_CHARS, SETS_PER_PAGE } from './messages.js';
import { shortText, truncateMrkdwn } from './text.js';

/** Sets shown on the Home tab: one section each, well inside its 100 blocks. */
export const HOME_SETS = 40;

/** The App Home tab: sets with counts (the newest HOME_SETS), recent batches, and a New set button. */
export interface HomeAccess {
  /** The person's role, limits and today's use, as a sentence. */
  you: string;
  /** Pending approval requests this person may decide (blocks with buttons). */
  pending: types.KnownBlock[];
}

export function homeView(summaries: SetSummary[], batches: Batch[], isAdmin: boolean, usage: { sets: Map<number, Usage>; batches: Map<number, Usage> } = { sets: new Map(), batches: new Map() }, access?: HomeAccess): types.HomeView {
  const names = new Map(summaries.map(({ set }) => [set.id, set.name]));
  const blocks: types.KnownBlock[] = [];
  if (access) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncateMrkdwn(access.you, 3000) } });
    if (access.pending.length > 0) {
      blocks.push({ type: 'header', text: { type: 'plain_text', text: 'Waiting for your approval' } }, ...access.pending, { type: 'divider' });
    }
  }
  blocks.push({ type: 'header', text: { type: 'plain_text', text: 'Promo sets' } });
  if (isAdmin) {
    blocks.push({ type: 'actions', elements: [{ type: 'button', action_id: ACTIONS.newSet, text: { type: 'plain_text', text: 'New set' }, style: 'primary' }] });
  }
  if (summaries.length === 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: 'No promo sets yet.' } });
  }
  // The newest sets are the ones people are working on.
  const shown = [...summaries].sort((a, b) => b.set.id - a.set.id).slice(0, HOME_SETS);
  for (const { set, promotions, batches: batchCount } of shown) {
    const value = set.promo_code_type === 'Percentage' ? `${set.promo_value}%` : `${set.promo_value} ${set.promo_code_type}`;
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*${shortText(set.name, NAME_CHARS)}* (id ${set.id})\n${value} · ${count(promotions, 'code')} in ${count(batchCount, 'batch', 'batches')}\n${usageText(usage.sets.get(set.id) ?? NO_USAGE)}` },
    });
  }
  if (summaries.length > shown.length) {
    const pages = Math.ceil(summaries.length / SETS_PER_PAGE);
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `Showing the ${shown.length} newest of ${summaries.length.toLocaleString('en-US')} sets. \`/promo list\` shows them all, ${SETS_PER_PAGE} a page (\`/promo list page 2\`${pages > 2 ? ` … \`page ${pages}\`` : ''}); \`/promo info <set>\` shows one.` }],
    });
  }
  blocks.push({ type: 'divider' }, { type: 'header', text: { type: 'plain_text', text: 'Recent batches' } });
  const lines = batches.map((b) => `• Batch ${b.id}: ${count(b.count, 'code')} from *${shortText(names.get(b.set_id) ?? `set ${b.set_id}`, 60)}*, ${b.created_at.slice(0, 16).replace('T', ' ')} by ${b.created_by.startsWith('slack:') ? `<@${b.created_by.slice(6, 40)}>` : shortText(b.created_by, 60)}`);
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: lines.length > 0 ? truncateMrkdwn(lines.join('\n'), 3000) : 'No codes generated yet.' } });
  return { type: 'home', blocks };
}
