import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** Helpers that run the built CLI (dist/src/cli.js) as real child processes. */
export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** An environment with nothing of the developer's own promoset settings leaking in. */
export function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(PORT|DATABASE_URL|PUBLIC_URL|URL_SECRET|SLACK_|PROMO_|ADMIN_API_TOKEN|WHMCS_|TRUST_PROXY|RATE_LIMIT|REDEMPTION_RATE_LIMIT|AUTH_FAILURES|LOG_LEVEL|WEBHOOK_)/.test(key)));
  return { ...base, ...env };
}

export function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return collect(spawnCli(args, env));
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  /** Everything the process wrote to stderr so far (its JSON log lines). */
  log(): string;
  exited: Promise<CliResult>;
  /** Send `signal` and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
}

/** `promoset serve` on a free port; resolves once its "promoset listening" log line names the port. */
export function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawnCli(['serve'], { PORT: '0', LOG_LEVEL: 'info', RATE_LIMIT_PER_MINUTE: '0', REDEMPTION_RATE_LIMIT_PER_MINUTE: '0', ...env });
  const exited = collect(child);
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${log}`)), 30_000);
    let started = false;
    child.stderr?.on('data', (chunk: string) => {
      log += chunk;
      if (started) return;
      const match = /"msg":"promoset listening".*?"port":(\d+)/.exec(log);
      if (!match) return;
      started = true;
      clearTimeout(timer);
      const port = Number(match[1]);
      resolve({
        child,
        port,
        url: `http://127.0.0.1:${port}`,
        log: () => log,
        exited,
        stop(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
    exited.then((result) => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening (code ${result.code}):\n${result.stderr}`));
    });
  });
}
