import { describe, expect, it } from 'vitest';
import { collationBounds } from '../../src/whmcs/promotions.js';

describe('collationBounds (the range probe before a code lookup)', () => {
  it('gives the least and greatest code when plain order is the column order: one length, upper-case letters and digits after a common prefix', () => {
    expect(collationBounds(['promo-K9B', 'promo-2ZZ', 'promo-B22'])).toEqual(['promo-2ZZ', 'promo-K9B']);
    expect(collationBounds(['ABC'])).toEqual(['ABC', 'ABC']);
  });

  it('gives nothing where the orders may differ, so the caller looks every code up', () => {
    expect(collationBounds(['A-X2', 'a-X3'])).toBeUndefined(); // the prefixes differ in case
    expect(collationBounds(['P-AB', 'P-ABC'])).toBeUndefined(); // lengths differ
    expect(collationBounds(['P-Ab', 'P-AZ'])).toBeUndefined(); // lower case after the common prefix
    expect(collationBounds(['P-A.', 'P-A2'])).toBeUndefined();
    expect(collationBounds([])).toBeUndefined();
  });
});
