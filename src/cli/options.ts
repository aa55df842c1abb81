import { parseArgs } from 'node:util';
import { closestField } from '../domain/names.js';
import { count } from '../domain/text.js';

/**
 * The CLI's option parsing and progress, in words a person can act on:
 * node:util's parseArgs messages are written for programmers ("argument is
 * ambiguous… use '--amount=-XYZ'", an unbalanced quote around an unknown
 * option), so options are checked here first and parseArgs only splits.
 */

/** A mistake in how the command was typed: exit 2, as parseArgs errors did. */
export class UsageError extends Error {}

type Options = Record<string, { type: 'string' | 'boolean' }>;

export function parseOptions<O extends Options>(args: string[], options: O, command: string) {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (word === '--') {
      words.push(...args.slice(i));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      words.push(word);
      continue;
    }
    const [flag, inlineValue] = splitOnce(word.replace(/^-+/, ''), '=');
    const option = Object.hasOwn(options, flag) ? options[flag] : undefined;
    if (!option) {
      const meant = closestField(flag, Object.keys(options));
      const hint = meant ? ` Did you mean --${meant}?` : '';
      throw new UsageError(`Unknown option ${word.slice(0, 40)} for "promoset ${command}".${hint} See promoset ${command} --help.`);
    }
    if (option.type === 'boolean') {
      if (inlineValue !== undefined) throw new UsageError(`--${flag} takes no value. See promoset ${command} --help.`);
      words.push(`--${flag}`);
      continue;
    }
    // The next word is this option's value even when it starts with "-" (--amount -5):
    // then the field's own check says what is wrong with it.
    const value = inlineValue ?? args[++i];
    if (value === undefined) throw new UsageError(`--${flag} needs a value, like --${flag} ${EXAMPLE_VALUES[flag] ?? 'VALUE'}. See promoset ${command} --help.`);
    words.push(`--${flag}=${value}`);
  }
  return parseArgs({ args: words, allowPositionals: true, options });
}

const EXAMPLE_VALUES: Record<string, string> = { amount: '100', csv: 'codes.csv', prefix: 'SPRING', length: '8', type: 'numeric', batch: '12', limit: '20' };

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/**
 * Progress of a long batch on stderr. On a terminal one line is rewritten
 * with "\r"; into a file or a pipe (a log) a line is added every 10%, so the
 * log stays one line per event.
 */
export function progressPrinter(stream: { isTTY?: boolean; write(text: string): unknown }, noun: string) {
  let lastTenth = -1;
  const line = (done: number, total: number) => `Generating… ${done.toLocaleString('en-US')} / ${count(total, noun)} (${Math.floor((done * 100) / total)}%)`;
  return {
    update(done: number, total: number) {
      if (stream.isTTY) {
        stream.write(`\r${line(done, total)}`);
        return;
      }
      const tenth = Math.floor((done * 10) / total);
      if (tenth <= lastTenth) return;
      lastTenth = tenth;
      stream.write(`${line(done, total)}\n`);
    },
    finish() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}
