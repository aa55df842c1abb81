import { serialize } from 'php-serialize';
import { CODE_ALPHABET_NAMES, MAX_CODE_LENGTH, MIN_CODE_LENGTH, type CodeAlphabet } from './codes.js';
import { addDays, NO_DATE } from './dates.js';
import { PromoError } from './errors.js';
import { codePrefix, money, oneOf, optionalDate, parseFields, PROMO_TYPES, text, wholeNumber, type Flag, type PromoType } from './fields.js';
import { checkDates } from './rules.js';
import { checkValue, type PromoSet } from './set.js';

/**
 * What every promotion of one generation shares: the set's terms at that
 * moment, with the request's overrides applied. Stored once per batch, so a
 * later edit of the set never changes codes already handed out.
 */
export interface PromotionTerms {
  type: PromoType;
  recurring: Flag;
  value: string;
  cycles: string;
  appliesto: string;
  requires: string;
  requiresexisting: Flag;
  startdate: string;
  expirationdate: string;
  maxuses: number;
  lifetimepromo: Flag;
  applyonce: Flag;
  newsignups: Flag;
  existingclient: Flag;
  onceperclient: Flag;
  recurfor: number;
  upgrades: Flag;
  upgradeconfig: string;
  notes: string;
}

/**
 * The 19 term columns, the one place they are listed: batches (store/schema.ts),
 * tblpromotions (whmcs/db.ts) and every statement that writes them derive from
 * this list. Checked against PromotionTerms both ways by the `satisfies`.
 */
export const PROMOTION_TERM_COLUMNS = Object.keys({
  type: 1, recurring: 1, value: 1, cycles: 1, appliesto: 1, requires: 1, requiresexisting: 1, startdate: 1, expirationdate: 1, maxuses: 1,
  lifetimepromo: 1, applyonce: 1, newsignups: 1, existingclient: 1, onceperclient: 1, recurfor: 1, upgrades: 1, upgradeconfig: 1, notes: 1,
} satisfies Record<keyof PromotionTerms, 1>) as (keyof PromotionTerms)[];

/** The terms as a database column holds them: text stays text, flags and numbers are plain integers. */
export type StoredPromotionTerms = { [K in keyof PromotionTerms]: PromotionTerms[K] extends string ? string : number };

/** Terms read back from columns: the stored values are the terms' own (written from PromotionTerms). */
export function termsFromColumns(row: StoredPromotionTerms): PromotionTerms {
  const terms: Record<string, unknown> = {};
  for (const column of PROMOTION_TERM_COLUMNS) terms[column] = row[column];
  return terms as unknown as PromotionTerms;
}

/** One promotion in WHMCS's shape (seed 001's POST response, seed 002's promotion[]). */
export interface WhmcsPromotion extends PromotionTerms {
  id: number;
  code: string;
  uses: number;
}

/** The optional fields of seed 001's POST, with their names. */
export interface PromotionOverrides {
  name?: string;
  value?: string;
  promo_code_type?: PromoType;
  start_date?: string | null;
  expiry_date?: string | null;
  notes?: string;
}

const prefixOverride = codePrefix('The name (code prefix)');

export const OVERRIDE_PARSERS = {
  name: prefixOverride,
  value: money,
  promo_code_type: oneOf('The promo code type', PROMO_TYPES),
  start_date: optionalDate,
  expiry_date: optionalDate,
  notes: text('Notes', 2000),
};

export function parseOverrides(input: Record<string, unknown>): PromotionOverrides {
  const { values, errors } = parseFields(OVERRIDE_PARSERS, input);
  if (Object.keys(errors).length > 0) throw PromoError.validation(errors);
  return values;
}

type UpgradeFields = Pick<PromoSet, 'upgrade_value' | 'upgrade_type' | 'upgrade_discount_type' | 'config_option_upgrades' | 'upgrades'>;

/** Serialized once per set object: sets are read-only values, and a cached set issues many codes. */
const upgradeConfigs = new WeakMap<UpgradeFields, string>();

/** PHP-serialized upgrade settings, byte-for-byte what WHMCS stores (seed 001/002). */
export function upgradeConfig(set: UpgradeFields): string {
  let text = upgradeConfigs.get(set);
  if (text === undefined) upgradeConfigs.set(set, (text = serializeUpgradeConfig(set)));
  return text;
}

function serializeUpgradeConfig(set: UpgradeFields): string {
  return serialize({
    value: set.upgrade_value,
    type: set.upgrades ? set.upgrade_type : '',
    discounttype: set.upgrade_discount_type,
    // php-serialize writes a JS array with integer keys (a:2:{i:0;…}); WHMCS writes "" for none.
    configoptions: set.config_option_upgrades.length > 0 ? [...set.config_option_upgrades] : '',
  });
}

/**
 * The terms for promotions generated now from `set` with `overrides`.
 * Rules are checked on the result, so an override cannot slip past them
 * (a Percentage override with the set's value of 150, an expiry before the
 * set's start date, …).
 */
