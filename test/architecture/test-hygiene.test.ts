import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/processes.js';
import { readSharedFile } from '../support/shared-files.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Rules for the tests themselves: a test that skips itself on a regression,
 * sleeps instead of waiting for a condition, or reads ../shared at import
 * time hides failures or fails the wrong suites.
 */
function testFiles(dir = join(ROOT, 'test')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? testFiles(path) : /\.(ts|mjs)$/.test(entry.name) ? [path] : [];
  });
}

/** The code of a file, comments removed (a comment may mention what the code must not do). */
const code = (path: string) => readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
const name = (path: string) => relative(ROOT, path);
const THIS_FILE = join(ROOT, 'test', 'architecture', 'test-hygiene.test.ts');

describe('test hygiene', () => {
  it('no test skips itself at run time (a routing regression must fail, not skip)', () => {
    // The one allowed: the machine has no IPv6 loopback to test from, which no code change can fix.
    const environmental = new Set(['test/http/allowlist.test.ts']);
    const offenders = testFiles().filter((path) => path !== THIS_FILE && !environmental.has(name(path)) && /\b(test|ctx|context)\.skip\(\)/.test(code(path)));
    expect(offenders.map(name)).toEqual([]);
  });

  it('no fixed sleep is used to wait: only test/support/wait-for.ts polls, and two timers are the point of their tests', () => {
    // A timer that IS the behaviour under test: a random crash point, and proof that the event loop runs while a writer waits.
    const deliberate = new Set(['test/hardening/crash.test.ts', 'test/store/db.test.ts']);
    const offenders = testFiles()
      .filter((path) => !['test/support/wait-for.ts', 'test/support/processes.ts', 'test/support/fake-socket-mode.ts', 'test/support/fake-slack.ts'].includes(name(path)) && !deliberate.has(name(path)) && path !== THIS_FILE)
      .filter((path) => /(?<![.\w])setTimeout\(\s*\w+\s*,/.test(code(path)) || /\bsleep\(/.test(code(path)));
    expect(offenders.map(name)).toEqual([]);
  });

  it('../shared is read through readSharedFile, when a test needs it, never at import time', () => {
    const offenders = testFiles().filter((path) => name(path) !== 'test/support/shared-files.ts' && path !== THIS_FILE && /'shared'|\.\.\/shared\//.test(code(path)));
    expect(offenders.map(name)).toEqual([]);
    expect(() => readSharedFile('no/such-file.sql', 'The hygiene test')).toThrow(/^The hygiene test needs \.\.\/shared\/no\/such-file\.sql \(.*\), which is missing\. Check out the shared folder beside the repository/);
  });

  it('waitFor ends as soon as the condition holds, and fails saying what it waited for', async () => {
    let reads = 0;
    expect(await waitFor(() => ++reads, (n) => n >= 3, 'three reads', { intervalMs: 1 })).toBe(3);
    await expect(waitFor(() => 'never', (value) => value === 'ready', 'the thing', { timeoutMs: 30, intervalMs: 5 })).rejects.toThrow(/^timed out after 30 ms waiting for the thing; last seen: never$/);
    await expect(waitFor(() => 0, () => false, 'a child', { stopIf: () => 'it exited' })).rejects.toThrow('gave up waiting for a child: it exited');
  });
});
