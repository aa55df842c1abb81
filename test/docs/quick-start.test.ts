import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { ROOT, startServerProcess, type ServerProcess } from '../support/processes.js';

/**
 * The README's quick start, run as written: its own lines, read from the
 * README, against a fresh server. Step 1 (`… npm start`) is started as a
 * process with that line's variables; the rest run in one bash session, as
 * a person pastes them into a second terminal. Two things differ from a
 * person's run, both for isolation: the database is a fresh one (not
 * ./data), and the server listens on a free port, so "localhost:3000" in the
 * lines becomes that port (and PORT tells the CLI, as the README says).
 */
interface QuickStart {
  steps: string[];
  commands: string[];
}

function readQuickStart(): QuickStart {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Quick start\n');
  if (start === -1) throw new Error('README.md has no "## Quick start" section');
  // Right after the README's two commands: the first section.
  expect(readme.indexOf('\n## ')).toBe(start);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))?.[1];
  if (!block) throw new Error('the quick start has no ```sh block');
  const lines = block.split('\n').filter((line) => line.trim() !== '');
  return { steps: lines.filter((line) => /^# \d+\. /.test(line)), commands: lines.filter((line) => !line.startsWith('#')) };
}

/** `A=1 B=two npm start` -> { A: '1', B: 'two' } */
function assignments(line: string): Record<string, string> {
  const words = line.split(/\s+/);
  expect(words.slice(-2)).toEqual(['npm', 'start']);
  return Object.fromEntries(words.slice(0, -2).map((word) => {
    const at = word.indexOf('=');
    expect(at, word).toBeGreaterThan(0);
    return [word.slice(0, at), word.slice(at + 1)];
  }));
}

function bash(script: string, env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-eo', 'pipefail', '-c', script], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`)) : resolve({ stdout, stderr }),
    );
  });
}

describe("the README's quick start", () => {
  const quickStart = readQuickStart();
  let database: TestDatabase;
  let server: ServerProcess;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
  });
  afterAll(async () => {
    await server?.stop();
    await database.drop();
  });

  it('has at most 6 numbered steps, from serving to Slack', () => {
    expect(quickStart.steps.length).toBeGreaterThanOrEqual(4);
    expect(quickStart.steps.length).toBeLessThanOrEqual(6);
    expect(quickStart.steps.map((step) => Number(/^# (\d+)\./.exec(step)![1]))).toEqual(quickStart.steps.map((_, i) => i + 1));
    expect(quickStart.steps.at(-1)).toMatch(/Slack/);
    // `npm start` is what the first step runs: the test starts the same command.
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start).toBe('node dist/src/cli.js serve');
  });

  it('runs as written: create a set, get a code over HTTP, see it in GetPromotions', async () => {
    const [serve, ...rest] = quickStart.commands;
    server = await startServerProcess({ ...assignments(serve), DATABASE_URL: database.url });
    const lines = rest.map((line) => line.replaceAll('localhost:3000', `localhost:${server.port}`));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    // One bash session, a marker before each line so each line's output can be told apart.
    const script = lines.map((line, i) => `echo "@@line ${i}"\n${line}\necho`).join('\n');
    const { stdout } = await bash(script, { DATABASE_URL: database.url, PORT: String(server.port) });
    const outputs = stdout.split(/^@@line \d+\n/m).slice(1).map((text) => text.trim());
    expect(outputs).toHaveLength(lines.length);

    const [created, issued, listed] = outputs;
    expect(created).toMatch(new RegExp(`^http://localhost:${server.port}/sets/[A-Z0-9]{25}-1-[0-9a-f]{32}$`));
    const promotion = JSON.parse(issued);
    // The defaults the README documents: Percentage 10.00, max_uses 1.
    expect(promotion).toMatchObject({ id: 1, code: expect.stringMatching(/^[A-Z0-9]{8}$/), type: 'Percentage', value: '10.00', maxuses: 1, uses: 0 });
    const answer = JSON.parse(listed);
    expect(answer).toMatchObject({ result: 'success', totalresults: 1 });
    expect(answer.promotions.promotion).toEqual([promotion]);
    expect(server.log()).not.toMatch(/"level":"(error|fatal)"/);
  });
});
