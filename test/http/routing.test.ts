import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/http/server.js';

/**
 * The server looks a request's route up by the first segment of its path
 * (server.ts findRoute): a route whose pattern could match a path under
 * another first segment than its template's would never be found.
 */
describe('routes by first segment', () => {
  it('every route pattern starts with its template\'s first segment, as a whole segment', () => {
    expect(ROUTES.length).toBeGreaterThan(20);
    for (const route of ROUTES) {
      const segment = route.name.split('/')[1];
      const escaped = segment.replace(/[.]/g, '\\\\.');
      expect(route.pattern.source, route.name).toMatch(new RegExp(`^\\^\\\\/${escaped}(\\\\/|\\$)`));
    }
  });
});
