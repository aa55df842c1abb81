import { claimDelivery } from '../service/deliveries.js';
import type { SlackDeps } from './deps.js';

/**
 * The id Slack gives one delivery, the same in its retries (X-Slack-Retry-Num)
 * and replays: the event_id of an event, the trigger_id of a command or a
 * button press (with the action's timestamp). Modal submissions use the view
 * id (views.ts).
 */
export function deliveryKey(body: Record<string, unknown>): string | undefined {
  if (body.type === 'event_callback' && typeof body.event_id === 'string') return `event:${body.event_id}`;
  if (typeof body.command === 'string' && typeof body.trigger_id === 'string') return `command:${body.trigger_id}`;
  if (body.type === 'block_actions' && typeof body.trigger_id === 'string') {
    const [first] = (body.actions as { action_ts?: string }[] | undefined) ?? [];
    return `action:${body.trigger_id}:${first?.action_ts ?? ''}`;
  }
  return undefined;
}

/**
 * Called right after ack(): true for the first delivery of its key, false for
 * a retry or replay, which is then dropped. The claim is a database write, so
 * it comes after ack: on SQLite a large batch holds the write lock, and Slack
 * must still get its answer at once.
 */
export async function firstDelivery(deps: SlackDeps, body: object): Promise<boolean> {
  const key = deliveryKey(body as Record<string, unknown>);
  if (key === undefined) return true;
  if (await claimDelivery(deps.core, key)) return true;
  deps.logger.info('duplicate Slack delivery acknowledged, not processed', { kind: key.split(':')[0] });
  return false;
}
