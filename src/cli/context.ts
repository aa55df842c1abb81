/**
 * What every CLI command shares: who acts (the machine's user, as an operator
 * holding the server's own keys), a core opened for the command and closed
 * after it, `field=value` words and printing.
 */
import { userInfo } from 'node:os';
import type { Config } from '../config.js';
import { PromoError } from '../domain/errors.js';
import type { PromoSet } from '../domain/set.js';
import { authorize, operatorActor, type Action } from '../service/access.js';
import { closeCore, coreOptionsFrom, openCore, type Core } from '../service/core.js';

export const actor = () => `cli:${safeUser()}`;
/** The CLI's user holds the server's own keys: an operator, asked through the one permission path (service/access.ts). */
export const permit = (core: Core, action: Action, set?: PromoSet) => authorize(core, operatorActor(actor()), action, set);
function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** `key=value` words (value may have been quoted by the shell) into an object. */
export function fieldArgs(words: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const word of words) {
    const at = word.indexOf('=');
    if (at <= 0) throw new PromoError('bad_request', `Expected field=value, got "${word}". See --help.`);
    fields[word.slice(0, at)] = word.slice(at + 1);
  }
  return fields;
}

export async function withCore<T>(config: Config, work: (core: Core) => Promise<T>): Promise<T> {
  const core = await openCore(coreOptionsFrom(config));
  try {
    return await work(core);
  } finally {
    await closeCore(core);
  }
}

export const out = (line = '') => process.stdout.write(`${line}\n`);
