import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { generatePromotion } from '../../src/service/generate.js';
import { createSet } from '../../src/service/sets.js';
import { resendDelivery, webhookOverview } from '../../src/service/webhooks.js';
import { resolveWebhookHost } from '../../src/service/webhook-target.js';
import { startWebhookDispatcher, type WebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * The dispatcher against a clock the test moves: the 24-hour retry window
 * ends in `failed`, a resend gets another 24 hours, and a receiver that never
 * answers is cut off by the timeout and retried.
 */
describeEachDialect('webhook dispatcher', (dialect) => {
  let clock = Date.parse('2030-01-01T00:00:00.000Z');
  const ctx = useTestCore(dialect, { now: () => new Date(clock) });
  let receiver: WebhookReceiver;
  let dispatcher: WebhookDispatcher;
  beforeAll(async () => {
    receiver = await startWebhookReceiver('', { nowMs: () => clock });
    ctx.core.webhooks.allowPrivateNetworks = true;
    ctx.core.webhooks.retryBaseSeconds = 60;
    dispatcher = startWebhookDispatcher({ ...ctx.core, resolveHost: resolveWebhookHost }, createLogger('silent'), { pollMs: 50, timeoutMs: 300 });
  });
  afterAll(async () => {
    await dispatcher?.stop();
    await receiver?.close();
  });

  const overview = (setId: number) => webhookOverview(ctx.core, setId);
  async function until(setId: number, ok: (o: Awaited<ReturnType<typeof overview>>) => boolean, what: string) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const o = await overview(setId);
      if (ok(o)) return o;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(o.deliveries)}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it('retries with exponential backoff, gives up after 24 hours, and a resend delivers it', async () => {
    const set = await createSet(ctx.core, { name: 'Window', webhook_url: receiver.url }, 'test');
    receiver.setSecret(set.webhook_secret!);
    receiver.fail(true);
    await generatePromotion(ctx.core, set, {}, 'test');
    const first = await until(set.id, (o) => o.deliveries[0]?.attempts === 1, 'the first attempt');
    // Due 60 s (the base) after the failed attempt, not before.
    expect(first.deliveries[0].next_attempt_at).toBe('2030-01-01T00:01:00.000Z');
    clock += 61_000;
    dispatcher.wake();
    const second = await until(set.id, (o) => o.deliveries[0]?.attempts === 2, 'the second attempt');
    expect(second.deliveries[0].next_attempt_at).toBe(new Date(clock + 120_000).toISOString());
    clock += 25 * 3600_000;
    dispatcher.wake();
    const failed = await until(set.id, (o) => o.deliveries[0]?.status === 'failed', 'giving up');
    expect(failed.deliveries[0]).toMatchObject({ status: 'failed', attempts: 3, last_status: 500, next_attempt_at: null, last_error: 'The receiver answered HTTP 500.' });
    expect(failed.counts).toEqual({ pending: 0, delivered: 0, failed: 1 });

    receiver.fail(false);
    await resendDelivery(ctx.core, set.id, failed.deliveries[0].event_id, 'test');
    const delivered = await until(set.id, (o) => o.deliveries[0]?.status === 'delivered', 'the resent event');
    expect(delivered.deliveries[0]).toMatchObject({ attempts: 1, last_status: 204, last_error: null });
    expect(receiver.events.get(failed.deliveries[0].event_id)?.deliveries).toBe(1);
  });

  it('a receiver that never answers is cut off by the timeout and retried', async () => {
    const set = await createSet(ctx.core, { name: 'Silent', webhook_url: receiver.url }, 'test');
    receiver.setSecret(set.webhook_secret!);
    receiver.hang(true);
    await generatePromotion(ctx.core, set, {}, 'test');
    const timedOut = await until(set.id, (o) => o.deliveries[0]?.attempts === 1, 'a timed-out attempt');
    expect(timedOut.deliveries[0]).toMatchObject({ status: 'pending', last_error: 'No answer within 0.3 s.', last_status: null });
    receiver.hang(false);
    clock += 61_000;
    dispatcher.wake();
    await until(set.id, (o) => o.deliveries[0]?.status === 'delivered', 'delivery after the receiver answers again');
  });
});
