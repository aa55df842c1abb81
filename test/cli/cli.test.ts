import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { createTestDatabase, describeEachDialect, useTestDatabase } from '../support/databases.js';
import { runCli } from '../support/processes.js';

const noStackTrace = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at |\.js:\d+:\d+|Error: .*\n.*Error/);

describeEachDialect('promoset CLI', (dialect) => {
  const ctx = useTestDatabase(dialect);
  const env = () => ({ DATABASE_URL: ctx.database.url, PUBLIC_URL: 'https://promo.example.com' });

  it('creates a set, then writes 100,000 distinct codes to CSV, all stored, still there after a restart', async () => {
    const created = await runCli(['sets', 'create', 'Spring Sale', 'promo_code_type=Fixed Amount', 'promo_value=25', 'cycles=Monthly,Annually'], env());
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^Created set \d+ "Spring Sale"\.\nURL: https:\/\/promo\.example\.com\/sets\/[A-Z0-9]{25}-\d+-[0-9a-f]{32}\n/);

    const csvPath = join(ctx.database.dir, 'out.csv');
    const generated = await runCli(['codes', 'spring sale', '--amount', '100000', '--csv', csvPath], env());
    expect(generated.code).toBe(0);
    const batchId = Number(/batch (\d+)/.exec(generated.stderr)?.[1]);
    expect(generated.stderr).toContain(`Wrote 100,000 codes (batch ${batchId}) to ${csvPath}`);
    expect(generated.stderr).toContain('Generating… 100,000 / 100,000');

    const lines = readFileSync(csvPath, 'utf8').split('\n');
    expect(lines[0]).toBe('id,code,type,value,startdate,expirationdate,maxuses,uses,notes,voided');
    expect(lines.at(-1)).toBe('');
    const rows = lines.slice(1, -1).map((line) => line.split(','));
    expect(rows).toHaveLength(100_000);
    const csvCodes = rows.map((r) => r[1]);
    expect(new Set(csvCodes.map((c) => c.toLowerCase())).size).toBe(100_000);
    for (const row of rows.slice(0, 50)) expect(row.slice(2, 4)).toEqual(['Fixed Amount', '25.00']);

    // A new connection, after the CLI process has gone: every code is stored, in this batch.
    const db = openDatabase(ctx.database.url);
    try {
      const stored = await db.selectFrom('promotions').select(['code', 'batch_id']).execute();
      expect(stored).toHaveLength(100_000);
      expect(new Set(stored.map((s) => s.code))).toEqual(new Set(csvCodes));
      expect(new Set(stored.map((s) => Number(s.batch_id)))).toEqual(new Set([batchId]));
    } finally {
      await db.destroy();
    }
    const shown = await runCli(['sets', 'show', 'SPRING SALE'], env());
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ name: 'Spring Sale', promotions: 100_000, batches: 1, promo_code_type: 'Fixed Amount', promo_value: 25 });
  });

  it('prints the generated codes one a line, whatever the set\'s notes hold (commas, line breaks)', async () => {
    const created = await runCli(['sets', 'create', 'Noted Sale', 'promo_code_type=Percentage', 'promo_value=10', 'notes=a, b\nc'], env());
    expect(created.code).toBe(0);
    const generated = await runCli(['codes', 'noted sale', '--amount', '5'], env());
    expect(generated.code).toBe(0);
    const printed = generated.stdout.split('\n');
    expect(printed.at(-1)).toBe('');
    const codes = printed.slice(0, -1);
    expect(codes).toHaveLength(5);
    for (const code of codes) expect(code).toMatch(/^[A-Z0-9]{6,}$/);

    const batchId = Number(/batch (\d+)/.exec(generated.stderr)?.[1]);
    const db = openDatabase(ctx.database.url);
    try {
      const stored = await db.selectFrom('promotions').select(['code']).where('batch_id', '=', batchId).orderBy('id').execute();
      expect(codes).toEqual(stored.map((s) => s.code));
    } finally {
      await db.destroy();
    }
  });

  it('errors exit non-zero with one clear line and no stack trace', async () => {
    const missing = await runCli(['codes', 'sprung sale', '--amount', '5'], env());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('Error: There is no promo set "sprung sale". Did you mean "Spring Sale"?\n');

    const invalid = await runCli(['sets', 'create', 'Bad', 'promo_value=12.345', 'cycles=Weekly'], env());
    expect(invalid.code).toBe(1);
    expect(invalid.stderr.split('\n')[0]).toBe('Error: The value must be a number with at most 2 decimals, like 25 or 25.50.');
    expect(invalid.stderr).toContain('  cycles: Cycles: "Weekly" is not valid;');
    noStackTrace(invalid.stderr);

    const past = await runCli(['codes', 'Spring Sale', '--amount', '3', 'expiry_date=2001-01-01'], env());
    expect(past.code).toBe(1);
    expect(past.stderr).toBe('Error: The expiry date must be a date in the future.\n');

    const tooMany = await runCli(['codes', 'Spring Sale', '--amount', '6000', '--type', 'numeric', '--length', '4'], env());
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/^Error: Not enough unique codes left: 4-character numeric codes have room for 5,000 more, and 6,000 were requested\./);

    const badOption = await runCli(['codes', 'Spring Sale', '--amuont', '3'], env());
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/^Error: Unknown option '--amuont'.*See promoset --help\.\n$/);

    const unknown = await runCli(['frobnicate'], env());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^Unknown command "frobnicate"\./);

    for (const result of [missing, invalid, past, tooMany, badOption, unknown]) noStackTrace(result.stderr);
    // Nothing was written by any of them.
    const shown = await runCli(['sets', 'show', 'Spring Sale'], env());
    expect(JSON.parse(shown.stdout)).toMatchObject({ promotions: 100_000, batches: 1 });
  });
});

describe('configuration', () => {
  it('a bad variable stops start-up with one line naming it', async () => {
    const database = await createTestDatabase('sqlite');
    try {
      const cases: [Record<string, string>, string][] = [
        [{ PORT: 'eighty' }, 'Error: Invalid configuration: PORT must be a port number.\n'],
        [{ LOG_LEVEL: 'loud' }, 'Error: Invalid configuration: LOG_LEVEL must be one of debug, info, warn, error, silent.\n'],
        [{ PUBLIC_URL: 'promo.example.com' }, 'Error: Invalid configuration: PUBLIC_URL must be an absolute URL like https://promo.example.com.\n'],
        [{ TRUST_PROXY: '10.0.0.0/33' }, 'Error: Invalid configuration: TRUST_PROXY must be a comma-separated list of IPs or CIDR ranges.\n'],
        [{ PROMO_TIMEZONE: 'Mars/Olympus' }, 'Error: Invalid configuration: PROMO_TIMEZONE must be an IANA time zone like Europe/Berlin.\n'],
      ];
      for (const [bad, line] of cases) {
        const result = await runCli(['serve'], { DATABASE_URL: database.url, PORT: '0', ...bad });
        expect(result.stderr).toBe(line);
        expect(result.code).toBe(78);
        expect(result.stdout).toBe('');
      }
    } finally {
      await database.drop();
    }
  });

  it('an unreachable PostgreSQL is one clear line, not a stack trace', async () => {
    const result = await runCli(['sets', 'list'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/nothing' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^Error: .*ECONNREFUSED/);
  });
});
