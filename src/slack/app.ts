import type { ServerResponse } from 'node:http';
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, webApi, type Logger as BoltLogger } from '@slack/bolt';
import type { Config } from '../config.js';
import { PromoError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { Core } from '../service/core.js';
import type { Readiness } from '../service/readiness.js';
import { pruneDeliveries } from '../service/deliveries.js';
import { errorReply } from '../service/errors.js';
import type { Mount } from '../service/mount.js';
import * as actions from './actions.js';
import { countAcks, keepReconnecting, type Reconnecting } from './bolt-patches.js';
import * as commands from './commands.js';
import { classifySlackError, SLACK_UNAVAILABLE_TEXT, SlackConnection } from './connection.js';
import { createBackgroundJobs, type SlackDeps } from './deps.js';
import * as events from './events.js';
import { guardSlackRequest, refuse, type Handled } from './request-guard.js';
import { GENERATE_CODES_CALLBACK } from './blocks/codes-modal.js';
import { ACTIONS } from './blocks/messages.js';
import { EDIT_SET_CALLBACK, NEW_SET_CALLBACK } from './blocks/set-modal.js';
import * as access from './access.js';
import * as approvals from './approvals.js';
import { slackDirectory } from './directory.js';
import { describeOwners } from '../service/role-resolution.js';
import * as views from './views.js';
import { startDigests, type DigestRunner } from '../service/digests.js';
import { digestSender } from './charts.js';
import * as shortcuts from './shortcuts.js';
import * as workflowSteps from './workflow-steps.js';
import { ISSUE_CODE_CALLBACK } from './blocks/issue-code-modal.js';

export const SLACK_EVENTS_PATH = '/slack/events';

const HANDLED: Handled = {
  commands: [commands.COMMAND],
  callbackIds: [NEW_SET_CALLBACK, EDIT_SET_CALLBACK, GENERATE_CODES_CALLBACK, access.ACCESS_CALLBACK, approvals.DENY_CALLBACK, ISSUE_CODE_CALLBACK, ...Object.values(shortcuts.SHORTCUTS), ...Object.values(workflowSteps.STEPS)],
  actionIds: [...Object.values(ACTIONS), ...Object.values(approvals.APPROVAL_ACTIONS)],
};

export interface SlackTransport {
  mode: 'http' | 'socket';
  app: App;
  /** Listeners for our own HTTP server (HTTP mode: /slack/events). */
  mounts: Mount[];
  /** Whether Slack answers and accepts our bot token (auth.test, re-checked while it fails). */
  connection: SlackConnection;
  /** This instance's digest scheduler (every instance runs one; a database lease picks the sender). */
  digests: DigestRunner;
  /** Work still running after ack() (large batches, uploads). */
  idle(): Promise<void>;
  /** Expire approval requests older than 24 hours now (also runs every minute). */
  sweepApprovals(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Start the Slack transport, or return undefined (with one log line) when
 * the credentials for neither mode are set: the HTTP API runs either way.
 * HTTP mode mounts Bolt's receiver on our server (no second port); Socket
 * Mode connects out when SLACK_APP_TOKEN is set. Slack being down or
 * refusing the token never fails start-up (SlackConnection); its state is
 * `readiness`'s "slack" probe, which never makes the instance unready.
 */
/** The variables Slack still needs (empty when it can start): a bot token, and a signing secret unless Socket Mode. */
export function missingSlackVariables(config: Pick<Config, 'SLACK_BOT_TOKEN' | 'SLACK_SIGNING_SECRET' | 'SLACK_APP_TOKEN'>): string[] {
  const missing: string[] = [];
  if (!config.SLACK_BOT_TOKEN) missing.push('SLACK_BOT_TOKEN');
  if (config.SLACK_APP_TOKEN === undefined && !config.SLACK_SIGNING_SECRET) missing.push('SLACK_SIGNING_SECRET');
  return missing;
}

export async function startSlack(core: Core, config: Config, logger: Logger, readiness?: Readiness): Promise<SlackTransport | undefined> {
  const token = config.SLACK_BOT_TOKEN;
  const socketMode = config.SLACK_APP_TOKEN !== undefined;
  const missing = missingSlackVariables(config);
  if (!token || missing.length > 0) {
    logger.info(`Slack is off: ${missing.map((name) => (name === 'SLACK_SIGNING_SECRET' ? 'SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)' : name)).join(' and ')} not set. The HTTP API runs without it.`);
    readiness?.add('slack', () => 'off');
    return undefined;
  }

  const jobs = createBackgroundJobs(logger);
  const deps: SlackDeps = { core, logger, jobs, digestHour: config.PROMO_DIGEST_HOUR };
  const boltLogger = toBoltLogger(logger);
  const apiUrl = config.SLACK_API_URL ? config.SLACK_API_URL.replace(/\/*$/, '/') : 'https://slack.com/api/';
  // Our authorize instead of Bolt's `token`: Bolt's start-up auth.test rejects
  // unhandled when Slack is down or refuses the token, and that exits the process.
  const connection = new SlackConnection({ token, apiUrl, logger });
  const authorize = connection.authorize;
  const clientOptions = {
    slackApiUrl: apiUrl,
    // A few quick retries; Bolt's default keeps retrying for half an hour.
    retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 4000 },
    // Every Web API call tells the connection whether Slack still works.
    fetch: connection.fetch,
  };

  let receiver: HTTPReceiver | undefined;
  let app: App;
  let reconnecting: Reconnecting | undefined;
  if (socketMode) {
    const socketReceiver = new SocketModeReceiver({ appToken: config.SLACK_APP_TOKEN!, logger: boltLogger, installerOptions: { clientOptions } });
    reconnecting = keepReconnecting(socketReceiver.client, logger);
    app = new App({ authorize, receiver: socketReceiver, logger: boltLogger, clientOptions });
  } else {
    receiver = new HTTPReceiver({
      signingSecret: config.SLACK_SIGNING_SECRET!,
      endpoints: SLACK_EVENTS_PATH,
      logger: boltLogger,
      // ack() answers Slack at once; listeners keep working after it.
      processBeforeResponse: false,
    });
    app = new App({ authorize, receiver, logger: boltLogger, clientOptions });
  }

  countAcks(app);
  // First of our middleware: while Slack does not work, nothing else runs (it would fail at its first call).
  app.use(async ({ context, body, next, ...args }) => {
    const problem = context.slackProblem as string | undefined;
    if (problem === undefined) return next();
    logger.warn(`A Slack request was not handled: ${problem}`);
    const ack = (args as { ack?: (response?: unknown) => Promise<void> }).ack;
    if (ack) await ack('command' in body ? { response_type: 'ephemeral', text: SLACK_UNAVAILABLE_TEXT } : undefined);
  });
  commands.register(app, deps);
  views.register(app, deps);
  actions.register(app, deps);
  events.register(app, deps);
  access.register(app, deps);
  approvals.register(app, deps);
  shortcuts.register(app, deps);
  workflowSteps.register(app, deps);
  // Roles of user groups and the bootstrap owners come from Slack's directory.
  // Work that no Slack request starts (the directory, the expiry sweep) uses its own client with the bot token.
  const botClient = new webApi.WebClient(token, { ...clientOptions, logger: boltLogger });
  core.access.directory = slackDirectory(botClient, token);
  logger.info(await describeOwners(core).catch(() => 'Owners could not be read from the database yet.'));
  const sweepApprovals = () => approvals.sweepApprovals(deps, botClient);
  const sweeping = setInterval(() => void sweepApprovals().catch((error) => logger.warn('expiring approval requests failed; retrying in a minute', { error: error instanceof Error ? error.message : String(error) })), 60 * 1000);
  sweeping.unref();
  app.error(async (error) => {
    logger.error('Slack listener failed', { error: error instanceof Error ? error.stack : String(error) });
  });

  await pruneDeliveries(core).catch(() => 0);
  const pruning = setInterval(() => void pruneDeliveries(core).catch(() => 0), 60 * 60 * 1000);
  pruning.unref();

  const mounts: Mount[] = [];
  if (receiver) {
    const listener = receiver.requestListener;
    mounts.push({
      path: SLACK_EVENTS_PATH,
      listener: (req, res) => {
        if (req.method !== 'POST') {
          sendErrorReply(res, new PromoError('method_not_allowed', 'Slack posts its requests here; use POST.'), logger);
          return;
        }
        guardSlackRequest(req, config.SLACK_SIGNING_SECRET!, HANDLED)
          .then((verdict) => (verdict.ok ? listener(req, res) : refuse(res, verdict)))
          .catch((error) => {
            // A body we stopped reading (too large) is not drained: close after the answer.
            if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
            sendErrorReply(res, error, logger);
          })
          .catch(() => res.destroy());
      },
    });
  } else {
    try {
      await app.start();
    } catch (error) {
      // Set URLs matter more than Slack: a bad app token or a Slack outage must not keep them down.
      clearInterval(pruning);
      clearInterval(sweeping);
      await app.stop().catch(() => undefined);
      logger.error(`Slack is off: Socket Mode could not connect (${error instanceof Error ? error.message : String(error)}). Check SLACK_APP_TOKEN and SLACK_BOT_TOKEN; the HTTP API runs without Slack.`);
      const { state } = classifySlackError(error);
      readiness?.add('slack', () => state);
      return undefined;
    }
  }
  connection.start();
  readiness?.add('slack', () => connection.state());
  const digests = startDigests(core, { hour: config.PROMO_DIGEST_HOUR }, digestSender(deps, app.client), {
    onError: (error) => logger.warn('a scheduled digest was not sent; the next tick tries again', { error: error instanceof Error ? error.message : String(error) }),
  });
  logger.info('Slack is on', { mode: socketMode ? 'socket' : 'http', ...(socketMode ? {} : { path: SLACK_EVENTS_PATH }) });

  return {
    mode: socketMode ? 'socket' : 'http',
    app,
    mounts,
    connection,
    digests,
    idle: () => jobs.idle(),
    sweepApprovals,
    async stop() {
      clearInterval(pruning);
      clearInterval(sweeping);
      digests.stop();
      reconnecting?.stop();
      connection.stop();
      if (socketMode) await app.stop().catch(() => undefined);
      await jobs.idle();
    },
  };
}

/** Errors on /slack/events, in the API's one error shape (service/errors.ts decides status and body). */
function sendErrorReply(res: ServerResponse, error: unknown, logger: Logger): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const reply = errorReply(error);
  if (reply.unexpected) logger.error('unhandled error on /slack/events', { error: error instanceof Error ? error.stack : String(error) });
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...reply.headers });
  res.end(text);
}

/** Bolt and its Web API client log through ours (which never prints tokens: the client redacts them). */
function toBoltLogger(logger: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const text = (args: unknown[]) => args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(' ').slice(0, 2000);
  return {
    debug: (...args) => logger.debug(`slack: ${text(args)}`),
    info: (...args) => logger.info(`slack: ${text(args)}`),
    warn: (...args) => logger.warn(`slack: ${text(args)}`),
    error: (...args) => logger.error(`slack: ${text(args)}`),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
