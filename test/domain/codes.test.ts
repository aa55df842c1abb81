import { describe, expect, it, vi } from 'vitest';
import { assertFeasible, CODE_ALPHABETS, codeGenerator, codeSpace } from '../../src/domain/codes.js';
import { PromoError } from '../../src/domain/errors.js';

describe('codes', () => {
  it('draws from the CSPRNG, never Math.random, and spreads over the whole alphabet', () => {
    const spy = vi.spyOn(Math, 'random').mockImplementation(() => {
      throw new Error('Math.random must not be used for codes');
    });
    try {
      const next = codeGenerator({ prefix: '', length: 8, alphabet: 'default' });
      const codes = Array.from({ length: 5000 }, next);
      expect(new Set(codes).size).toBe(5000);
      const seen = new Set(codes.join(''));
      expect([...seen].sort().join('')).toBe([...CODE_ALPHABETS.default].sort().join(''));
    } finally {
      spy.mockRestore();
    }
  });

  it('the default alphabet has no vowels and no look-alikes', () => {
    for (const banned of 'AEIOU01ILV') expect(CODE_ALPHABETS.default).not.toContain(banned);
    expect(new Set(CODE_ALPHABETS.default).size).toBe(CODE_ALPHABETS.default.length);
  });

  it('joins the prefix with "-" and draws the random part from the alphabet', () => {
    const next = codeGenerator({ prefix: 'puqcloud.com', length: 3, alphabet: 'default' });
    const codes = Array.from({ length: 2000 }, next);
    for (const code of codes) expect(code).toMatch(/^puqcloud\.com-[23456789BCDFGHJKMNPQRSTWXZ]{3}$/);
    // Every symbol turns up: the random part really spans the alphabet.
    expect(new Set(codes.map((c) => c.slice(-1))).size).toBe(CODE_ALPHABETS.default.length);
    expect(codeGenerator({ prefix: '', length: 6, alphabet: 'numeric' })()).toMatch(/^\d{6}$/);
  });

  it('feasibility: 4-digit numeric codes have room for 5,000 of 10,000; 6,000 is refused', () => {
    const format = { prefix: '', length: 4, alphabet: 'numeric' as const };
    expect(codeSpace(format)).toBe(10_000);
    expect(() => assertFeasible(format, 5000, 0)).not.toThrow();
    let error: unknown;
    try {
      assertFeasible(format, 6000, 0);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PromoError);
    expect((error as PromoError).code).toBe('code_space_exhausted');
    expect((error as PromoError).status).toBe(422);
    expect((error as PromoError).message).toBe('Not enough unique codes left: 4-character numeric codes have room for 5,000 more, and 6,000 were requested. Use a longer code length or a larger code type.');
    // What was issued before counts against the space.
    expect(() => assertFeasible(format, 4001, 2000)).toThrow(PromoError);
    expect(() => assertFeasible(format, 4000, 2000)).not.toThrow();
  });
});
