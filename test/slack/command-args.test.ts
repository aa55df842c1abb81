import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PromoError } from '../../src/domain/errors.js';
import { codeOverrides, parseCommandText, setRefAndAmount, tokenize } from '../../src/slack/command-args.js';

describe('/promo argument parsing', () => {
  it('keeps quoted values together, with straight and Slack smart quotes', () => {
    expect(tokenize('code "Black Friday" type="Fixed Amount" notes=\'two words\'')).toEqual(['code', 'Black Friday', 'type=Fixed Amount', 'notes=two words']);
    expect(tokenize('code “Black Friday” type=“Fixed Amount” notes=‘for “you”’')).toEqual(['code', 'Black Friday', 'type=Fixed Amount', 'notes=for "you"']);
    expect(tokenize('code „Spring“ name=O\'Brien')).toEqual(['code', 'Spring', "name=O'Brien"]);
    expect(tokenize('  info\u00A0 12  ')).toEqual(['info', '12']);
    expect(tokenize('code x notes=""')).toEqual(['code', 'x', 'notes=']);
  });

  it('an unclosed quote is a clear error, not a guess', () => {
    expect(() => tokenize('code x type="Fixed Amount')).toThrow(/A quote \(".*\) is not closed/);
  });

  it('splits subcommand, set words and options', () => {
    expect(parseCommandText('CODE Black Friday value=50 type="Fixed Amount" start=2025-01-01 expiry=2025-12-30 name=puqcloud.com notes="TEST FOR DOCUMENTATION"')).toEqual({
      subcommand: 'code',
      positional: ['Black', 'Friday'],
      options: { value: '50', type: 'Fixed Amount', start: '2025-01-01', expiry: '2025-12-30', name: 'puqcloud.com', notes: 'TEST FOR DOCUMENTATION' },
    });
    expect(parseCommandText('')).toEqual({ subcommand: '', positional: [], options: {} });
    expect(() => parseCommandText('code x value=1 value=2')).toThrow('"value" is given twice');
    expect(() => parseCommandText('code x value=1 stray')).toThrow(/comes after the options/);
  });

  it('maps the short option names to the set URL POST fields and refuses unknown ones', () => {
    expect(codeOverrides({ value: '5', type: 'Percentage', start: '2025-01-01', expiry: '2025-02-01', name: 'p', notes: 'n' })).toEqual({
      value: '5', promo_code_type: 'Percentage', start_date: '2025-01-01', expiry_date: '2025-02-01', name: 'p', notes: 'n',
    });
    expect(() => codeOverrides({ colour: 'red' })).toThrow(PromoError);
  });

  it('codes <set> [amount]: a trailing number is the amount only when a set is named too', () => {
    expect(setRefAndAmount(['Black', 'Friday', '500'])).toEqual({ ref: 'Black Friday', amount: '500' });
    expect(setRefAndAmount(['12', '500'])).toEqual({ ref: '12', amount: '500' });
    expect(setRefAndAmount(['12'])).toEqual({ ref: '12' });
  });

  it('any text either parses or fails with a PromoError (never another exception)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ' ', '"', "'", '“', '”', '‘', '’', '=', 'x', '\u00A0', '\n', '1') , maxLength: 40 }), (text) => {
        try {
          const parsed = parseCommandText(text);
          expect(typeof parsed.subcommand).toBe('string');
        } catch (error) {
          expect(error).toBeInstanceOf(PromoError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
