import { describe, expect, it, vi } from 'vitest';
import { assertFeasible, CODE_ALPHABETS, codeGenerator, codeSpace, numberedCodeSource } from '../../src/domain/codes.js';
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

  it('numbered codes (bulk): sorted, never repeated across calls, every character in every position, from the CSPRNG', () => {
    const spy = vi.spyOn(Math, 'random').mockImplementation(() => {
      throw new Error('Math.random must not be used for codes');
    });
    try {
      const next = numberedCodeSource({ prefix: 'Spring', length: 4, alphabet: 'alphanumeric' })!;
      const first = next(20_000);
      const second = next(5_000);
      for (const batch of [first, second]) {
        // Plain string order, which for alphanumeric puts digits before letters.
        expect(batch).toEqual([...batch].sort());
        for (const code of batch) expect(code).toMatch(/^Spring-[A-Z0-9]{4}$/);
      }
      expect(new Set([...first, ...second]).size).toBe(25_000);
      for (let position = 0; position < 4; position++) {
        const counts = new Map<string, number>();
        for (const code of first) counts.set(code[7 + position], (counts.get(code[7 + position]) ?? 0) + 1);
        expect([...counts.keys()].sort().join('')).toBe([...CODE_ALPHABETS.alphanumeric].sort().join(''));
        // 20,000 draws over 36 characters: about 556 each; uniform draws stay far inside these bounds.
        for (const count of counts.values()) expect(count).toBeGreaterThan(400);
        for (const count of counts.values()) expect(count).toBeLessThan(720);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('numbered codes fill a small space exactly and leave the long formats to strings', () => {
    const next = numberedCodeSource({ prefix: '', length: 3, alphabet: 'numeric' })!;
    const all = [...next(600), ...next(400)];
    expect(all.sort()).toEqual(Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0')));
    expect(numberedCodeSource({ prefix: '', length: 11, alphabet: 'default' })).toBeDefined();
    expect(numberedCodeSource({ prefix: '', length: 12, alphabet: 'default' })).toBeUndefined();
    expect(numberedCodeSource({ prefix: '', length: 11, alphabet: 'alphanumeric' })).toBeUndefined();
  });

  it('numbered codes as indexes (rendered a slice at a time by bulk generation): sorted, and shared with the call form', () => {
    const next = numberedCodeSource({ prefix: '', length: 3, alphabet: 'numeric' })!;
    const indexes = next.draw(600);
    expect([...indexes]).toEqual([...indexes].sort((a, b) => a - b));
    const drawn = Array.from(indexes, (index) => next.render(index));
    expect(drawn).toEqual(Array.from(indexes, (index) => String(index).padStart(3, '0')));
    // The call form draws from the same source: together they give each code of the space once.
    expect([...drawn, ...next(400)].sort()).toEqual(Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0')));
  });
});
