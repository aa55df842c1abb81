#!/usr/bin/env node
/**
 * `promoset …`: each command parses its words, calls the service and prints.
 * Over 300 lines because it holds every command and its help side by side;
 * option parsing and progress live in cli-options.ts.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { finished } from 'node:stream/promises';
import { parseOptions, progressPrinter, UsageError } from './cli-options.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { PromoError } from './domain/errors.js';
import { toSetAdminDetails, type PromoSet } from './domain/set.js';
import { count } from './domain/text.js';
import { createLogger } from './log.js';
import { SHUTDOWN_GRACE_MS, startService } from './main.js';
import { asPromoError } from './service/errors.js';
import { closeCore, coreOptionsFrom, migrateDatabase, openCore, type Core } from './service/core.js';
import { generatePromotions } from './service/generate.js';
import { batchBindings, promotionsCsv } from './service/promotions.js';
import { bindingNoteFor, customerPromotionLine, describeBinding, promotionsForCustomer } from './service/bindings.js';
import { archiveSet, createSet, findSet, listSets, rotateSetKey, rotateWebhookSecret, updateSet } from './service/sets.js';
import { setAuditTrail } from './service/set-audit.js';
import { setUrl } from './service/set-urls.js';
import { resendDelivery, webhookOverview } from './service/webhooks.js';
import { usageOfSet } from './service/usage.js';
import { voidBatch, voidPromotions } from './service/voiding.js';
import { backfillWhmcs } from './service/whmcs-backfill.js';
import { disconnectWhmcs, reconnectWhmcs, whmcsConnectionHistory, whmcsStatus } from './service/whmcs-connection.js';
import { authorize, operatorActor, type Action } from './service/access.js';
import { grantAccess, listAccess, resolveSets, revokeAccess } from './service/access-grants.js';
import { defaultRole, describeLimits, limitsFor, parseLimitOptions } from './service/access-policy.js';
import { accessAuditPage, setDefaultRole, setLimits } from './service/access-settings.js';
import { parseRole, ROLES } from './service/roles.js';

const HELP = `promoset: promotion codes from Slack and HTTP, in WHMCS's shapes.

Usage:
  promoset serve                      Start the HTTP server (and Slack, if configured)
  promoset migrate                    Bring the database schema up to date
  promoset sets create NAME [field=value ...]
  promoset sets update SET field=value ...   Change fields (e.g. webhook_url=https://…; webhook_url= removes it)
  promoset sets list [--all]          One line per set (--all includes archived)
  promoset sets show SET              A set's fields, URL and counts (SET is an id or a name)
  promoset sets rotate SET            New api_key: the old URL stops working at once
  promoset sets archive SET           Stop a set from issuing codes
  promoset sets audit SET             Who created, edited, rotated, archived it, and who generated codes from where
  promoset sets webhooks SET [--failed]          Recent webhook deliveries: status, attempts, last error, next attempt
  promoset sets webhooks SET resend EVENT_ID     Send one event again now
  promoset sets webhooks SET rotate-secret       New signing secret (printed once here)
  promoset codes SET --amount N [--csv FILE] [--prefix P] [--length L] [--type default|numeric|alphanumeric] [field=value ...]
  promoset codes SET ... --client-id ID | --client-email E | --clients FILE   Bind the codes to customers
  promoset codes for CUSTOMER         The codes bound to a customer (WHMCS client id or e-mail), newest first
  promoset codes void CODE... | --batch N     Switch codes off: validation and redemption refuse them
  promoset codes unvoid CODE... | --batch N   Restore voided codes
  promoset whmcs status               Which WHMCS this database is connected to, and whether WHMCS_DATABASE_URL matches
  promoset whmcs backfill             Write codes issued before the connection into WHMCS's tblpromotions
  promoset whmcs reconnect --yes      Switch this database to the WHMCS in WHMCS_DATABASE_URL (audited)
  promoset whmcs disconnect --yes     Stop using WHMCS (audited)
  promoset access list                Who may do what: grants, the default role, PROMO_ADMINS
  promoset access grant SUBJECT ROLE [SET ...]   SUBJECT: a Slack user id (U…) or user group id (S…); no SET: every set
  promoset access revoke SUBJECT [SET ...]
  promoset access default-role ROLE   The role of everyone without a grant (viewer unless changed)
  promoset access limits ROLE [--set SET] per_request=N per_day=N max_percentage=N …   (none lifts a limit)
  promoset access audit               Grants, revokes and settings changes, newest first

Set fields are named as in the set's JSON (what GET {set URL} answers), e.g.
  promoset sets create spring promo_code_type="Fixed Amount" promo_value=25 cycles=Monthly,Annually expiration_date=2027-06-30
Code overrides for "codes": value=, promo_code_type=, start_date=, expiry_date=, notes=.

The database is DATABASE_URL (default ./data/promoset.db). "promoset COMMAND --help" shows one command's help.`;

const COMMAND_HELP: Record<string, string> = {
  whmcs: `promoset whmcs status | backfill | reconnect --yes | disconnect --yes

promoset's database records which WHMCS database it is connected to (the first process with
WHMCS_DATABASE_URL set records it). A process without a matching WHMCS_DATABASE_URL then refuses to
issue, redeem or void.
  status              the recorded connection, this process's WHMCS_DATABASE_URL, what is wrong, the history
  backfill            writes every promotion WHMCS does not hold yet into tblpromotions (resumable: run it
                      again after an interruption); codes WHMCS already holds are reported and their
                      promotions take that row's id. Progress goes to stderr.
  reconnect --yes     records WHMCS_DATABASE_URL's database as the one; forgets the old tblpromotions ids
                      (run backfill afterwards)
  disconnect --yes    promoset stops writing to WHMCS; every promotion shows promoset's own id again`,
  serve: 'promoset serve\n\nStarts the HTTP server on PORT (default 3000); Slack runs too when its tokens are set. See README "Configuration".',
  migrate: 'promoset migrate\n\nApplies pending database migrations (also done at every start) and lists what ran.',
  sets: HELP.split('\n').filter((l) => l.includes('promoset sets')).join('\n'),
  access: HELP.split('\n').filter((l) => l.includes('promoset access')).join('\n'),
  codes: `promoset codes SET --amount N [options] [field=value ...]

Generates N codes (1 to 100,000) from SET, all in one transaction.
  --amount N      how many (default 10)
  --csv FILE      write them as CSV to FILE (otherwise codes are printed, one a line)
  --prefix P      code prefix, joined with "-" (default: the set's)
  --length L      random-part length, 3 to 30 (default: the set's)
  --type T        default | numeric | alphanumeric (default: the set's)
  field=value     value=, promo_code_type=, start_date=, expiry_date=, notes=
  --client-id ID        bind every code to this WHMCS client id: only that customer can redeem them
  --client-email E      bind every code to this customer e-mail (compared ignoring case)
  --clients FILE        one code per customer: a CSV file (header client_id and/or client_email,
                        or one id or e-mail a line) or a JSON array of {client_id, client_email};
                        the amount is the number of customers
Example: promoset codes spring --amount 100000 --csv spring.csv
Example: promoset codes apology --clients customers.csv --csv apology.csv

promoset codes for CUSTOMER             the codes bound to a customer: promoset codes for ann@example.com, promoset codes for 42

promoset codes void CODE [CODE ...]     void codes (any letter case); all must exist, or nothing changes
promoset codes void --batch N           void every code of batch N, in one statement
promoset codes unvoid CODE [...] | --batch N   restore them
Voiding twice is harmless. Every void and unvoid is in the set's audit trail (promoset sets audit SET).`,
};

const actor = () => `cli:${safeUser()}`;
/** The CLI's user holds the server's own keys: an operator, asked through the one permission path (service/access.ts). */
const permit = (core: Core, action: Action, set?: PromoSet) => authorize(core, operatorActor(actor()), action, set);
function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** `key=value` words (value may have been quoted by the shell) into an object. */
function fieldArgs(words: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const word of words) {
    const at = word.indexOf('=');
    if (at <= 0) throw new PromoError('bad_request', `Expected field=value, got "${word}". See --help.`);
    fields[word.slice(0, at)] = word.slice(at + 1);
  }
  return fields;
}

