import type { types } from '@slack/bolt';
import type { PromoSet } from '../../domain/set.js';
import { truncate } from '../../domain/text.js';
import { modal, textInput, VALUE } from './inputs.js';
import { escapeText } from './text.js';

export const ISSUE_CODE_CALLBACK = 'promo_issue_code';

/** What the shortcut's modal carries to its submission. */
export interface IssueCodeMetadata {
  /** The message shortcut's message: its link goes into the promotion's notes. */
  permalink?: string;
}

/** Slack's limit on a static select's options. */
export const MAX_SET_OPTIONS = 100;

/**
 * *Issue a promo code*: the sets the person may issue from (and only those),
 * and a note. With none, a modal that says why and has no submit button.
 */
export function issueCodeModal(sets: PromoSet[], metadata: IssueCodeMetadata): types.ModalView {
  if (sets.length === 0) {
    return {
      type: 'modal',
      callback_id: ISSUE_CODE_CALLBACK,
      private_metadata: JSON.stringify(metadata),
      title: { type: 'plain_text', text: 'Issue a promo code' },
      close: { type: 'plain_text', text: 'Close' },
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'You may not issue codes from any promo set. Ask a manager of a set to grant you the issuer role (`/promo access`).' } }],
    };
  }
  const shown = sets.slice(0, MAX_SET_OPTIONS);
  const options = shown.map((set) => ({ text: { type: 'plain_text' as const, text: truncate(set.name, 75) }, value: String(set.id) }));
  const blocks: types.KnownBlock[] = [
    {
      type: 'input',
      block_id: 'set',
      label: { type: 'plain_text', text: 'Promo set' },
      ...(sets.length > shown.length ? { hint: { type: 'plain_text' as const, text: `The first ${shown.length} of your ${sets.length} sets; use /promo code <set> for the others.` } } : {}),
      element: { type: 'static_select', action_id: VALUE, options, ...(options.length === 1 ? { initial_option: options[0] } : {}) },
    },
    textInput('note', { label: 'Note', optional: true, maxLength: 1000, placeholder: 'Kept in the promotion\'s notes, e.g. a ticket number' }),
  ];
  if (metadata.permalink) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(`The code's notes will link to <${metadata.permalink}|this message>.`, 3000) }] });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escapeText('The code comes to you by DM.') }] });
  return modal(ISSUE_CODE_CALLBACK, 'Issue a promo code', 'Issue', metadata, blocks);
}
