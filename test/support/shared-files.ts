import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './processes.js';

/**
 * Files from ../shared (beside the clone: WHMCS's table definition, Slack's
 * manifest schema), read when a test needs them, never at import time: one
 * missing file then fails only the suites that use it, saying which file
 * and why, instead of every suite that imports a support module.
 */
export function readSharedFile(relativePath: string, neededFor: string): string {
  const path = join(ROOT, '..', 'shared', relativePath);
  if (!existsSync(path)) {
    throw new Error(`${neededFor} needs ../shared/${relativePath} (${path}), which is missing. Check out the shared folder beside the repository (CI does).`);
  }
  return readFileSync(path, 'utf8');
}