async function withCore<T>(config: Config, work: (core: Core) => Promise<T>): Promise<T> {
  const core = await openCore(coreOptionsFrom(config));
  try {
    return await work(core);
  } finally {
    await closeCore(core);
  }
}

/** After the requests' grace period: webhook deliveries (10 s each), Slack batches and closing the databases. */
const SHUTDOWN_AFTER_GRACE_MS = 30_000;

const out = (line = '') => process.stdout.write(`${line}\n`);

/** "Percentage 10.00, max_uses 1 (each code works once), no expiration date" */
function termsLine(set: PromoSet): string {
  const uses = set.max_uses === 0 ? 'max_uses 0 (unlimited uses)' : `max_uses ${set.max_uses} (each code works ${set.max_uses === 1 ? 'once' : `${set.max_uses} times`})`;
  const expiry = set.expiration_date ? `expires ${set.expiration_date}` : set.valid_days ? `each code expires ${count(set.valid_days, 'day')} after it is generated` : 'no expiration date';
  return `${set.promo_code_type} ${set.promo_value}, ${uses}, ${expiry}`;
}

/**
 * A set URL as the CLI prints it. The CLI is not the server: without
 * PUBLIC_URL it can only guess http://localhost:$PORT, so it says so (once)
 * rather than print a URL that may name the wrong port.
 */
