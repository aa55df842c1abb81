import { describe, expect, it } from 'vitest';
import { PromoError } from '../../src/domain/errors.js';
import { CYCLES } from '../../src/domain/fields.js';
import { SET_DEFAULTS, validateSetFields } from '../../src/domain/set.js';

const TODAY = '2026-03-10';

/** The PromoError a set input is refused with (fails the test if it is accepted). */
function refusal(changes: Record<string, unknown>, base = SET_DEFAULTS): PromoError {
  try {
    validateSetFields({ name: 'spring', ...base }, changes, TODAY);
  } catch (error) {
    if (error instanceof PromoError) return error;
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(changes)}`);
}

const accepts = (changes: Record<string, unknown>) => validateSetFields({ name: 'spring', ...SET_DEFAULTS }, changes, TODAY);

describe('set rules, each with its exact sentence', () => {
  it('value: positive, at most 2 decimals', () => {
    for (const bad of ['25.555', 'ten', '1e3', '']) {
      const error = refusal({ promo_value: bad });
      expect(error.code).toBe('validation_failed');
      expect(error.status).toBe(400);
      expect(error.fields).toEqual({ promo_value: 'The value must be a number with at most 2 decimals, like 25 or 25.50.' });
    }
    // -5 is a number with at most 2 decimals: say what is wrong with it instead.
    expect(refusal({ promo_value: '-5' }).fields).toEqual({ promo_value: 'The value cannot be negative (got -5); give a positive number like 25 or 25.50.' });
    expect(refusal({ promo_value: '0' }).fields).toEqual({ promo_value: 'The value must be greater than 0.' });
    expect(refusal({ promo_value: 0 }).message).toBe('The value must be greater than 0.');
    expect(accepts({ promo_value: '25.5' }).promo_value).toBe('25.50');
    expect(accepts({ promo_value: 7 }).promo_value).toBe('7.00');
  });

  it('Percentage: at most 100; other types may be larger', () => {
    expect(refusal({ promo_code_type: 'Percentage', promo_value: '100.01' }).fields).toEqual({ promo_value: 'A percentage value must be at most 100.' });
    expect(accepts({ promo_code_type: 'Percentage', promo_value: '100' }).promo_value).toBe('100.00');
    expect(accepts({ promo_code_type: 'Fixed Amount', promo_value: '150' }).promo_value).toBe('150.00');
  });

  it('type: one of the four WHMCS types', () => {
    expect(refusal({ promo_code_type: 'Half Off' }).fields).toEqual({ promo_code_type: 'The type must be one of: Percentage, Fixed Amount, Price Override, Free Setup.' });
    expect(accepts({ promo_code_type: 'fixed amount' }).promo_code_type).toBe('Fixed Amount');
  });

  it('dates: ISO YYYY-MM-DD only', () => {
    expect(refusal({ start_date: '2026-13-01' }).fields).toEqual({ start_date: '"2026-13-01" is not a date; write it as YYYY-MM-DD.' });
    expect(refusal({ expiration_date: '10/03/2027' }).fields).toEqual({ expiration_date: '"10/03/2027" is not a date; write it as YYYY-MM-DD.' });
    expect(refusal({ start_date: 20260310 }).fields).toEqual({ start_date: 'Dates must be written YYYY-MM-DD.' });
    expect(accepts({ start_date: '0000-00-00' }).start_date).toBeNull();
  });

  it('cycles: only from WHMCS\'s list', () => {
    expect(refusal({ cycles: 'Monthly,Weekly' }).fields).toEqual({ cycles: `Cycles: "Weekly" is not valid; choose from ${CYCLES.join(', ')}.` });
    expect(accepts({ cycles: ['quarterly', 'Semi-Annually', '10Years', 'One Time'] }).cycles).toEqual(['Quarterly', 'Semi-Annually', '10Years', 'One Time']);
    expect(refusal({ cycles: ['11Years'] }).fields.cycles).toMatch(/^Cycles: "11Years" is not valid/);
  });

  it('applies_to and requires: product ids, A<id> addons, D.<tld> domains', () => {
    const hint = 'use product ids (12), addon ids (A12) or domains (D.com)';
    expect(accepts({ applies_to: '12,A40,D.ua,D.co.uk' }).applies_to).toEqual(['12', 'A40', 'D.ua', 'D.co.uk']);
    expect(accepts({ requires: ['13', 50, 'D.ua'] }).requires).toEqual(['13', '50', 'D.ua']);
    expect(refusal({ applies_to: '12,X12' }).fields).toEqual({ applies_to: `Applies to: "X12" is not valid; ${hint}.` });
    expect(refusal({ applies_to: 'Aone' }).fields).toEqual({ applies_to: `Applies to: "Aone" is not valid; ${hint}.` });
    expect(refusal({ requires: 'D.' }).fields).toEqual({ requires: `Requires: "D." is not valid; ${hint}.` });
    expect(refusal({ requires: '.com' }).fields).toEqual({ requires: `Requires: ".com" is not valid; ${hint}.` });
  });

  it('seed sentence: "The expiry date must be a date in the future."', () => {
    const error = refusal({ expiration_date: '2026-03-09' });
    expect(error.message).toBe('The expiry date must be a date in the future.');
    expect(error.fields).toEqual({ expiration_date: 'The expiry date must be a date in the future.' });
    expect(accepts({ expiration_date: TODAY }).expiration_date).toBe(TODAY);
  });

  it('seed sentence: "The expiry date must be later than the start date."', () => {
    for (const expiry of ['2026-06-01', '2026-05-31']) {
      const error = refusal({ start_date: '2026-06-01', expiration_date: expiry });
      expect(error.message).toBe('The expiry date must be later than the start date.');
      expect(error.fields).toEqual({ expiration_date: 'The expiry date must be later than the start date.' });
    }
    expect(accepts({ start_date: '2026-06-01', expiration_date: '2026-06-02' }).expiration_date).toBe('2026-06-02');
  });

  it('editing a set whose expiry has passed does not re-check the future rule unless a date changes', () => {
    const past = { ...SET_DEFAULTS, expiration_date: '2025-01-01' };
    expect(validateSetFields({ name: 'old', ...past }, { notes: 'still here' }, TODAY).notes).toBe('still here');
    expect(refusal({ start_date: '2024-01-01' }, past).message).toBe('The expiry date must be a date in the future.');
  });

  it('valid_days=0 is refused with a sentence saying how to have no limit; empty clears it', () => {
    for (const zero of [0, '0', ' 00 ']) {
      expect(refusal({ valid_days: zero }).fields).toEqual({ valid_days: 'Valid days must be from 1 to 3650; to have codes not expire after a number of days, leave valid_days empty.' });
    }
    expect(accepts({ valid_days: '' }).valid_days).toBeNull();
    expect(accepts({ valid_days: '30' }).valid_days).toBe(30);
  });

  it('collects one message per bad field, and names unknown fields', () => {
    const error = refusal({ promo_value: 'x', cycles: 'Weekly', colour: 'red' });
    expect(Object.keys(error.fields).sort()).toEqual(['colour', 'cycles', 'promo_value']);
    expect(error.fields.colour).toBe('Unknown field "colour".');
    // A typo or another shape's name gets a suggestion, as set names do.
    expect(refusal({ promo_valeu: '5' }).fields).toEqual({ promo_valeu: 'Unknown field "promo_valeu". Did you mean "promo_value"?' });
    expect(refusal({ expiry_date: '2030-01-01' }).fields.expiry_date).toBe('Unknown field "expiry_date". Did you mean "expiration_date"?');
    expect(error.toJSON()).toEqual({ result: 'error', message: error.message, code: 'validation_failed', fields: error.fields });
  });
});
