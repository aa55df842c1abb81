import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PromoError } from '../../src/domain/errors.js';
import { pageWindow } from '../../src/domain/pages.js';
import { truncate } from '../../src/domain/text.js';
import { codeOverrides, pageArgument, parseCommandText, setRefAndAmount, tokenize, unescapeSlackText } from '../../src/slack/command-args.js';

describe('/promo argument parsing', () => {
  it('escaped text (should_escape): e-mails and links as typed, entities decoded, mentions kept as ids', () => {
    const parsed = parseCommandText('code Spring client=<mailto:Ann@Example.com|Ann@Example.com> notes="Q&amp;A &lt;vip&gt; see <https://shop.example.com/x|shop.example.com/x>"');
    expect(parsed.options).toEqual({ client: 'Ann@Example.com', notes: 'Q&A <vip> see https://shop.example.com/x' });
    expect(parsed.positional).toEqual(['Spring']);
    expect(unescapeSlackText('grant <@U012AB|ann> issuer <!subteam^S0SUP|@support> <#C0123|sales>')).toBe('grant <@U012AB|ann> issuer <!subteam^S0SUP|@support> <#C0123|sales>');
  });

  it('takes a trailing `page N`; a name ending in "page" keeps it; bad numbers are refused', () => {
    expect(pageArgument([])).toEqual({ rest: [], page: 1 });
    expect(pageArgument(['page', '3'])).toEqual({ rest: [], page: 3 });
    expect(pageArgument(['Spring', 'Sale', 'PAGE', '12'])).toEqual({ rest: ['Spring', 'Sale'], page: 12 });
    expect(pageArgument(['Landing', 'page'])).toEqual({ rest: ['Landing', 'page'], page: 1 });
    expect(pageArgument(['Landing page 2'])).toEqual({ rest: ['Landing page 2'], page: 1 });
    expect(() => pageArgument(['page'])).toThrow('Give a page number after "page"');
    for (const bad of ['0', '-1', '2.5', 'two', '1234567']) expect(() => pageArgument(['x', 'page', bad])).toThrow('is not a page number');
  });

  it('pages: the window of a page, and a sentence for a page past the end', () => {
    expect(pageWindow(500, 1, 100, 'sets')).toEqual({ page: 1, pages: 5, total: 500, offset: 0, size: 100 });
    expect(pageWindow(501, 6, 100, 'sets')).toMatchObject({ pages: 6, offset: 500 });
    expect(pageWindow(0, 1, 100, 'sets')).toMatchObject({ pages: 1, offset: 0 });
    expect(() => pageWindow(500, 6, 100, 'sets')).toThrow('There is no page 6: there are 5 pages of sets (1 to 5).');
    expect(() => pageWindow(3, 2, 100, 'sets')).toThrow('There is only one page of sets; leave out the page number.');
  });

  it('truncate never cuts an emoji in half and marks the cut', () => {
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('ab🎉cd', 4)).toBe('ab…');
    expect(truncate('a🎉🎉', 4)).toBe('a🎉…');
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.integer({ min: 1, max: 30 }), (text, max) => {
      const cut = truncate(text, max);
      expect(cut.length).toBeLessThanOrEqual(Math.max(max, text.length <= max ? text.length : 0));
      expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(cut)).toBe(false);
    }));
  });

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
