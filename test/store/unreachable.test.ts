import { expect, it } from 'vitest';
import { isDatabaseUnreachable } from '../../src/store/errors.js';

it('a broken connection is "unreachable" (503), whichever way pg words it; a refused statement is not', () => {
  for (const error of [
    Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    new Error('Connection terminated unexpectedly'),
    // Kysely's ROLLBACK on a connection that broke mid-transaction (seen in the chaos run, answered 500 before).
    new Error('Client has encountered a connection error and is not queryable'),
    Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
  ]) expect(isDatabaseUnreachable(error), error.message).toBe(true);
  expect(isDatabaseUnreachable(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }))).toBe(false);
  expect(isDatabaseUnreachable(new Error('Cannot read properties of undefined'))).toBe(false);
});
