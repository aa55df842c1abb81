import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startService, type RunningService } from '../../src/main.js';

export interface TestService extends RunningService {
  config: Config;
  stop(): Promise<void>;
}

/** A real server on a free port, on a fresh SQLite file unless `env.DATABASE_URL` says otherwise. */
export async function startTestService(env: Record<string, string> = {}, options: { log?: (line: string) => void; now?: () => Date } = {}): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'promoset-test-'));
  const config = loadConfig({ PORT: '0', DATABASE_URL: join(dir, 'promoset.db'), LOG_LEVEL: 'silent', ...env });
  const service = await startService(config, options.log ? createLogger('debug', options.log) : createLogger('silent'), { now: options.now });
  return {
    ...service,
    config,
    async stop() {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
