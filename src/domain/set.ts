import { isIP } from 'node:net';
import { z } from 'zod';
import { CODE_ALPHABET_NAMES, DEFAULT_CODE_LENGTH, MAX_CODE_LENGTH, MIN_CODE_LENGTH, type CodeAlphabet } from './codes.js';
import { NO_DATE } from './dates.js';
import { PromoError } from './errors.js';
import { codePrefix, CYCLES, printable, decimalText, flag, list, money, oneOf, optionalDate, parseFields, PROMO_TYPES, text, wholeNumber, type Flag, type PromoType } from './fields.js';
import { DATE_RULES, checkDates } from './rules.js';
import { truncate } from './text.js';

/** A promo set: the template every promotion of the set is generated from. */
export interface PromoSet {
  id: number;
  name: string;
  api_ip_address: string;
  api_key: string;
  promo_code_type: PromoType;
  recurring: Flag;
  recur_for: number;
  /** Two-decimal string, e.g. "25.50". */
  promo_value: string;
  applies_to: string[];
  requires: string[];
  requires_existing: Flag;
  cycles: string[];
  start_date: string | null;
  expiration_date: string | null;
  max_uses: number;
  lifetime_promo: Flag;
  apply_once: Flag;
  new_signups: Flag;
  once_per_client: Flag;
  existing_client: Flag;
  upgrades: Flag;
  upgrade_type: UpgradeType;
  upgrade_discount_type: PromoType;
  upgrade_value: string;
  config_option_upgrades: string[];
  notes: string;
  code_prefix: string;
  code_length: number;
  code_alphabet: CodeAlphabet;
  valid_days: number | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

/**
 * Whether two readings of a set agree in every field (lists by content): a
 * set cached by one instance is still what the database holds. Every field,
 * not a version column, so no writer of set rows can forget to bump one.
 */
export function sameSet(a: PromoSet, b: PromoSet): boolean {
  const keys = Object.keys(a) as (keyof PromoSet)[];
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    const x = a[key];
    const y = b[key];
    if (x === y) continue;
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length || x.some((item, i) => item !== y[i])) return false;
  }
  return true;
}

export const UPGRADE_TYPES = ['product', 'configoptions'] as const;
export type UpgradeType = (typeof UPGRADE_TYPES)[number];

/** The fields a person sets (in a modal, the admin API or the CLI). */
export type SetFields = Omit<PromoSet, 'id' | 'api_key' | 'created_by' | 'created_at' | 'updated_at' | 'archived_at'>;

const PRODUCT_ITEM = /^(\d{1,9}|A\d{1,9}|D\.[A-Za-z0-9][A-Za-z0-9.-]{0,62})$/;
const PRODUCT_HINT = 'use product ids (12), addon ids (A12) or domains (D.com)';

const ipList = z.unknown().transform((value, ctx): string => {
  const raw = Array.isArray(value) ? value.map((item) => (typeof item === 'string' ? item : printable(item))).join(',') : typeof value === 'string' ? value : '';
  const entries = raw.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0 || entries.some((e) => e.toLowerCase() === 'any')) {
    if (entries.length > 1) {
      ctx.addIssue({ code: 'custom', message: 'Use "any" on its own, or a list of IPs and CIDRs.' });
      return z.NEVER;
    }
    return 'any';
  }
  for (const entry of entries) {
    if (!isIpOrCidr(entry)) {
      ctx.addIssue({ code: 'custom', message: `"${truncate(entry, 60)}" is not an IP address or CIDR range (like 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32).` });
      return z.NEVER;
    }
  }
  return entries.join(',');
});

