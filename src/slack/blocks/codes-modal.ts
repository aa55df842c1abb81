import type { types } from '@slack/bolt';
import { CODE_ALPHABET_NAMES, MAX_CODE_LENGTH, MIN_CODE_LENGTH } from '../../domain/codes.js';
import { PROMO_TYPES } from '../../domain/fields.js';
import { DEFAULT_BULK_AMOUNT, MAX_BULK_AMOUNT } from '../../domain/promotion.js';
import type { PromoSet } from '../../domain/set.js';
import { dateInput, modal, numberInput, selectInput, textInput } from './inputs.js';
import { shortText } from './text.js';

export const GENERATE_CODES_CALLBACK = 'promo_generate_codes';

export interface CodesModalMetadata {
  setId: number;
  channelId?: string;
}

/** Block ids are the bulk request's field names (the set URL's `/codes` fields), so errors land inline. */
export function generateCodesModal(set: PromoSet, amount: string | undefined, metadata: CodesModalMetadata): types.ModalView {
  return modal(GENERATE_CODES_CALLBACK, 'Generate codes', 'Generate', metadata, [
    { type: 'section', text: { type: 'mrkdwn', text: `From the set *${shortText(set.name, 80)}* (id ${set.id}). Up to 20 codes are posted as a message; more arrive as a CSV file.` } },
    numberInput('amount', { label: 'How many codes', initial: amount ?? String(DEFAULT_BULK_AMOUNT), min: 1, max: MAX_BULK_AMOUNT }),
    textInput('code_prefix', { label: 'Prefix', initial: set.code_prefix, optional: true, maxLength: 40 }),
    numberInput('code_length', { label: 'Random part length', initial: set.code_length, min: MIN_CODE_LENGTH, max: MAX_CODE_LENGTH }),
    selectInput('code_type', { label: 'Code type', options: CODE_ALPHABET_NAMES, initial: set.code_alphabet }),
    numberInput('value', { label: 'Value', initial: set.promo_value, decimal: true }),
    selectInput('promo_code_type', { label: 'Discount type', options: PROMO_TYPES, initial: set.promo_code_type }),
    dateInput('start_date', { label: 'Start date', initial: set.start_date }),
    dateInput('expiry_date', { label: 'Expiry date', initial: set.expiration_date, hint: set.valid_days ? `Empty: ${set.valid_days} days after generation` : undefined }),
    textInput('notes', { label: 'Notes', initial: set.notes, optional: true, multiline: true, maxLength: 2000 }),
    // Only read when the ask is over the person's limits: it then goes to a manager for approval.
    textInput('reason', { label: 'Reason (if over your limits)', optional: true, multiline: true, maxLength: 1000, hint: 'Above your limits, this asks a manager to approve.' }),
    // Binding: every code to one customer, or one code per customer of a list (which then sets the amount).
    textInput('client_id', { label: 'Bind to WHMCS client id', optional: true, maxLength: 10, hint: 'Only this customer can redeem the codes.' }),
    textInput('client_email', { label: 'Bind to customer e-mail', optional: true, maxLength: 254 }),
    textInput('clients', { label: 'One code per customer', optional: true, multiline: true, maxLength: 3000, hint: 'One customer a line: a client id, an e-mail, or both (42,ann@example.com). Replaces the amount.' }),
  ]);
}

/** Empty inputs mean "as the set says": they are left out of the request. */
export function codesInputFromForm(submitted: Record<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(submitted)) {
    if (value === '' || value === null || value === undefined) continue;
    input[key] = value;
  }
  // A list of customers says how many codes: one each.
  if (input.clients !== undefined) delete input.amount;
  return input;
}


