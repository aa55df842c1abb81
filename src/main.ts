import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import type { Mount } from './http/routing.js';
import { createHttpServer } from './http/server.js';
import { createLogger, type Logger } from './log.js';
import { openCore, type Core } from './service/core.js';
import { Readiness } from './service/readiness.js';
import { startSlack, type SlackTransport } from './slack/app.js';
import { databaseState } from './store/db.js';
import { startWebhookDispatcher, type WebhookDispatcher } from './webhooks/dispatcher.js';

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
  const core = await openCore({
    databaseUrl: config.DATABASE_URL,
    publicUrl: config.PUBLIC_URL,
    timeZone: config.PROMO_TIMEZONE,
    urlSecret: config.URL_SECRET,
    webhooks: { allowPrivateNetworks: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS, retryBaseSeconds: config.WEBHOOK_RETRY_BASE_SECONDS },
  });
  // Only the database decides readiness: set URLs work without Slack (and WHMCS adds its own line).
  const readiness = new Readiness().add('database', () => databaseState(core.db), { required: true });
  let slack: SlackTransport | undefined;
  try {
    slack = await startSlack(core, config, logger, readiness);
  } catch (error) {
    await core.db.destroy();
    throw error;
  }
  const mounts: Mount[] = [...(slack?.mounts ?? [])];
  const server = createHttpServer({ core, config, logger, readiness }, mounts);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const webhooks = startWebhookDispatcher(core, logger);
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
        // Deliveries in flight finish (each bounded by its timeout); the rest wait in the outbox for the next start.
        await webhooks.stop();
        await core.db.destroy();
        logger.info('promoset stopped');
      })();
      return closing;
    },
  };
}