export function isIpOrCidr(entry: string): boolean {
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const validDays = z.unknown().transform((value, ctx): number | null => {
  if (value === null || value === undefined || value === '' || value === 0 || value === '0') return null;
  const parsed = wholeNumber('Valid days', 1, 3650).safeParse(value);
  if (!parsed.success) {
    ctx.addIssue({ code: 'custom', message: parsed.error.issues[0].message });
    return z.NEVER;
  }
  return parsed.data;
});

export const setName = z.unknown().transform((value, ctx): string => {
  const name = typeof value === 'string' ? value.trim() : '';
  if (name === '' || name.length > 80) {
    ctx.addIssue({ code: 'custom', message: 'The name is required and must be at most 80 characters.' });
    return z.NEVER;
  }
  // Sets are looked up "by id or name", so a name that is a number would be ambiguous.
  if (/^\d+$/.test(name)) {
    ctx.addIssue({ code: 'custom', message: 'The name must contain a letter; plain numbers are set ids.' });
    return z.NEVER;
  }
  return name;
});

/** One parser per set field, keyed by its name in seed 001's GET shape. */
export const SET_FIELD_PARSERS = {
  name: setName,
  api_ip_address: ipList,
  promo_code_type: oneOf('The type', PROMO_TYPES),
  recurring: flag,
  recur_for: wholeNumber('Recur for', 0, 999),
  promo_value: money,
  applies_to: list('Applies to', PRODUCT_ITEM, PRODUCT_HINT),
  requires: list('Requires', PRODUCT_ITEM, PRODUCT_HINT),
  requires_existing: flag,
  cycles: list('Cycles', /^$/, `choose from ${CYCLES.join(', ')}`, CYCLES),
  start_date: optionalDate,
  expiration_date: optionalDate,
  max_uses: wholeNumber('Max uses', 0, 1_000_000_000),
  lifetime_promo: flag,
  apply_once: flag,
  new_signups: flag,
  once_per_client: flag,
  existing_client: flag,
  upgrades: flag,
  upgrade_type: oneOf('The upgrade type', UPGRADE_TYPES),
  upgrade_discount_type: oneOf('The upgrade discount type', PROMO_TYPES),
  upgrade_value: decimalText,
  config_option_upgrades: list('Config option upgrades', /^\d{1,9}$/, 'use config option ids (numbers)'),
  notes: text('Notes', 2000),
  code_prefix: codePrefix('The prefix'),
  code_length: wholeNumber('The code length', MIN_CODE_LENGTH, MAX_CODE_LENGTH),
  code_alphabet: oneOf('The code type', CODE_ALPHABET_NAMES),
  valid_days: validDays,
} satisfies { [K in keyof SetFields]: z.ZodType<SetFields[K], unknown> };

export const SET_FIELD_NAMES = Object.keys(SET_FIELD_PARSERS) as (keyof SetFields)[];

export const SET_DEFAULTS: Omit<SetFields, 'name'> = {
  api_ip_address: 'any',
  promo_code_type: 'Percentage',
  recurring: 0,
  recur_for: 0,
  promo_value: '10.00',
  applies_to: [],
  requires: [],
  requires_existing: 0,
  cycles: [],
  start_date: null,
  expiration_date: null,
  max_uses: 1,
  lifetime_promo: 0,
  apply_once: 0,
  new_signups: 0,
  once_per_client: 0,
  existing_client: 0,
  upgrades: 0,
  upgrade_type: 'product',
  upgrade_discount_type: 'Percentage',
  upgrade_value: '0.00',
  config_option_upgrades: [],
  notes: '',
  code_prefix: '',
  code_length: DEFAULT_CODE_LENGTH,
  code_alphabet: 'default',
  valid_days: null,
};

/**
 * Validate a whole set: `base` is the stored set (or the defaults) and `changes`
 * the raw input. The expiry-in-the-future rule applies only when the input
 * touches a date, so editing the notes of a past set still works.
 */
export function validateSetFields(base: Omit<SetFields, 'name'> & { name?: string }, changes: Record<string, unknown>, today: string): SetFields {
  const { values, errors } = parseFields(SET_FIELD_PARSERS, changes);
  const merged = { ...base, ...values } as SetFields;
  if (merged.name === undefined && !errors.name) errors.name = 'The name is required and must be at most 80 characters.';
  if (!errors.promo_value && !errors.promo_code_type) {
    const valueError = checkValue(merged.promo_code_type, merged.promo_value);
    if (valueError) errors.promo_value = valueError;
  }
  if (!errors.upgrade_value && !errors.upgrade_discount_type) {
    const valueError = checkValue(merged.upgrade_discount_type, merged.upgrade_value, { allowZero: true });
    if (valueError) errors.upgrade_value = valueError;
  }
  if (!errors.start_date && !errors.expiration_date) {
    const touchesDates = 'start_date' in changes || 'expiration_date' in changes;
    const dateError = checkDates(merged.start_date, merged.expiration_date, today, { checkFuture: touchesDates });
    if (dateError) errors.expiration_date = dateError;
  }
  if (merged.valid_days !== null && merged.expiration_date !== null && !errors.valid_days && !errors.expiration_date) {
    errors.valid_days = 'Use either valid days or an expiration date, not both.';
  }
  if (Object.keys(errors).length > 0) throw PromoError.validation(errors);
  return merged;
}

export function checkValue(type: PromoType, value: string, { allowZero = false } = {}): string | undefined {
  const amount = Number(value);
  // A free-setup promotion waives the setup fee; its value is informational and may be 0.
  if (amount <= 0 && !allowZero && type !== 'Free Setup') return 'The value must be greater than 0.';
  if (type === 'Percentage' && amount > 100) return 'A percentage value must be at most 100.';
  return undefined;
}

export { DATE_RULES };

/** A set in seed 001's GET shape (exactly its keys, in its order, with its JSON types). */
export function toSetResponse(set: PromoSet, url: string) {
  return {
    id: set.id,
    name: set.name,
    api_ip_address: set.api_ip_address,
    api_key: set.api_key,
    promo_code_type: set.promo_code_type,
    recurring: set.recurring,
    recur_for: set.recur_for,
    promo_value: Number(set.promo_value),
    applies_to: set.applies_to,
    requires: set.requires,
    requires_existing: set.requires_existing,
    cycles: set.cycles,
    start_date: set.start_date ?? NO_DATE,
    expiration_date: set.expiration_date ?? NO_DATE,
    max_uses: set.max_uses,
    lifetime_promo: set.lifetime_promo,
    apply_once: set.apply_once,
    new_signups: set.new_signups,
    once_per_client: set.once_per_client,
    existing_client: set.existing_client,
    upgrades: set.upgrades,
    upgrade_type: set.upgrade_type,
    upgrade_discount_type: set.upgrade_discount_type,
    upgrade_value: set.upgrade_value,
    config_option_upgrades: set.config_option_upgrades,
    notes: set.notes,
    url,
  };
}

/** The GET shape plus what promoset adds (code format, valid_days, audit fields), for admin views. */
export function toSetDetails(set: PromoSet, url: string) {
  return {
    ...toSetResponse(set, url),
    code_prefix: set.code_prefix,
    code_length: set.code_length,
    code_alphabet: set.code_alphabet,
    valid_days: set.valid_days,
    created_by: set.created_by,
    created_at: set.created_at,
    updated_at: set.updated_at,
    archived: set.archived_at !== null,
  };
}
