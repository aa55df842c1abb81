import { afterEach, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { generatePromotion } from '../../src/service/generate.js';
import { createSet } from '../../src/service/sets.js';
import { resolveWebhookHost } from '../../src/service/webhook-target.js';
import { inWriteTransaction } from '../../src/store/transactions.js';
import { insertEvents, outboxRow } from '../../src/store/outbox.js';
import { startWebhookDispatcher, type WebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { describeEachDialect, useTestCore } from '../support/databases.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Fair dispatch (issue 22): one set's backlog, or its receiver hanging until
 * the 10 s timeout, must not hold another set's event. Set B's event must
 * arrive within 2 s (a bounded wait: the contract, not a speed measurement).
 * PostgreSQL runs 3 dispatchers at once, as 3 instances would, and the cap on
 * deliveries in flight per receiver holds across them.
 */
const BACKLOG = 100_000;
const PER_RECEIVER = 4;

describeEachDialect('fair webhook dispatch', (dialect) => {
  const ctx = useTestCore(dialect);
  const instances = dialect === 'postgres' ? 3 : 1;
  let dispatchers: WebhookDispatcher[] = [];
  let receivers: WebhookReceiver[] = [];
  afterEach(async () => {
    for (const r of receivers) r.hang(false);
    await Promise.all(dispatchers.map((d) => d.stop()));
    await Promise.all(receivers.map((r) => r.close()));
    dispatchers = [];
    receivers = [];
  }, 30_000);

  async function twoSets(name: string) {
    ctx.core.webhooks.allowPrivateNetworks = true;
    const [a, b] = [await startWebhookReceiver(), await startWebhookReceiver()];
    receivers.push(a, b);
    const setA = await createSet(ctx.core, { name: `${name} A`, webhook_url: a.url }, 'test');
    const setB = await createSet(ctx.core, { name: `${name} B`, webhook_url: b.url }, 'test');
    a.setSecret(setA.webhook_secret!);
    b.setSecret(setB.webhook_secret!);
    return { a, b, setA, setB };
  }

  /** `count` pending events of set A, written straight into the outbox (as a flood of voids once did). */
  async function backlog(setId: number, count: number) {
    const createdAt = new Date().toISOString();
    for (let from = 0; from < count; from += 10_000) {
      await inWriteTransaction(ctx.core.db, async (trx) => {
        for (let i = from; i < Math.min(count, from + 10_000); i += 1000) {
          await insertEvents(trx, Array.from({ length: Math.min(1000, count - i) }, (_, k) => outboxRow(setId, 'promotion.voided', { promotion: { code: `FLOOD${i + k}` } }, createdAt)));
        }
      });
    }
  }

  const start = () => {
    dispatchers = Array.from({ length: instances }, () => startWebhookDispatcher({ ...ctx.core, resolveHost: resolveWebhookHost }, createLogger('silent'), { pollMs: 1000, timeoutMs: 10_000, perReceiver: PER_RECEIVER }));
  };

  it(`set A holds ${BACKLOG.toLocaleString('en')} pending events: set B's event still arrives within 2 s`, async () => {
    const { a, b, setA, setB } = await twoSets('Backlog');
    await backlog(setA.id, BACKLOG);
    start();
    await a.waitFor((r) => r.events.size >= 20, 'set A\'s backlog flowing');
    const promotion = await generatePromotion(ctx.core, setB, {}, 'test');
    await b.waitFor((r) => r.ofType('promotions.issued').some((e) => e.body.data.promotions[0].code === promotion.code), 'set B\'s event', 2000);
    expect(b.rejected).toEqual([]);
    // A is still working through its backlog, never more than the cap at once over every instance.
    expect(a.events.size).toBeLessThan(BACKLOG);
    expect(a.maxInFlight).toBeLessThanOrEqual(PER_RECEIVER);
    expect(a.maxInFlight).toBeGreaterThan(0);
  }, 120_000);

  it('set A\'s receiver hangs (10 s timeout): set B\'s event still arrives within 2 s; A holds at most its cap', async () => {
    const { a, b, setA, setB } = await twoSets('Hanging');
    a.hang(true);
    await backlog(setA.id, 200);
    start();
    await a.waitFor((r) => r.inFlight >= PER_RECEIVER, 'set A\'s deliveries hanging');
    const promotion = await generatePromotion(ctx.core, setB, {}, 'test');
    await b.waitFor((r) => r.ofType('promotions.issued').some((e) => e.body.data.promotions[0].code === promotion.code), 'set B\'s event', 2000);
    expect(a.maxInFlight).toBe(PER_RECEIVER);
    expect(a.events.size).toBe(0);
  }, 120_000);

  it('a failing receiver is probed one delivery at a time; its events back off and another set\'s flow', async () => {
    const { a, b, setA, setB } = await twoSets('Failing');
    a.fail(true);
    await backlog(setA.id, 50);
    start();
    await a.waitFor((r) => r.failedRequests >= 3, 'failed attempts at set A');
    const promotion = await generatePromotion(ctx.core, setB, {}, 'test');
    await b.waitFor((r) => r.ofType('promotions.issued').some((e) => e.body.data.promotions[0].code === promotion.code), 'set B\'s event', 2000);
    // The receiver answers before the dispatcher records the failure: its count catches up within moments.
    const failures = () => ctx.core.db.selectFrom('webhook_receivers').select('failures').where('set_id', '=', setA.id).executeTakeFirstOrThrow().then((r) => Number(r.failures));
    expect(await waitFor(failures, (n) => n >= 3, 'three failures recorded for set A\'s receiver', { timeoutMs: 5000 })).toBeGreaterThanOrEqual(3);
    // After the first failure A gets one delivery in flight at a time (the first round may have sent up to the cap).
    const tried = await ctx.core.db.selectFrom('webhook_events').select((eb) => eb.fn.countAll().as('n')).where('set_id', '=', setA.id).where('attempts', '>', 0).executeTakeFirstOrThrow();
    expect(Number(tried.n)).toBeGreaterThanOrEqual(3);
    a.fail(false);
    // Healthy again: its probation ends with the next success.
    await a.waitFor((r) => r.events.size >= 5, 'set A delivering again', 30_000);
    const healed = await ctx.core.db.selectFrom('webhook_receivers').select('failures').where('set_id', '=', setA.id).executeTakeFirstOrThrow();
    expect(Number(healed.failures)).toBe(0);
  }, 120_000);
});
