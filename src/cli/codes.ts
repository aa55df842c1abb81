/** `promoset codes …`: generate codes from a set (printed or to CSV), a customer's codes, void and unvoid. */
import { createWriteStream, readFileSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Config } from '../config.js';
import { PromoError } from '../domain/errors.js';
import { count } from '../domain/text.js';
import { bindingNoteFor, customerPromotionLine, describeBinding, promotionsForCustomer } from '../service/bindings.js';
import { generatePromotions } from '../service/generate.js';
import { batchBindings, promotionsCsv } from '../service/promotions.js';
import { findSet } from '../service/sets.js';
import { voidBatch, voidPromotions } from '../service/voiding.js';
import { actor, fieldArgs, out, permit, withCore } from './context.js';
import { parseOptions, progressPrinter } from './options.js';

export async function codesCommand(config: Config, args: string[]): Promise<number> {
  if (args[0] === 'void' || args[0] === 'unvoid') return voidCommand(config, args[0] === 'unvoid', args.slice(1));
  if (args[0] === 'for') return codesForCommand(config, args.slice(1));
  const { values, positionals } = parseOptions(
    args,
    {
      amount: { type: 'string' }, csv: { type: 'string' }, prefix: { type: 'string' }, length: { type: 'string' }, type: { type: 'string' },
      'client-id': { type: 'string' }, 'client-email': { type: 'string' }, clients: { type: 'string' },
    },
    'codes',
  );
  const [setRef, ...fieldWords] = positionals;
  if (!setRef) throw new PromoError('bad_request', 'Name the set: promoset codes SET --amount N. See promoset codes --help.');
  return withCore(config, async (core) => {
    const set = await findSet(core, setRef);
    const input: Record<string, unknown> = { ...fieldArgs(fieldWords) };
    if (values.amount !== undefined) input.amount = values.amount;
    if (values.prefix !== undefined) input.code_prefix = values.prefix;
    if (values.length !== undefined) input.code_length = values.length;
    if (values.type !== undefined) input.code_type = values.type;
    if (values['client-id'] !== undefined) input.client_id = values['client-id'];
    if (values['client-email'] !== undefined) input.client_email = values['client-email'];
    if (values.clients !== undefined) input.clients = readClientsFile(values.clients);
    const progress = process.stderr.isTTY || Number(values.amount) >= 10_000 ? progressPrinter(process.stderr, 'code') : undefined;
    const started = Date.now();
    await permit(core, 'issue', set);
    const result = await generatePromotions(core, set, input, actor(), { onProgress: progress?.update });
    progress?.finish();
    if (values.csv) {
      const file = createWriteStream(values.csv);
      for await (const piece of promotionsCsv(core, { batchId: result.batchId })) {
        if (!file.write(piece)) await new Promise<void>((resolve) => file.once('drain', () => resolve()));
      }
      file.end();
      await finished(file);
      process.stderr.write(`Wrote ${count(result.count, 'code')} (batch ${result.batchId}) to ${values.csv} in ${Date.now() - started} ms.\n`);
    } else {
      // The codes as generated, one a line: never re-parsed from CSV, whose notes may hold commas and line breaks.
      // A bound code is followed by its customer.
      const bound = new Map((await batchBindings(core, { id: result.batchId, set_id: set.id })).map((c) => [c.code, describeBinding(c)]));
      for (const { code } of result.issued) out(bound.has(code) ? `${code}  ${bound.get(code)}` : code);
      process.stderr.write(`${count(result.count, 'code')}, batch ${result.batchId}.\n`);
    }
    const note = result.bindings || values['client-id'] || values['client-email'] || values.clients ? bindingNoteFor(result.terms.maxuses) : null;
    if (note) process.stderr.write(`${note}\n`);
    return 0;
  });
}

/** `--clients FILE`: a JSON array, or CSV text (the parser of the bulk `clients` field reads both). */
function readClientsFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PromoError('bad_request', `Could not read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}.`);
  }
  if (text.trimStart().startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new PromoError('bad_request', `${path} starts like JSON but is not valid JSON: fix it, or give a CSV file.`);
    }
  }
  return text;
}

/** `codes for CUSTOMER`: the codes bound to a WHMCS client id or an e-mail, newest first. */
async function codesForCommand(config: Config, args: string[]): Promise<number> {
  const { positionals } = parseOptions(args, {}, 'codes for');
  if (positionals.length !== 1) throw new PromoError('bad_request', 'Name one customer: promoset codes for ann@example.com, or promoset codes for 42 (a WHMCS client id).');
  return withCore(config, async (core) => {
    const { customer, promotions } = await promotionsForCustomer(core, positionals[0]);
    if (promotions.length === 0) process.stderr.write(`No codes are bound to ${customer}.\n`);
    for (const p of promotions) out(customerPromotionLine(p));
    return 0;
  });
}

/** `codes void|unvoid CODE... | --batch N`, through the same service as Slack and the admin API. */
async function voidCommand(config: Config, restore: boolean, args: string[]): Promise<number> {
  const verb = restore ? 'unvoid' : 'void';
  const { values, positionals } = parseOptions(args, { batch: { type: 'string' } }, `codes ${verb}`);
  if (values.batch !== undefined && positionals.length > 0) throw new PromoError('bad_request', `Give codes or --batch N, not both. See promoset codes --help.`);
  if (values.batch === undefined && positionals.length === 0) throw new PromoError('bad_request', `Name the codes to ${verb} (promoset codes ${verb} CODE...) or a batch (--batch N).`);
  if (values.batch !== undefined && !/^\d{1,12}$/.test(values.batch)) throw new PromoError('bad_request', `--batch takes a batch number, like --batch 12.`);
  return withCore(config, async (core) => {
    await permit(core, verb);
    if (values.batch !== undefined) {
      const result = await voidBatch(core, Number(values.batch), actor(), { restore });
      out(`Batch ${result.batch_id}: ${count(result.count, 'code')} ${restore ? 'restored' : 'voided'}.`);
      return 0;
    }
    const results = await voidPromotions(core, positionals, actor(), { restore });
    for (const r of results) out(`${r.promotion.code}  ${r.changed ? (restore ? 'restored' : 'voided') : `already ${restore ? 'valid' : 'voided'}`}`);
    return 0;
  });
}
