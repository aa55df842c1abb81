import type { types, ViewStateValue } from '@slack/bolt';
import { truncate } from '../../domain/text.js';

/**
 * Input blocks for modals. Every element uses the action_id "value", and the
 * block_id is the field's public name, so a PromoError's `fields` map straight
 * onto `response_action: 'errors'`.
 */
export const VALUE = 'value';

type Block = types.KnownBlock;
type Option = types.PlainTextOption;

const plain = (text: string) => ({ type: 'plain_text' as const, text, emoji: true });
const option = (value: string, label = value): Option => ({ text: plain(truncate(label, 75)), value });

interface Common {
  label: string;
  hint?: string;
  optional?: boolean;
}

function input(blockId: string, common: Common, element: types.InputBlock['element']): Block {
  return {
    type: 'input',
    block_id: blockId,
    label: plain(common.label),
    optional: common.optional ?? false,
    ...(common.hint ? { hint: plain(common.hint) } : {}),
    element,
  };
}

/** A modal with a title, a submit button and a Cancel button; context travels in private_metadata. */
export function modal(callbackId: string, title: string, submit: string, metadata: unknown, blocks: Block[]): types.ModalView {
  return {
    type: 'modal',
    callback_id: callbackId,
    private_metadata: JSON.stringify(metadata),
    title: { type: 'plain_text', text: title },
    submit: { type: 'plain_text', text: submit },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks,
  };
}

export function textInput(blockId: string, common: Common & { initial?: string; multiline?: boolean; placeholder?: string; maxLength?: number }): Block {
  return input(blockId, common, {
    type: 'plain_text_input',
    action_id: VALUE,
    multiline: common.multiline ?? false,
    // Slack takes at most 3,000 characters in a text input; a longer value (a pasted `/promo new` name) is cut there.
    ...(common.initial ? { initial_value: truncate(common.initial, 3000) } : {}),
    ...(common.placeholder ? { placeholder: plain(common.placeholder) } : {}),
    // Slack refuses a view whose initial value is longer than its max_length: a value stored
    // before a limit was lowered is shown whole, and validation then says what to shorten.
    ...(common.maxLength ? { max_length: Math.min(3000, Math.max(common.maxLength, common.initial?.length ?? 0)) } : {}),
  });
}

export function numberInput(blockId: string, common: Common & { initial?: string | number; decimal?: boolean; min?: number; max?: number }): Block {
  return input(blockId, common, {
    type: 'number_input',
    action_id: VALUE,
    is_decimal_allowed: common.decimal ?? false,
    ...(common.initial !== undefined && common.initial !== '' ? { initial_value: String(common.initial) } : {}),
    ...(common.min !== undefined ? { min_value: String(common.min) } : {}),
    ...(common.max !== undefined ? { max_value: String(common.max) } : {}),
  });
}

export function selectInput(blockId: string, common: Common & { options: readonly string[]; initial?: string }): Block {
  const options = common.options.map((o) => option(o));
  const initial = options.find((o) => o.value === common.initial);
  return input(blockId, common, {
    type: 'static_select',
    action_id: VALUE,
    options,
    ...(initial ? { initial_option: initial } : {}),
  });
}

export function multiSelectInput(blockId: string, common: Common & { options: readonly string[]; initial?: readonly string[] }): Block {
  const options = common.options.map((o) => option(o));
  const initial = options.filter((o) => common.initial?.includes(o.value ?? ''));
  return input(blockId, { ...common, optional: common.optional ?? true }, {
    type: 'multi_static_select',
    action_id: VALUE,
    options,
    ...(initial.length > 0 ? { initial_options: initial } : {}),
  });
}

/** A yes/no flag: one checkbox; unchecked is 0. Always optional, or Slack would demand a tick. */
export function flagInput(blockId: string, common: Common & { text: string; initial?: 0 | 1 }): Block {
  const only = option('1', common.text);
  return input(blockId, { ...common, optional: true }, {
    type: 'checkboxes',
    action_id: VALUE,
    options: [only],
    ...(common.initial === 1 ? { initial_options: [only] } : {}),
  });
}

export function dateInput(blockId: string, common: Common & { initial?: string | null }): Block {
  return input(blockId, { ...common, optional: common.optional ?? true }, {
    type: 'datepicker',
    action_id: VALUE,
    ...(common.initial ? { initial_date: common.initial } : {}),
  });
}

/**
 * The raw value of each input in a submitted view, as a form would send it:
 * text as typed, selects as their value, checkboxes as 1/0, empty dates as "".
 */
export function readInputs(values: Record<string, Record<string, ViewStateValue>> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [blockId, actions] of Object.entries(values ?? {})) {
    const state = actions?.[VALUE];
    if (!state) continue;
    switch (state.type) {
      case 'checkboxes':
        out[blockId] = (state.selected_options ?? []).length > 0 ? 1 : 0;
        break;
      case 'static_select':
        out[blockId] = state.selected_option?.value ?? '';
        break;
      case 'multi_static_select':
        out[blockId] = (state.selected_options ?? []).map((o) => o.value);
        break;
      case 'datepicker':
        out[blockId] = state.selected_date ?? '';
        break;
      case 'users_select':
        out[blockId] = state.selected_user ?? '';
        break;
      default:
        out[blockId] = state.value ?? '';
    }
  }
  return out;
}

/** A person picker (its value is a user id). */
export function userInput(blockId: string, common: Common): Block {
  return input(blockId, common, { type: 'users_select', action_id: VALUE });
}