export function promotionTerms(set: PromoSet, overrides: PromotionOverrides, today: string): PromotionTerms {
  const type = overrides.promo_code_type ?? set.promo_code_type;
  const value = overrides.value ?? set.promo_value;
  const start = overrides.start_date !== undefined ? overrides.start_date : set.start_date;
  const expiry =
    overrides.expiry_date !== undefined ? overrides.expiry_date
    : set.valid_days !== null ? addDays(today, set.valid_days)
    : set.expiration_date;

  const errors: Record<string, string> = {};
  const valueError = checkValue(type, value);
  if (valueError) errors.value = valueError;
  const dateError = checkDates(start, expiry, today);
  if (dateError) errors.expiry_date = dateError;
  if (Object.keys(errors).length > 0) throw PromoError.validation(errors);

  return {
    type,
    recurring: set.recurring,
    value,
    cycles: set.cycles.join(','),
    appliesto: set.applies_to.join(','),
    requires: set.requires.join(','),
    requiresexisting: set.requires_existing,
    startdate: start ?? NO_DATE,
    expirationdate: expiry ?? NO_DATE,
    maxuses: set.max_uses,
    lifetimepromo: set.lifetime_promo,
    applyonce: set.apply_once,
    newsignups: set.new_signups,
    existingclient: set.existing_client,
    onceperclient: set.once_per_client,
    recurfor: set.recur_for,
    upgrades: set.upgrades,
    upgradeconfig: upgradeConfig(set),
    notes: overrides.notes ?? set.notes,
  };
}

/**
 * Key order matters to people diffing against the seed (uses sits among the
 * terms, as in tblpromotions), so it is spelled out rather than derived; it is
 * also the hot path of JSON exports.
 */
export function toWhmcsPromotion(id: number, code: string, uses: number, t: PromotionTerms): WhmcsPromotion {
  return {
    id, code, type: t.type, recurring: t.recurring, value: t.value, cycles: t.cycles,
    appliesto: t.appliesto, requires: t.requires, requiresexisting: t.requiresexisting,
    startdate: t.startdate, expirationdate: t.expirationdate, maxuses: t.maxuses, uses,
    lifetimepromo: t.lifetimepromo, applyonce: t.applyonce, newsignups: t.newsignups,
    existingclient: t.existingclient, onceperclient: t.onceperclient, recurfor: t.recurfor,
    upgrades: t.upgrades, upgradeconfig: t.upgradeconfig, notes: t.notes,
  };
}

/** `voided` (0/1) comes last, so readers of the older columns by position keep working. */
export const PROMOTION_CSV_HEADER = 'id,code,type,value,startdate,expirationdate,maxuses,uses,notes,voided\n';

/** The CSV cells a batch's rows share, rendered once per batch: exports of 100k rows stay cheap. */
const csvTermCells = new WeakMap<PromotionTerms, [string, string]>();

export function promotionCsvLine(id: number, code: string, uses: number, t: PromotionTerms, voided = false): string {
  let cells = csvTermCells.get(t);
  if (!cells) {
    cells = [`${csvCell(t.type)},${t.value},${t.startdate},${t.expirationdate},${t.maxuses}`, csvCell(t.notes)];
    csvTermCells.set(t, cells);
  }
  return `${id},${csvCell(code)},${cells[0]},${uses},${cells[1]},${voided ? 1 : 0}\n`;
}

/** RFC 4180 quoting, plus a leading apostrophe against spreadsheet formula injection. */
export function csvCell(value: string): string {
  let cell = value;
  if (/^[=+\-@\t\r]/.test(cell)) cell = `'${cell}`;
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}


export const MAX_BULK_AMOUNT = 100_000;
export const DEFAULT_BULK_AMOUNT = 10;

/** A bulk request: Coupontools' fields plus the single-code overrides. */
export interface BulkRequest {
  amount: number;
  overrides: PromotionOverrides;
  format: { prefix?: string; length?: number; alphabet?: CodeAlphabet };
}

export const BULK_PARSERS = {
  ...OVERRIDE_PARSERS,
  amount: wholeNumber('The amount', 1, MAX_BULK_AMOUNT),
  code_prefix: prefixOverride,
  code_length: wholeNumber('The code length', MIN_CODE_LENGTH, MAX_CODE_LENGTH),
  code_type: oneOf('The code type', CODE_ALPHABET_NAMES),
};

export function parseBulkRequest(input: Record<string, unknown>): BulkRequest {
  const { values, errors } = parseFields(BULK_PARSERS, input);
  if (Object.keys(errors).length > 0) throw PromoError.validation(errors);
  const { amount, code_prefix, code_length, code_type, ...overrides } = values;
  const prefix = code_prefix || overrides.name || undefined;
  return { amount: amount ?? DEFAULT_BULK_AMOUNT, overrides, format: { prefix, length: code_length, alphabet: code_type } };
}
