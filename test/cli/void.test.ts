import { expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { runCli } from '../support/processes.js';

describeEachDialect('promoset codes void / unvoid', (dialect) => {
  const ctx = useTestDatabase(dialect);
  const env = () => ({ DATABASE_URL: ctx.database.url });
  const voidedCodes = async (): Promise<string[]> => {
    const db = openDatabase(ctx.database.url);
    try {
      return (await db.selectFrom('promotions').select('code').where('voided_at', 'is not', null).orderBy('id').execute()).map((r) => r.code);
    } finally {
      await db.destroy();
    }
  };

  it('voids codes and whole batches, restores them, refuses unknown codes without changing anything, and audits it all', async () => {
    expect((await runCli(['sets', 'create', 'Cli Void', 'promo_value=5'], env())).code).toBe(0);
    const generated = await runCli(['codes', 'Cli Void', '--amount', '4'], env());
    expect(generated.code, generated.stderr).toBe(0);
    const codes = generated.stdout.trim().split('\n');
    const batchId = /batch (\d+)/.exec(generated.stderr)![1];
    expect(codes).toHaveLength(4);

    const unknown = await runCli(['codes', 'void', codes[0], 'NOSUCHCODE'], env());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('Error: There is no promotion NOSUCHCODE; nothing was changed. Check the codes for typos.\n');
    expect(await voidedCodes()).toEqual([]);

    const voided = await runCli(['codes', 'void', codes[0].toLowerCase(), codes[1]], env());
    expect(voided.code, voided.stderr).toBe(0);
    expect(voided.stdout).toBe(`${codes[0]}  voided\n${codes[1]}  voided\n`);
    expect(await voidedCodes()).toEqual([codes[0], codes[1]]);

    const batch = await runCli(['codes', 'void', '--batch', batchId], env());
    expect(batch.stdout).toBe(`Batch ${batchId}: 2 codes voided.\n`);
    expect(await voidedCodes()).toEqual(codes);

    const restored = await runCli(['codes', 'unvoid', codes[2]], env());
    expect(restored.stdout).toBe(`${codes[2]}  restored\n`);
    expect(await voidedCodes()).toEqual([codes[0], codes[1], codes[3]]);
    const all = await runCli(['codes', 'unvoid', '--batch', batchId], env());
    expect(all.stdout).toBe(`Batch ${batchId}: 3 codes restored.\n`);
    expect(await voidedCodes()).toEqual([]);

    const audit = await runCli(['sets', 'audit', 'Cli Void'], env());
    const lines = audit.stdout.split('\n').filter((l) => /voided|unvoided/.test(l));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/unvoided\s+cli:\S+\s+\{"batch_id":\d+,"count":3\}/);

    const show = await runCli(['sets', 'show', 'Cli Void'], env());
    expect(JSON.parse(show.stdout).usage).toEqual({ issued: 4, redeemed: 0, voided: 0, used_up: 0 });
  }, 60_000);

  it('explains its usage: --help, no codes, codes and --batch together, a bad batch number', async () => {
    const help = await runCli(['codes', 'void', '--help'], env());
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('promoset codes void --batch N');
    const none = await runCli(['codes', 'void'], env());
    expect(none).toMatchObject({ code: 1, stderr: 'Error: Name the codes to void (promoset codes void CODE...) or a batch (--batch N).\n' });
    const both = await runCli(['codes', 'unvoid', 'ABC', '--batch', '1'], env());
    expect(both.stderr).toBe('Error: Give codes or --batch N, not both. See promoset codes --help.\n');
    const bad = await runCli(['codes', 'void', '--batch', 'twelve'], env());
    expect(bad.stderr).toBe('Error: --batch takes a batch number, like --batch 12.\n');
    const missing = await runCli(['codes', 'void', '--batch', '424242'], env());
    expect(missing.stderr).toContain('There is no batch 424242');
  }, 60_000);
});
