import type { types } from '@slack/bolt';
import { CODE_ALPHABET_NAMES, MAX_CODE_LENGTH, MIN_CODE_LENGTH } from '../../domain/codes.js';
import { CYCLES, PROMO_TYPES } from '../../domain/fields.js';
import { SET_DEFAULTS, SET_FIELD_NAMES, UPGRADE_TYPES, type SetFields } from '../../domain/set.js';
import { dateInput, flagInput, modal, multiSelectInput, numberInput, selectInput, textInput } from './inputs.js';

export const NEW_SET_CALLBACK = 'promo_new_set';
export const EDIT_SET_CALLBACK = 'promo_edit_set';

/** What a set modal carries between opening and submission. */
export interface SetModalMetadata {
  channelId?: string;
  setId?: number;
}

type FormValues = Record<keyof SetFields, unknown>;

/** A set's fields in the form the modal's inputs hold them (and readInputs returns them). */
export function setFormValues(fields: Omit<SetFields, 'name'> & { name?: string }): FormValues {
  return {
    name: fields.name ?? '',
    api_ip_address: fields.api_ip_address,
    promo_code_type: fields.promo_code_type,
    recurring: fields.recurring,
    recur_for: String(fields.recur_for),
    promo_value: fields.promo_value,
    applies_to: fields.applies_to.join(','),
    requires: fields.requires.join(','),
    requires_existing: fields.requires_existing,
    cycles: [...fields.cycles],
    start_date: fields.start_date ?? '',
    expiration_date: fields.expiration_date ?? '',
    max_uses: String(fields.max_uses),
    lifetime_promo: fields.lifetime_promo,
    apply_once: fields.apply_once,
    new_signups: fields.new_signups,
    once_per_client: fields.once_per_client,
    existing_client: fields.existing_client,
    upgrades: fields.upgrades,
    upgrade_type: fields.upgrade_type,
    upgrade_discount_type: fields.upgrade_discount_type,
    upgrade_value: fields.upgrade_value,
    config_option_upgrades: fields.config_option_upgrades.join(','),
    notes: fields.notes,
    code_prefix: fields.code_prefix,
    code_length: String(fields.code_length),
    code_alphabet: fields.code_alphabet,
    valid_days: fields.valid_days === null ? '' : String(fields.valid_days),
    webhook_url: fields.webhook_url ?? '',
  };
}

/** Number inputs left empty fall back to the set's value or default instead of failing. */
const NUMBER_FIELDS = new Set(['recur_for', 'promo_value', 'max_uses', 'upgrade_value', 'code_length']);

/**
 * The submitted values to hand to createSet / updateSet. For an edit, only
 * what changed: untouched dates then keep their old value without re-checking
 * "must be in the future" (validateSetFields checks dates only when given).
 */
export function setInputFromForm(submitted: Record<string, unknown>, before?: FormValues): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const name of SET_FIELD_NAMES) {
    if (!(name in submitted)) continue;
    const value = submitted[name];
    if (NUMBER_FIELDS.has(name) && (value === '' || value === null)) continue;
    if (before && JSON.stringify(before[name]) === JSON.stringify(value)) continue;
    input[name] = value;
  }
  return input;
}

