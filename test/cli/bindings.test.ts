import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { runCli } from '../support/processes.js';

/** Issue 21 from the CLI: --client-id, --client-email, --clients FILE, and `codes for`. */
describeEachDialect('promoset codes: binding to customers', (dialect) => {
  const ctx = useTestDatabase(dialect);
  const env = () => ({ DATABASE_URL: ctx.database.url, PUBLIC_URL: 'https://promo.example.com' });

  it('binds every code to one customer, or one code per customer of a file; `codes for` finds them; bad input is one clear line', async () => {
    expect((await runCli(['sets', 'create', 'Retention', 'max_uses=2'], env())).code).toBe(0);
    const one = await runCli(['codes', 'retention', '--amount', '2', '--client-id', '42'], env());
    expect(one.code, one.stderr).toBe(0);
    const lines = one.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/^\S+ {2}client 42$/);
    expect(one.stderr).toContain('A bound code of this set can be used up to 2 times, and every use must be by the bound customer.');

    const file = join(ctx.database.dir, 'customers.csv');
    writeFileSync(file, 'client_id,client_email\n42,ann@example.com\n,bob@example.com\n');
    const csvPath = join(ctx.database.dir, 'bound.csv');
    const listed = await runCli(['codes', 'retention', '--clients', file, '--csv', csvPath], env());
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toContain('Wrote 2 codes');

    const found = await runCli(['codes', 'for', 'ANN@example.com'], env());
    expect(found.code).toBe(0);
    expect(found.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^\S+ · Retention · 0\/2 uses · client 42 \(ann@example\.com\)$/)]);
    const byId = await runCli(['codes', 'for', '42'], env());
    expect(byId.stdout.trim().split('\n')).toHaveLength(3);

    const bad = await runCli(['codes', 'retention', '--client-email', 'ann@'], env());
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('Error: The client_email must be an e-mail address such as name@example.com.');
    const missing = await runCli(['codes', 'retention', '--clients', join(ctx.database.dir, 'nope.csv')], env());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such file');
  });
});
