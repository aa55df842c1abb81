import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { slackOffMount } from './http/routes/slack-off.js';
import { createHttpServer } from './http/server.js';
import { createLogger, type Logger } from './log.js';
import { repairPendingBatches, syncWhmcsUses } from './service/billing.js';
import { repairPreparedChanges, REPAIR_INTERVAL_MS } from './service/whmcs-two-phase.js';
import { PromoError } from './domain/errors.js';
import { connectWhmcs, whmcsStatus } from './service/whmcs-connection.js';
import { closeCore, coreOptionsFrom, openCore, type Core } from './service/core.js';
import type { Mount } from './service/mount.js';
import { Readiness } from './service/readiness.js';
import { resolveWebhookHost } from './service/webhook-target.js';
import { missingSlackVariables, SLACK_EVENTS_PATH, startSlack, type SlackTransport } from './slack/app.js';
import { databaseState } from './store/db.js';
import { startWebhookDispatcher, type WebhookDispatcher } from './webhooks/dispatcher.js';

/** How often WHMCS's uses are copied over and stranded batches repaired: uses stay fresh within a minute. */
const WHMCS_SYNC_MS = 30_000;

/** How long shutdown waits for in-flight requests before cutting connections. */
export const SHUTDOWN_GRACE_MS = 60_000;

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
export async function startService(config: Config, logger: Logger = createLogger(config.LOG_LEVEL, undefined, config.LOG_FORMAT, config.LOG_BUFFER_BYTES), options: { now?: () => Date } = {}): Promise<RunningService> {
  // `now`: an injected clock (tests of the digest schedule and the chart redraw rule).
  const core = await openCore({ ...coreOptionsFrom(config), ...(options.now ? { now: options.now } : {}) });
  core.faults = testFaults(process.env.PROMOSET_TEST_FAULTS);
  try {
    await checkWhmcsAtStart(core, config, logger);
  } catch (error) {
    await closeCore(core);
    throw error;
  }
  const whmcsLoop = core.whmcs ? await startWhmcsLoop(core, logger) : undefined;
  // Only the database decides readiness: set URLs work without Slack (and WHMCS adds its own line).
  const readiness = new Readiness().add('database', () => databaseState(core.db), { required: true });
  // WHMCS: required only with WHMCS_REQUIRED (reads and GETs work without it), but issuing needs it.
  // "off" (never connected, no WHMCS_DATABASE_URL) is left out, as before.
  readiness.add('whmcs', async () => {
    // Without WHMCS_DATABASE_URL the record decides; promoset's database being down is its own line.
    const status = await whmcsStatus(core).catch(() => (core.whmcs ? undefined : { state: 'off', message: undefined }));
    if (!status) return 'unreachable';
    return status.state === 'off' && !config.WHMCS_REQUIRED ? null : { state: status.state, message: status.message };
  }, { required: config.WHMCS_REQUIRED });
  let slack: SlackTransport | undefined;
  try {
    slack = await startSlack(core, config, logger, readiness);
  } catch (error) {
    whmcsLoop?.stop();
    await closeCore(core);
    throw error;
  }
  // Slack off: its URL still answers, saying what is missing (Slack checks the URL when the app is created).
  const mounts: Mount[] = slack ? slack.mounts : [slackOffMount(SLACK_EVENTS_PATH, missingSlackVariables(config))];
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
 * WHMCS at start-up: connect (the first process records the connection in
 * promoset's database; later ones check they point at the same WHMCS), and
 * say plainly what is wrong. With WHMCS_REQUIRED a problem stops start-up;
 * otherwise the server starts and issuing answers 503 until it is fixed.
 */
async function checkWhmcsAtStart(core: Core, config: Config, logger: Logger): Promise<void> {
  if (!core.whmcs) {
    const status = await whmcsStatus(core);
    if (config.WHMCS_REQUIRED) throw new PromoError('billing_not_configured', 'WHMCS_REQUIRED is true but WHMCS_DATABASE_URL is not set: set it to the WHMCS database (mysql://user:password@host:3306/whmcs), or set WHMCS_REQUIRED=false.');
    if (status.message) logger.error(status.message);
    return;
  }
  try {
    const connected = await connectWhmcs(core, 'server');
    if (connected.recorded) logger.info('promoset\'s database is now connected to WHMCS', { whmcs: core.whmcsLink.target });
    if (connected.unpublished > 0) logger.warn(`${connected.unpublished} promotions were issued before WHMCS was connected and are not in tblpromotions yet (WHMCS's checkout refuses them): run "promoset whmcs backfill"`);
  } catch (error) {
    if (config.WHMCS_REQUIRED || !(error instanceof PromoError)) throw error;
    logger.error(error.message);
  }
}

/**
 * At start-up, then every WHMCS_SYNC_MS: settle batches a crash left between
 * the two databases, and copy WHMCS's uses; and every REPAIR_INTERVAL_MS,
 * settle redemptions and rollbacks a crash left prepared in WHMCS (their row
 * is locked until then). A WHMCS outage is logged, never fatal: the HTTP API
 * keeps serving (issuing answers 503 until it is back).
 */
async function startWhmcsLoop(core: Core, logger: Logger): Promise<{ stop(): Promise<void> }> {
  let running: Promise<void> = Promise.resolve();
  const repairPrepared = async () => {
    try {
      const settled = await repairPreparedChanges(core);
      if (settled.committed + settled.rolledBack > 0) logger.warn('settled redemptions a crash left prepared in WHMCS', { ...settled });
    } catch (error) {
      logger.warn('repairing prepared WHMCS changes failed; retrying shortly', { error: error instanceof Error ? error.message : String(error) });
    }
  };
  const round = async () => {
    await repairPrepared();
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
  // Its own pace, one at a time: a slow uses sync must not hold a locked WHMCS row.
  let repairing: Promise<void> | undefined;
  const fast = setInterval(() => {
    repairing ??= repairPrepared().finally(() => (repairing = undefined));
  }, REPAIR_INTERVAL_MS);
  timer.unref();
  fast.unref();
  return {
    async stop() {
      clearInterval(timer);
      clearInterval(fast);
      await running;
      await repairing;
    },
  };
}

/**
 * PROMOSET_TEST_FAULTS, for crash tests only: `point=kill` (SIGKILL itself) or
 * `point=pause:ms`, comma-separated, at the steps of the two-phase commit
 * with WHMCS (FaultPoint). Unset in production: no hook at all.
 */
function testFaults(spec: string | undefined): Core['faults'] {
  if (!spec) return undefined;
  const actions = new Map(spec.split(',').map((part) => part.split('=') as [string, string]));
  return async (point) => {
    const action = actions.get(point);
    if (action === 'kill') process.kill(process.pid, 'SIGKILL');
    else if (action?.startsWith('pause:')) await new Promise((resolve) => setTimeout(resolve, Number(action.slice(6))));
  };
}