let guessNoted = false;
function printedUrl(core: Core, set: PromoSet): string {
  if (!process.env.PUBLIC_URL && !guessNoted) {
    guessNoted = true;
    process.stderr.write(`Note: PUBLIC_URL is not set, so set URLs here start with ${core.publicUrl} (PORT=${process.env.PORT || 3000} on this machine). Run the CLI with the server's PUBLIC_URL to print the URLs clients use.\n`);
  }
  return setUrl(core, set);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out(HELP);
    return 0;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out(COMMAND_HELP[command] ?? HELP);
    return 0;
  }
  const config = loadConfig();

  switch (command) {
    case 'serve': {
      // One logger for the service and its shutdown, so LOG_FORMAT=json logs stay JSON to the last line.
      const logger = createLogger(config.LOG_LEVEL, undefined, config.LOG_FORMAT, config.LOG_BUFFER_BYTES);
      const service = await startService(config, logger);
      const stop = (signal: string) => {
        logger.info(`${signal}: no new connections; finishing in-flight requests and batches, then exiting`, { signal });
        // The grace period bounds the requests; this bounds everything after them (a database cut mid-shutdown, say).
        setTimeout(() => {
          logger.error('Shutdown did not finish in time; exiting anyway');
          process.exit(1);
        }, SHUTDOWN_GRACE_MS + SHUTDOWN_AFTER_GRACE_MS).unref();
        service.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error(`Error while shutting down: ${error instanceof Error ? error.message : String(error)}`);
            process.exit(1);
          },
        );
      };
      // A second signal while draining is ignored; the grace period bounds the wait.
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));
      return -1; // keep running
    }
    case 'migrate': {
      const ran = await migrateDatabase(config.DATABASE_URL);
      out(ran.length ? `Applied: ${ran.join(', ')}` : 'The database is up to date.');
      return 0;
    }
    case 'sets':
      return setsCommand(config, rest);
    case 'codes':
      return codesCommand(config, rest);
    case 'whmcs':
      return whmcsCommand(config, rest);
    case 'access':
      return accessCommand(config, rest);
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${HELP}\n`);
      return 2;
  }
}

/** `promoset access …`: the same service functions as `/promo access` and /api/access; the CLI's user acts as an operator. */
async function accessCommand(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const who = operatorActor(actor());
  return withCore(config, async (core) => {
    switch (sub) {
      case 'list': {
        out(`Default role: ${await defaultRole(core)}. PROMO_ADMINS (owners): ${core.access.admins.join(', ') || 'none'}.`);
        const grants = await listAccess(core, who);
        if (grants.length === 0) out('No grants yet. Grant one: promoset access grant U012ABCDEF issuer');
        for (const g of grants) out(`${String(g.id).padStart(4)}  ${g.subject.padEnd(12)} ${g.role.padEnd(8)} ${g.set_id === 0 ? 'every set' : `set ${g.set_id} "${g.set_name}"`}`);
        return 0;
      }
      case 'grant': {
        const [subject, role, ...sets] = rest;
        if (!subject || !role) throw new PromoError('bad_request', 'Name the subject and the role: promoset access grant U012ABCDEF issuer [SET ...]');
        const result = await grantAccess(core, who, subject, role, sets);
        out(`${result.subject} is now ${result.role} on ${result.sets.length > 0 ? result.sets.map((s) => `"${s.name}"`).join(', ') : 'every set'}${result.replaced.length > 0 ? ` (was ${result.replaced.join(', ')})` : ''}.`);
        return 0;
      }
      case 'revoke': {
        const [subject, ...sets] = rest;
        if (!subject) throw new PromoError('bad_request', 'Name the subject: promoset access revoke U012ABCDEF [SET ...]');
        const revoked = await revokeAccess(core, who, subject, sets);
        out(`Revoked ${revoked.map((g) => `${g.role} on ${g.set_id === 0 ? 'every set' : `set ${g.set_id}`}`).join(', ')} from ${subject}.`);
        return 0;
      }
      case 'default-role': {
        const role = parseRole(rest[0]);
        await setDefaultRole(core, who, role);
        out(`Everyone without a grant is ${role} now.`);
        return 0;
      }
      case 'limits': {
        const { values, positionals } = parseOptions(rest, { set: { type: 'string' } }, 'access limits');
        const [roleText, ...pairs] = positionals;
        const role = parseRole(roleText);
        const [set] = values.set ? await resolveSets(core, [values.set]) : [];
        if (pairs.length > 0) await setLimits(core, who, role, parseLimitOptions(fieldArgs(pairs)), set);
        out(`${role} limits${set ? ` on "${set.name}"` : ''}: ${describeLimits(await limitsFor(core, role, set?.id))}.`);
        return 0;
      }
      case 'audit': {
        const { events } = await accessAuditPage(core, who, 0, 200);
        if (events.length === 0) out('Nothing yet.');
        for (const e of events) out(`${e.created_at}  ${e.action.padEnd(22)} ${e.actor.padEnd(20)} ${JSON.stringify(e.detail)}${e.set_id ? ` set ${e.set_id}` : ''}`);
        return 0;
      }
      default:
        process.stderr.write(`${HELP.split('\n').filter((l) => l.includes('promoset access')).join('\n')}\nRoles: ${ROLES.join(', ')}.\n`);
        return 2;
    }
  });
}

async function setsCommand(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  return withCore(config, async (core) => {
    switch (sub) {
      case 'create': {
        const [name, ...fields] = rest;
        if (!name) throw new PromoError('bad_request', 'Give the new set a name: promoset sets create NAME [field=value ...]');
        const given = fieldArgs(fields);
        await permit(core, 'create_set');
        const set = await createSet(core, { name, ...given }, actor());
        out(`Created set ${set.id} "${set.name}".`);
        out(`URL: ${printedUrl(core, set)}`);
        out(`Terms: ${termsLine(set)}`);
        const defaulted = ['promo_code_type', 'promo_value', 'max_uses'].filter((field) => !(field in given));
        if (defaulted.length > 0) out(`(${defaulted.join(', ')}: not given, so the default; change with promoset sets update ${JSON.stringify(set.name)} field=value)`);
        out(`Try: curl -X POST ${setUrl(core, set)}`);
        if (set.webhook_secret) out(`Webhook signing secret: ${set.webhook_secret}`);
        return 0;
      }
      case 'update': {
        const [ref, ...fields] = rest;
        if (!ref || fields.length === 0) throw new PromoError('bad_request', 'Name the set and the fields to change: promoset sets update SET field=value ...');
        const before = await findSet(core, ref);
        await permit(core, 'edit_set', before);
        const set = await updateSet(core, before.id, fieldArgs(fields), actor());
        out(`Updated set ${set.id} "${set.name}".`);
        if (set.webhook_secret && !before.webhook_secret) out(`Webhook signing secret: ${set.webhook_secret}`);
        return 0;
      }
      case 'webhooks':
        return webhooksCommand(core, rest);
      case 'list': {
        const { values } = parseOptions(rest, { all: { type: 'boolean' } }, 'sets list');
        const sets = await listSets(core, { includeArchived: values.all });
        if (sets.length === 0) out('No promo sets yet. Create one: promoset sets create NAME');
        for (const { set, promotions } of sets) {
          out(`${String(set.id).padStart(4)}  ${set.name.padEnd(24)} ${set.promo_code_type} ${set.promo_value}  ${count(promotions, 'code')}${set.archived_at ? '  (archived)' : ''}`);
        }
        return 0;
      }
      case 'show': {
        const set = await findSet(core, rest.join(' '));
        const [summary] = (await listSets(core, { includeArchived: true })).filter((s) => s.set.id === set.id);
        const usage = await usageOfSet(core, set.id);
        out(JSON.stringify({ ...toSetAdminDetails(set, printedUrl(core, set)), promotions: summary?.promotions ?? 0, batches: summary?.batches ?? 0, usage: { issued: usage.issued, redeemed: usage.redeemed, voided: usage.voided, used_up: usage.usedUp } }, null, 2));
        return 0;
      }
      case 'rotate': {
        const target = await findSet(core, rest.join(' '));
        await permit(core, 'rotate_set', target);
        const set = await rotateSetKey(core, target.id, actor());
        out(`Rotated. The old URL no longer works. New URL: ${printedUrl(core, set)}`);
        return 0;
      }
      case 'archive': {
        const target = await findSet(core, rest.join(' '));
        await permit(core, 'archive_set', target);
        const set = await archiveSet(core, target.id, actor());
        out(`Archived set ${set.id} "${set.name}". Its URL no longer issues codes.`);
        return 0;
      }
      case 'audit': {
        const set = await findSet(core, rest.join(' '));
        const events = await setAuditTrail(core, set.id);
        if (events.length === 0) out(`Nothing has happened to "${set.name}" yet.`);
        for (const event of events) out(`${event.created_at}  ${event.action.padEnd(9)} ${event.actor.padEnd(24)} ${JSON.stringify(event.detail)}`);
        return 0;
      }
      default:
        process.stderr.write(`Unknown "sets" command "${sub ?? ''}".\n${COMMAND_HELP.sets}\n`);
        return 2;
    }
  });
}

async function webhooksCommand(core: Core, args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { failed: { type: 'boolean' }, limit: { type: 'string' } }, 'sets webhooks');
  const [ref, action, eventId] = positionals;
  if (!ref) throw new PromoError('bad_request', 'Name the set: promoset sets webhooks SET [resend EVENT_ID | rotate-secret]');
  const set = await findSet(core, ref);
  if (action === 'rotate-secret') {
    const updated = await rotateWebhookSecret(core, set.id, actor());
    out(`New webhook signing secret for "${updated.name}": ${updated.webhook_secret}`);
    out('Deliveries from now on (retries included) are signed with it; update your receiver.');
    return 0;
  }
  if (action === 'resend') {
    if (!eventId) throw new PromoError('bad_request', 'Name the event: promoset sets webhooks SET resend evt_…');
    const delivery = await resendDelivery(core, set.id, eventId, actor());
    out(`Queued ${delivery.event_id} (${delivery.type}) to be sent again now; a running server delivers it.`);
    return 0;
  }
  if (action !== undefined) throw new PromoError('bad_request', `Unknown webhooks action "${action.slice(0, 30)}": use resend EVENT_ID or rotate-secret.`);
  const overview = await webhookOverview(core, set.id, { limit: Number(values.limit ?? 20), status: values.failed ? 'failed' : undefined });
  out(`Webhook URL: ${overview.set.webhook_url ?? '(none)'}`);
  out(`Delivered ${overview.counts.delivered}, pending ${overview.counts.pending}, failed ${overview.counts.failed}.`);
  for (const d of overview.deliveries) {
    const next = d.next_attempt_at ? `  next ${d.next_attempt_at}` : '';
    out(`${d.created_at}  ${d.event_id}  ${d.type.padEnd(18)} ${d.status.padEnd(9)} attempts ${d.attempts}${d.last_error ? `  last error: ${d.last_error}` : ''}${next}`);
  }
  return 0;
}

async function codesCommand(config: Config, args: string[]): Promise<number> {
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

/** `whmcs status|backfill|reconnect|disconnect`: the recorded WHMCS connection (service/whmcs-connection.ts). */
async function whmcsCommand(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { yes: { type: 'boolean' } }, 'whmcs');
  const [sub, ...extra] = positionals;
  if (extra.length > 0) throw new PromoError('bad_request', `"promoset whmcs ${sub}" takes no arguments besides --yes. See promoset whmcs --help.`);
  return withCore(config, async (core) => {
    switch (sub) {
      case 'status': {
        const status = await whmcsStatus(core);
        const record = status.record;
        out(record ? `Connected to WHMCS database "${record.database_name}" on ${record.host} (tblpromotions created ${record.table_created}), since ${record.connected_at} by ${record.connected_by}.` : 'No WHMCS connection is recorded: codes stay in promoset alone.');
        out(`This process: ${core.whmcsLink.target ? `WHMCS_DATABASE_URL names database "${core.whmcsLink.target.database}" on ${core.whmcsLink.target.host}` : 'WHMCS_DATABASE_URL is not set'}; state: ${status.state}.`);
        if (status.message) out(status.message);
        for (const event of await whmcsConnectionHistory(core)) out(`${event.created_at}  ${event.action.padEnd(12)} ${event.actor.padEnd(20)} ${JSON.stringify(event.detail)}`);
        return status.state === 'ok' || status.state === 'off' ? 0 : 1;
      }
      case 'backfill': {
        const tty = process.stderr.isTTY;
        let nextTenth = 0;
        const report = await backfillWhmcs(core, actor(), ({ done, total }) => {
          if (total === 0) return;
          if (tty) {
            process.stderr.write(`\rBackfilling… ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`);
            return;
          }
          // Not a terminal (a log, a pipe): a line at every tenth, no carriage returns.
          const tenth = Math.floor((done * 10) / total);
          if (done === 0 || tenth < nextTenth) return;
          nextTenth = tenth + 1;
          process.stderr.write(`Backfilling: ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} (${tenth * 10}%)\n`);
        });
        if (tty && report.total > 0) process.stderr.write('\n');
        if (report.total === 0) {
          out('Nothing to backfill: WHMCS holds every promotion already.');
          return 0;
        }
        out(`Wrote ${report.written.toLocaleString('en-US')} codes into tblpromotions.`);
        if (report.alreadyHeld.length > 0) {
          out(`${report.alreadyHeld.length.toLocaleString('en-US')} codes were already in WHMCS (in some letter case): not written again; their promotions now show that row's id:`);
          for (const code of report.alreadyHeld.slice(0, 50)) out(`  ${code}`);
          if (report.alreadyHeld.length > 50) out(`  … and ${(report.alreadyHeld.length - 50).toLocaleString('en-US')} more (promoset whmcs status lists the first 50 again).`);
        }
        return 0;
      }
      case 'reconnect': {
        const result = await reconnectWhmcs(core, actor(), { yes: values.yes === true });
        if (!result.changed) {
          out(`Already connected to WHMCS database "${result.record.database_name}" on ${result.record.host}; nothing changed.`);
          return 0;
        }
        out(`Connected to WHMCS database "${result.record.database_name}" on ${result.record.host}${result.previous ? ` (was "${result.previous.database_name}" on ${result.previous.host})` : ''}.`);
        if (result.forgotten > 0) out(`Forgot ${result.forgotten.toLocaleString('en-US')} tblpromotions ids of the old database.`);
        if (result.unpublished > 0) out(`${result.unpublished.toLocaleString('en-US')} promotions are not in this WHMCS yet: run "promoset whmcs backfill".`);
        return 0;
      }
      case 'disconnect': {
        const result = await disconnectWhmcs(core, actor(), { yes: values.yes === true });
        if (!result.changed) {
          out('No WHMCS connection is recorded; nothing changed.');
          return 0;
        }
        out(`Disconnected from WHMCS database "${result.previous!.database_name}" on ${result.previous!.host}; promoset no longer writes codes there. Remove WHMCS_DATABASE_URL from every promoset process.`);
        return 0;
      }
      default:
        process.stderr.write(`Unknown "whmcs" command "${sub ?? ''}".\n${COMMAND_HELP.whmcs}\n`);
        return 2;
    }
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

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (failure: unknown) => {
    // The CLI's edge: one line a person can act on, never a stack trace.
    // A busy database is a PromoError like any refusal; an unreachable one keeps the driver's words
    // (ECONNREFUSED, host names): at a terminal they tell the operator what to fix.
    const known = asPromoError(failure);
    const error = known && known.code !== 'database_unavailable' ? known : failure;
    if (error instanceof PromoError || error instanceof ConfigError) {
      const fields = error instanceof PromoError ? Object.entries(error.fields).filter(([, m]) => m !== error.message) : [];
      process.stderr.write(`Error: ${error.message}\n${fields.map(([f, m]) => `  ${f}: ${m}\n`).join('')}`);
      process.exitCode = error instanceof ConfigError ? 78 : 1;
    } else if (error instanceof UsageError) {
      process.stderr.write(`Error: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
