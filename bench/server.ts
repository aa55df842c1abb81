import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Peak resident memory since the last reset, from the kernel's high-water mark. */
  peakRss(): number;
  resetPeakRss(): void;
  stop(): Promise<void>;
}

/**
 * promoset in its own process, so the load generator and the server don't
 * share a core. Its log (one access line a request) goes to a file, as to a
 * log collector: a pipe read by this busy process would fill and block the
 * server's synchronous stderr writes, measuring the bench instead of promoset.
 */
export async function startServerProcess(env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'promoset-bench-log-'));
  const logFile = join(dir, 'server.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve'], {
    // One load generator is one client address: the per-client limits would answer it 429 and the bench
    // would time refusals. BENCH_RATE_LIMIT measures the limiters' cost (shared through PostgreSQL there).
    env: {
      ...process.env, PORT: '0', LOG_LEVEL: 'info',
      RATE_LIMIT_PER_MINUTE: process.env.BENCH_RATE_LIMIT ?? '0', REDEMPTION_RATE_LIMIT_PER_MINUTE: process.env.BENCH_RATE_LIMIT ?? '0',
      ...env,
    },
    stdio: ['ignore', 'ignore', fd],
  });
  closeSync(fd);
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const port = await new Promise<number>((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`server exited (${code}): ${readFileSync(logFile, 'utf8').slice(0, 2000)}`));
    child.once('exit', exited);
    const poll = setInterval(() => {
      const match = /"port":(\d+)/.exec(readFileSync(logFile, 'utf8'));
      if (!match) return;
      clearInterval(poll);
      child.off('exit', exited);
      resolve(Number(match[1]));
    }, 20);
    child.once('exit', () => clearInterval(poll));
  });
  const status = () => readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    peakRss: () => Number(/VmHWM:\s+(\d+) kB/.exec(status())?.[1] ?? 0) * 1024,
    resetPeakRss: () => {
      try {
        writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
      } catch {
        // Not permitted here: the figure is then the peak since start.
      }
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const FLOORS = { setpost: 'floor.js', redeem: 'redeem-floor.js' } as const;

/** bench/floor.ts (or redeem-floor.ts) in its own process, on a database promoset's migrations made. */
export async function startFloorProcess(databaseUrl: string, which: keyof typeof FLOORS = 'setpost'): Promise<ServerProcess> {
  const floor = fileURLToPath(new URL(`./${FLOORS[which]}`, import.meta.url));
  const child = spawn(process.execPath, [floor], { env: { ...process.env, FLOOR_DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const match = /"port":(\d+)/.exec(buffered);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`floor exited (${code}): ${buffered}`)));
  });
  child.stdout!.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    peakRss: () => 0,
    resetPeakRss: () => {},
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
