/**
 * The two places where promoset changes Bolt's objects in place, kept here
 * alone because neither has a supported extension point in @slack/bolt 5:
 * global middleware gets a copy of the listener arguments (so it cannot wrap
 * ack() for the listeners), and the Socket Mode client has no option to keep
 * retrying apps.connections.open after a failed reconnect.
 *
 * Checked against the versions in CHECKED_AGAINST, which rely on:
 * - HTTPReceiver and SocketModeReceiver calling `this.app.processEvent(event)`
 *   for every request (so wrapping app.processEvent sees every ack);
 * - SocketModeClient reconnecting through `this.delayReconnectAttempt(this.start)`,
 *   which reads `start` from the instance at call time (so our `start` is used).
 * test/slack/bolt-patches.test.ts fails when either version or either call
 * changes: re-check both patches then, and update CHECKED_AGAINST.
 */
import type { App, ReceiverEvent, SocketModeReceiver } from '@slack/bolt';
import type { Logger } from '../log.js';
import { slackAcks } from '../metrics.js';

export const CHECKED_AGAINST = { '@slack/bolt': '5.1.0', '@slack/socket-mode': '3.1.0' } as const;

/**
 * Count every ack() Slack receives, by kind. Both receivers (HTTP and Socket
 * Mode) hand each request to app.processEvent with its ack function; wrapping
 * it there sees every ack, whichever listener (or Bolt itself) sends it.
 */
export function countAcks(app: App): void {
  const processEvent = app.processEvent.bind(app);
  app.processEvent = (event: ReceiverEvent) => {
    const ack = event.ack;
    const kind = ackKind(event.body);
    let counted = false;
    return processEvent({
      ...event,
      ack: async (response) => {
        if (!counted) slackAcks.inc({ kind });
        counted = true;
        return ack(response);
      },
    });
  };
}

function ackKind(body: Record<string, unknown>): string {
  if (typeof body.command === 'string') return 'command';
  switch (body.type) {
    case 'block_actions':
      return 'action';
    case 'view_submission':
    case 'view_closed':
      return 'view';
    case 'block_suggestion':
      return 'options';
    case 'event_callback':
      return 'event';
    case 'shortcut':
    case 'message_action':
      return 'shortcut';
    default:
      return 'other';
  }
}

export interface Reconnecting {
  stop(): void;
}

type SocketModeClient = SocketModeReceiver['client'];

/**
 * The Socket Mode client reconnects by itself when Slack drops the socket,
 * but gives up when apps.connections.open then fails with an HTTP or network
 * error (a Slack outage), and its promise rejects unhandled, which would end
 * the process and the HTTP API with it. Once connected, a failed reconnect is
 * retried with jittered backoff (up to a minute) for as long as we run. The
 * first connection still fails fast: startSlack reports it and runs without Slack.
 */
export function keepReconnecting(client: SocketModeClient, logger: Logger): Reconnecting {
  const start = client.start.bind(client);
  let connected = false;
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  client.start = async () => {
    try {
      const opened = await start();
      if (failures > 0) logger.info('Slack Socket Mode reconnected', { attempts: failures + 1 });
      connected = true;
      failures = 0;
      return opened;
    } catch (error) {
      if (!connected || stopped) throw error;
      failures += 1;
      const delayMs = Math.round(Math.min(60_000, 1000 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2));
      logger.warn(`Slack Socket Mode could not reconnect (${error instanceof Error ? error.message : String(error)}); trying again in ${Math.ceil(delayMs / 1000)} s. Check that Slack is reachable and SLACK_APP_TOKEN is valid; the HTTP API keeps running.`);
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!stopped) void client.start();
      }, delayMs);
      timer.unref();
      return undefined as unknown as Awaited<ReturnType<SocketModeClient['start']>>;
    }
  };
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