function setBlocks(v: FormValues): types.KnownBlock[] {
  const s = (x: unknown) => (typeof x === 'string' ? x : String(x ?? ''));
  const f = (x: unknown) => (x === 1 ? 1 : 0);
  const blocks: Record<keyof SetFields, types.KnownBlock> = {
    name: textInput('name', { label: 'Name', initial: s(v.name), maxLength: 80, placeholder: 'Spring partners 2025' }),
    api_ip_address: textInput('api_ip_address', { label: 'Allowed IPs for the set URL', initial: s(v.api_ip_address), hint: '"any", or IPs and CIDRs separated by commas (203.0.113.7, 10.0.0.0/8, 2001:db8::/32)' }),
    promo_code_type: selectInput('promo_code_type', { label: 'Discount type', options: PROMO_TYPES, initial: s(v.promo_code_type) }),
    promo_value: numberInput('promo_value', { label: 'Value', initial: s(v.promo_value), decimal: true, hint: 'A percentage (at most 100) or an amount, with up to 2 decimals' }),
    recurring: flagInput('recurring', { label: 'Recurring', text: 'The discount applies to renewals too', initial: f(v.recurring) }),
    recur_for: numberInput('recur_for', { label: 'Recur for (renewals, 0 = unlimited)', initial: s(v.recur_for), min: 0, max: 999 }),
    cycles: multiSelectInput('cycles', { label: 'Billing cycles', options: CYCLES, initial: v.cycles as string[], hint: 'None means all cycles' }),
    applies_to: textInput('applies_to', { label: 'Applies to', initial: s(v.applies_to), optional: true, hint: 'Product ids (12), addon ids (A12), domains (D.com), separated by commas' }),
    requires: textInput('requires', { label: 'Requires', initial: s(v.requires), optional: true, hint: 'Product ids (12), addon ids (A12), domains (D.com), separated by commas' }),
    requires_existing: flagInput('requires_existing', { label: 'Requires existing', text: 'The required product may already be owned', initial: f(v.requires_existing) }),
    start_date: dateInput('start_date', { label: 'Start date', initial: s(v.start_date) }),
    expiration_date: dateInput('expiration_date', { label: 'Expiration date', initial: s(v.expiration_date) }),
    valid_days: numberInput('valid_days', { label: 'Valid for (days after each code is generated)', initial: s(v.valid_days), optional: true, min: 1, max: 3650, hint: 'Instead of a fixed expiration date' }),
    max_uses: numberInput('max_uses', { label: 'Maximum uses per code (0 = unlimited)', initial: s(v.max_uses), min: 0 }),
    lifetime_promo: flagInput('lifetime_promo', { label: 'Lifetime promotion', text: 'The discount stays for the life of the product', initial: f(v.lifetime_promo) }),
    apply_once: flagInput('apply_once', { label: 'Apply once', text: 'Apply once per order', initial: f(v.apply_once) }),
    new_signups: flagInput('new_signups', { label: 'New signups', text: 'Only for new clients', initial: f(v.new_signups) }),
    once_per_client: flagInput('once_per_client', { label: 'Once per client', text: 'Each client may use it once', initial: f(v.once_per_client) }),
    existing_client: flagInput('existing_client', { label: 'Existing client', text: 'Only for clients with an active product', initial: f(v.existing_client) }),
    upgrades: flagInput('upgrades', { label: 'Upgrades', text: 'Also discounts upgrades and downgrades', initial: f(v.upgrades) }),
    upgrade_type: selectInput('upgrade_type', { label: 'Upgrade type', options: UPGRADE_TYPES, initial: s(v.upgrade_type) }),
    upgrade_discount_type: selectInput('upgrade_discount_type', { label: 'Upgrade discount type', options: PROMO_TYPES, initial: s(v.upgrade_discount_type) }),
    upgrade_value: numberInput('upgrade_value', { label: 'Upgrade value', initial: s(v.upgrade_value), decimal: true }),
    config_option_upgrades: textInput('config_option_upgrades', { label: 'Config option upgrades', initial: s(v.config_option_upgrades), optional: true, hint: 'Config option ids, separated by commas' }),
    code_prefix: textInput('code_prefix', { label: 'Code prefix', initial: s(v.code_prefix), optional: true, maxLength: 40, hint: 'Codes look like PREFIX-7KQ2M9TB; leave empty for none' }),
    code_length: numberInput('code_length', { label: 'Random part length', initial: s(v.code_length), min: MIN_CODE_LENGTH, max: MAX_CODE_LENGTH }),
    code_alphabet: selectInput('code_alphabet', { label: 'Code type', options: CODE_ALPHABET_NAMES, initial: s(v.code_alphabet), hint: 'default: no vowels or look-alikes; numeric; alphanumeric' }),
    webhook_url: textInput('webhook_url', { label: 'Webhook URL', initial: s(v.webhook_url), optional: true, maxLength: 2000, hint: 'Events (codes issued, redeemed, voided; set rotated, archived) are POSTed here, signed. Leave empty for none.' }),
    notes: textInput('notes', { label: 'Notes', initial: s(v.notes), optional: true, multiline: true, maxLength: 2000 }),
  };
  // Ordered for people (type and value together), one block per field.
  const order: (keyof SetFields)[] = [
    'name', 'promo_code_type', 'promo_value', 'recurring', 'recur_for', 'cycles', 'applies_to', 'requires', 'requires_existing',
    'start_date', 'expiration_date', 'valid_days', 'max_uses', 'lifetime_promo', 'apply_once', 'new_signups', 'once_per_client',
    'existing_client', 'upgrades', 'upgrade_type', 'upgrade_discount_type', 'upgrade_value', 'config_option_upgrades',
    'code_prefix', 'code_length', 'code_alphabet', 'api_ip_address', 'webhook_url', 'notes',
  ];
  return order.map((name) => blocks[name]);
}

export function newSetModal(name: string, metadata: SetModalMetadata): types.ModalView {
  return modal(NEW_SET_CALLBACK, 'New promo set', 'Create', metadata, setBlocks(setFormValues({ ...SET_DEFAULTS, name })));
}

export function editSetModal(fields: SetFields, metadata: SetModalMetadata): types.ModalView {
  return modal(EDIT_SET_CALLBACK, 'Edit promo set', 'Save', metadata, setBlocks(setFormValues(fields)));
}

export function parseMetadata<T>(text: string | undefined): Partial<T> {
  try {
    const value = JSON.parse(text || '{}');
    return value && typeof value === 'object' ? (value as Partial<T>) : {};
  } catch {
    return {};
  }
}
