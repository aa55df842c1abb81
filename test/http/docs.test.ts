import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePromotion, generatePromotions } from '../../src/service/generate.js';
import { listPromotions } from '../../src/service/promotions.js';
import { redeemPromotion } from '../../src/service/redemptions.js';
import { startTestService, type TestService } from '../support/service.js';
import { localSetUrl, makeSet } from './helpers.js';

/** README's "## HTTP API" section: the docs a newcomer reads are the ones tested. */
function httpDocs(): string {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('\n## HTTP API');
  if (start === -1) throw new Error('README.md has no "## HTTP API" section');
  const end = readme.indexOf('\n## ', start + 5);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** Every curl command in the docs' sh blocks, with line continuations joined. */
function curlCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const [, block] of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block.replace(/\\\n/g, ' ').split('\n')) {
      if (line.startsWith('curl ')) commands.push(line);
    }
  }
  return commands;
}

function run(command: string, env: Record<string, string>, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', command], { env: { ...process.env, ...env }, cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command}: ${error.message} ${stderr}`)) : resolve(stdout),
    );
  });
}

describe('the HTTP docs\' curl examples work as written', () => {
  let service: TestService;
  let dir: string;
  beforeAll(async () => {
    service = await startTestService({ ADMIN_API_TOKEN: 'docs-admin-token-0123', WHMCS_API_IDENTIFIER: 'docs-id', WHMCS_API_SECRET: 'docs-secret-0123456789', RATE_LIMIT_PER_MINUTE: '0' });
    dir = mkdtempSync(join(tmpdir(), 'promoset-docs-'));
  });
  afterAll(async () => {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs every example against a live server without an error answer', async () => {
    const set = await makeSet(service, { applies_to: '12,40,18' });
    const other = await makeSet(service);
    const batch = await generatePromotions(service.core, set, { amount: 5 }, 'test');
    const issued = await generatePromotion(service.core, set, {}, 'test');
    const [batchCode] = await listPromotions(service.core, { batchId: batch.batchId });
    const redemption = await redeemPromotion(service.core, set, { code: batchCode.code }, 'test');
    const env = {
      PROMOSET: service.url,
      SET_URL: localSetUrl(service, set),
      SET_ID: String(other.id),
      BATCH_ID: String(batch.batchId),
      CODE: issued.code,
      REDEMPTION_ID: String(redemption.redemption_id),
      BATCH_SET_ID: String(set.id),
      ADMIN_API_TOKEN: 'docs-admin-token-0123',
      WHMCS_API_IDENTIFIER: 'docs-id',
      WHMCS_API_SECRET: 'docs-secret-0123456789',
    };
    const commands = curlCommands(httpDocs());
    expect(commands.length).toBeGreaterThanOrEqual(20);
    for (const command of commands) {
      const out = await run(command, env, dir);
      if (command.includes('-o codes.csv')) {
        expect(readFileSync(join(dir, 'codes.csv'), 'utf8').trimEnd().split('\n')).toHaveLength(10001);
        continue;
      }
      expect(out.length, command).toBeGreaterThan(0);
      if (out.startsWith('{')) expect(JSON.parse(out).result, `${command}\n${out.slice(0, 300)}`).not.toBe('error');
      else expect(out.startsWith('id,code,'), command).toBe(true);
    }
  });
});
