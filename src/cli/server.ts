/** `promoset serve` (the HTTP server, and Slack when configured, until a signal) and `promoset migrate`. */
import type { Config } from '../config.js';
import { createLogger } from '../log.js';
import { SHUTDOWN_GRACE_MS, startService } from '../main.js';
import { migrateDatabase } from '../service/core.js';
import { out } from './context.js';

/** After the requests' grace period: webhook deliveries (10 s each), Slack batches and closing the databases. */
const SHUTDOWN_AFTER_GRACE_MS = 30_000;

/** Starts the service; answers -1: the process keeps running until SIGTERM or SIGINT. */
export async function serveCommand(config: Config): Promise<number> {
  // One logger for the service and its shutdown, so LOG_FORMAT=json logs stay JSON to the last line.
  const logger = createLogger(config.LOG_LEVEL, undefined, config.LOG_FORMAT, config.LOG_BUFFER_BYTES);
  const service = await startService(config, logger);
  const stop = (signal: string) => {
    logger.info(`${signal}: no new connections; finishing in-flight requests and batches, then exiting`, { signal });
    // The grace period bounds the requests; this bounds everything after them (a database cut mid-shutdown, say).
    setTimeout(() => {
      logger.error('Shutdown did not finish in time; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS + SHUTDOWN_AFTER_GRACE_MS).unref();
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`Error while shutting down: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  // A second signal while draining is ignored; the grace period bounds the wait.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));
  return -1; // keep running
}

export async function migrateCommand(config: Config): Promise<number> {
  const ran = await migrateDatabase(config.DATABASE_URL);
  out(ran.length ? `Applied: ${ran.join(', ')}` : 'The database is up to date.');
  return 0;
}
