import type { Logger } from '../log.js';
import type { Core } from '../service/core.js';

/** What every listener group gets from the composition root. */
export interface SlackDeps {
  core: Core;
  logger: Logger;
  jobs: BackgroundJobs;
  /** PROMO_DIGEST_HOUR: the local hour of scheduled digests. */
  digestHour: number;
}

/**
 * Work that runs after ack() (a 100,000-code batch, a file upload). Tracked
 * so shutdown can wait for it instead of closing the database under it.
 */
export interface BackgroundJobs {
  run(name: string, work: () => Promise<void>): void;
  idle(): Promise<void>;
}

export function createBackgroundJobs(logger: Logger): BackgroundJobs {
  const running = new Set<Promise<void>>();
  return {
    run(name, work) {
      const job = work()
        .catch((error) => logger.error('Slack background job failed', { job: name, error: error instanceof Error ? error.stack : String(error) }))
        .finally(() => running.delete(job));
      running.add(job);
    },
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
