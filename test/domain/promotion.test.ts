import { describe, expect, it } from 'vitest';
import { PromoError } from '../../src/domain/errors.js';
import { csvCell, parseBulkRequest, parseOverrides, promotionCsvLine, promotionTerms, upgradeConfig } from '../../src/domain/promotion.js';
import { SET_DEFAULTS, type PromoSet } from '../../src/domain/set.js';

const TODAY = '2026-03-10';
const set: PromoSet = {
  ...SET_DEFAULTS, id: 1, name: 'spring', api_key: 'K'.repeat(25), promo_value: '20.00', start_date: '2026-04-01', expiration_date: '2026-05-01',
  created_by: 'cli:test', created_at: '2026-03-01T00:00:00Z', updated_at: '2026-03-01T00:00:00Z', archived_at: null, webhook_secret: null,
};

function refusal(work: () => unknown): PromoError {
  try {
    work();
  } catch (error) {
    if (error instanceof PromoError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('promotion overrides follow the same rules as the set', () => {
  it('value override: 2 decimals, positive, Percentage at most 100', () => {
    expect(refusal(() => parseOverrides({ value: '1.234' })).fields).toEqual({ value: 'The value must be a number with at most 2 decimals, like 25 or 25.50.' });
    expect(refusal(() => promotionTerms(set, parseOverrides({ value: '0' }), TODAY)).fields).toEqual({ value: 'The value must be greater than 0.' });
    expect(refusal(() => promotionTerms(set, parseOverrides({ value: '150' }), TODAY)).fields).toEqual({ value: 'A percentage value must be at most 100.' });
    // Switching the type makes the same value valid.
    expect(promotionTerms(set, parseOverrides({ value: '150', promo_code_type: 'Price Override' }), TODAY).value).toBe('150.00');
  });

  it('date overrides: ISO dates and the seed sentences, checked against the set\'s other date', () => {
    expect(refusal(() => parseOverrides({ expiry_date: '2026-02-30' })).fields).toEqual({ expiry_date: '"2026-02-30" is not a date; write it as YYYY-MM-DD.' });
    expect(refusal(() => promotionTerms(set, parseOverrides({ expiry_date: '2026-03-09' }), TODAY)).fields).toEqual({ expiry_date: 'The expiry date must be a date in the future.' });
    // Expiry before the set's own start date.
    expect(refusal(() => promotionTerms(set, parseOverrides({ expiry_date: '2026-03-20' }), TODAY)).fields).toEqual({ expiry_date: 'The expiry date must be later than the start date.' });
    const terms = promotionTerms(set, parseOverrides({ start_date: '2026-03-15', expiry_date: '2026-03-20' }), TODAY);
    expect([terms.startdate, terms.expirationdate]).toEqual(['2026-03-15', '2026-03-20']);
  });

  it('no dates are written 0000-00-00, and valid_days counts from today', () => {
    const open = { ...set, start_date: null, expiration_date: null };
    expect(promotionTerms(open, {}, TODAY)).toMatchObject({ startdate: '0000-00-00', expirationdate: '0000-00-00' });
    expect(promotionTerms({ ...open, valid_days: 30 }, {}, TODAY).expirationdate).toBe('2026-04-09');
  });

  it('upgradeconfig without upgrades matches seed 002\'s empty form', () => {
    expect(upgradeConfig({ ...SET_DEFAULTS, upgrades: 0 })).toBe('a:4:{s:5:"value";s:4:"0.00";s:4:"type";s:0:"";s:12:"discounttype";s:10:"Percentage";s:13:"configoptions";s:0:"";}');
  });

  it('bulk requests: amount 1 to 100,000, Coupontools code types, prefix from code_prefix or name', () => {
    expect(refusal(() => parseBulkRequest({ amount: '100001' })).fields).toEqual({ amount: 'The amount must be a whole number from 1 to 100000.' });
    expect(refusal(() => parseBulkRequest({ amount: '0' })).fields.amount).toBe('The amount must be a whole number from 1 to 100000.');
    expect(refusal(() => parseBulkRequest({ code_type: 'emoji' })).fields).toEqual({ code_type: 'The code type must be one of: default, numeric, alphanumeric.' });
    expect(refusal(() => parseBulkRequest({ code_length: '31' })).fields).toEqual({ code_length: 'The code length must be a whole number from 3 to 30.' });
    expect(parseBulkRequest({ amount: 100000, name: 'shop', code_type: 'numeric' })).toMatchObject({ amount: 100000, format: { prefix: 'shop', alphabet: 'numeric' } });
    expect(parseBulkRequest({ code_prefix: 'a', name: 'b' }).format.prefix).toBe('a');
    // Each field's message names the field that was sent (--prefix is code_prefix, seed 001's "name" is the prefix too).
    expect(() => parseBulkRequest({ code_prefix: 'A,B' })).toThrow(expect.objectContaining({ fields: { code_prefix: expect.stringMatching(/^The code prefix may use letters, digits/) } }));
    expect(() => parseBulkRequest({ name: 'A,B' })).toThrow(expect.objectContaining({ fields: { name: expect.stringMatching(/^The name \(the code prefix\) may use/) } }));
  });
});

describe('CSV cells', () => {
  it('quote commas, quotes and newlines, and defuse spreadsheet formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    for (const formula of ['=HYPERLINK("http://x")', '+1+1', '-2', '@SUM(A1)']) expect(csvCell(formula).replace(/^"/, '')).toMatch(/^'/);
    const terms = promotionTerms({ ...set, notes: '=cmd|"/c calc"!A1' }, {}, TODAY);
    expect(promotionCsvLine(7, 'ABC', 0, terms)).toBe(`7,ABC,Percentage,20.00,2026-04-01,2026-05-01,1,0,"'=cmd|""/c calc""!A1",0,,\n`);
    // A bound code's customer closes the line; an e-mail starting with a formula character is defused too.
    expect(promotionCsvLine(7, 'ABC', 0, terms, true, { client_id: 42, client_email: '=x@example.com' })).toMatch(/,1,42,'=x@example\.com\n$/);
  });

  it('semicolon locales: a formula after any separator is defused and the cell quoted; NUL bytes are dropped (issue 28, item 8)', () => {
    expect(csvCell("x;=cmd|' /C calc'!A0")).toBe(`"x;'=cmd|' /C calc'!A0"`);
    expect(csvCell('a; +1')).toBe(`"a; '+1"`);
    expect(csvCell('a,@SUM(A1)')).toBe(`"a,'@SUM(A1)"`);
    expect(csvCell('tab\t-2')).toBe(`"tab\t'-2"`);
    expect(csvCell('just;text')).toBe('"just;text"');
    expect(csvCell('nul\0byte')).toBe('nulbyte');
    expect(csvCell('\0=1')).toBe("'=1");
  });
});
