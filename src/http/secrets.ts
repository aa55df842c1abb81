import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality of a secret and a candidate of any length: both are
 * hashed first, so neither the comparison nor its length check leaks anything.
 */
export function secretEquals(expected: string, candidate: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(candidate).digest();
  return timingSafeEqual(a, b);
}
