#!/usr/bin/env node
/**
 * `promoset …`: picks the command and maps failures to one line and an exit
 * code (the CLI's edge). Each command group lives in src/cli/: its words
 * parsed, the service called, the answer printed.
 */
import { accessCommand } from './cli/access.js';
import { codesCommand } from './cli/codes.js';
import { out } from './cli/context.js';
import { COMMAND_HELP, HELP } from './cli/help.js';
import { UsageError } from './cli/options.js';
import { migrateCommand, serveCommand } from './cli/server.js';
import { setsCommand } from './cli/sets.js';
import { whmcsCommand } from './cli/whmcs.js';
import { ConfigError, loadConfig } from './config.js';
import { PromoError } from './domain/errors.js';
import { asPromoError } from './service/errors.js';

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
    case 'serve':
      return serveCommand(config);
    case 'migrate':
      return migrateCommand(config);
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
