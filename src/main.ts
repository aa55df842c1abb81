import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createHttpServer } from './http/server.js';
import { createLogger, type Logger } from './log.js';
import { repairPendingBatches, syncWhmcsUses, whmcsReadiness } from './service/billing.js';
import { closeCore, coreOptionsFrom, openCore, type Core } from './service/core.js';
import type { Mount } from './service/mount.js';
import { Readiness } from './service/readiness.js';
import { resolveWebhookHost } from './service/webhook-target.js';
import { startSlack, type SlackTransport } from './slack/app.js';
import { databaseState } from './store/db.js';
import { startWebhookDispatcher, type WebhookDispatcher } from './webhooks/dispatcher.js';

/** How often WHMCS's uses are copied over and stranded batches repaired: uses stay fresh within a minute. */
const WHMCS_SYNC_MS = 30_000;

/** How long shutdown waits for in-flight requests before cutting connections. */
const SHUTDOWN_GRACE_MS = 60_000;

export interface RunningService {
  core: Core;
  server: Server;
  /** Undefined when Slack is off (no credentials). */
  slack?: SlackTransport;
  /** GET /readyz's probes: one per dependency. */
  readiness: Readiness;
  /** Delivers this instance's (and, polling, other instances') outbox events. */
  webhooks: WebhookDispatcher;
  /** The port actually bound (PORT=0 picks a free one, as tests do). */
  port: number;
  url: string;
  close(): Promise<void>;
}

/** The composition root: the core, then the transports on one HTTP port. */
export async function startService(config: Config, logger: Logger = createLogger(config.LOG_LEVEL, undefined, config.LOG_FORMAT)): Promise<RunningService> {
  const core = await openCore(coreOptionsFrom(config));
  const whmcsLoop = core.whmcs ? await startWhmcsLoop(core, logger) : undefined;
  // Only the database decides readiness: set URLs work without Slack (and WHMCS adds its own line).
  const readiness = new Readiness().add('database', () => databaseState(core.db), { required: true });
  // WHMCS: not required (reads and GETs work without it), but issuing needs it.
  if (core.whmcs) readiness.add('whmcs', async () => ((await whmcsReadiness(core)) === 'ok' ? 'ok' : 'unreachable'));
  let slack: SlackTransport | undefined;
  try {
    slack = await startSlack(core, config, logger, readiness);
  } catch (error) {
    whmcsLoop?.stop();
    await closeCore(core);
    throw error;
  }
  const mounts: Mount[] = [...(slack?.mounts ?? [])];
  const server = createHttpServer({ core, config, logger, readiness }, mounts);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const webhooks = startWebhookDispatcher({ ...core, resolveHost: resolveWebhookHost }, logger);
  logger.info('promoset listening', { port, publicUrl: core.publicUrl, database: config.DATABASE_URL.startsWith('postgres') ? 'postgres' : 'sqlite' });

  let closing: Promise<void> | undefined;
  return {
    core,
    server,
    slack,
    webhooks,
    readiness,
    port,
    url: `http://127.0.0.1:${port}`,
    close() {
      closing ??= (async () => {
        // Stop accepting; let in-flight requests (a 100k batch included) finish.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive sockets go idle as their last response is sent: close them
        // then, so clients open a new connection (to another instance) instead.
        server.closeIdleConnections();
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        const deadline = setTimeout(() => {
          logger.warn('shutdown grace period over: closing remaining connections', { graceMs: SHUTDOWN_GRACE_MS });
          server.closeAllConnections();
        }, SHUTDOWN_GRACE_MS);
        deadline.unref();
        try {
          await closed;
        } finally {
          clearInterval(sweep);
          clearTimeout(deadline);
        }
        // Batches generated after a Slack ack() must finish before the database closes.
        await slack?.stop();
        await whmcsLoop?.stop();
        // Deliveries in flight finish (each bounded by its timeout); the rest wait in the outbox for the next start.
        await webhooks.stop();
        await closeCore(core);
        logger.info('promoset stopped');
      })();
      return closing;
    },
  };
}

/**
 * At start-up, then every WHMCS_SYNC_MS: settle batches a crash left between
 * the two databases, and copy WHMCS's uses. A WHMCS outage is logged, never
 * fatal: the HTTP API keeps serving (issuing answers 503 until it is back).
 */
async function startWhmcsLoop(core: Core, logger: Logger): Promise<{ stop(): Promise<void> }> {
  let running: Promise<void> = Promise.resolve();
  const round = async () => {
    try {
      const repaired = await repairPendingBatches(core);
      if (repaired.finished + repaired.removed > 0) logger.warn('repaired batches left between promoset and WHMCS by a crash', { ...repaired });
      await syncWhmcsUses(core);
    } catch (error) {
      logger.warn('WHMCS repair/uses sync failed; retrying later', { error: error instanceof Error ? error.message : String(error) });
    }
  };
  running = round();
  await running;
  const timer = setInterval(() => {
    running = running.then(round);
  }, WHMCS_SYNC_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
