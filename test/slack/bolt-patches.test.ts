import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKED_AGAINST } from '../../src/slack/bolt-patches.js';

/**
 * src/slack/bolt-patches.ts changes Bolt's objects in place. This fails when
 * the installed Bolt or Socket Mode client is not the version the patches
 * were checked against, or no longer makes the calls they rely on.
 */
const require = createRequire(import.meta.url);
/** A package's root folder: up from its main file to the package.json that names it. */
function packageRoot(name: string, from?: string): string {
  let dir = dirname(require.resolve(name, from ? { paths: [from] } : undefined));
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) dir = dirname(dir);
  return dir;
}
const boltRoot = packageRoot('@slack/bolt');
const socketModeRoot = packageRoot('@slack/socket-mode', boltRoot);
const versionOf = (root: string) => JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;

describe('the Bolt patches still fit the Bolt installed', () => {
  it('the installed versions are the ones the patches were checked against', () => {
    const installed = {
      '@slack/bolt': versionOf(boltRoot),
      '@slack/socket-mode': versionOf(socketModeRoot),
    };
    expect(installed, 'Bolt changed: re-check src/slack/bolt-patches.ts against it, then update CHECKED_AGAINST').toEqual(CHECKED_AGAINST);
  });

  it('both receivers hand every request to app.processEvent, and the Socket Mode client reconnects through this.start', () => {
    for (const receiver of ['HTTPReceiver', 'SocketModeReceiver']) {
      expect(readFileSync(join(boltRoot, 'dist', 'receivers', `${receiver}.js`), 'utf8'), receiver).toMatch(/this\.app\??\.processEvent\(event\)/);
    }
    expect(readFileSync(join(dirname(require.resolve('@slack/socket-mode', { paths: [boltRoot] })), 'SocketModeClient.js'), 'utf8')).toContain('this.delayReconnectAttempt(this.start)');
  });
});
