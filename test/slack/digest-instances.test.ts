import { afterAll, beforeAll, expect, it } from 'vitest';
import { generatePromotions } from '../../src/service/generate.js';
import { createSet } from '../../src/service/sets.js';
import { claimDigest } from '../../src/store/digests.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/databases.js';
import { ADMIN, CHANNEL, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

/**
 * The digest is sent once per period by N instances on one database: two
 * instances tick together while an injected clock crosses 09:00 twice (two
 * days), one instance is replaced by a fresh one in between (a restart), and a
 * sender that died holding the lease delays the digest only until the lease
 * runs out.
 */
describeEachDialect('scheduled digest across instances', (dialect) => {
  let database: TestDatabase;
  let clock = new Date('2026-12-03T08:00:00Z');
  const now = () => clock;
  const instances: SlackHarness[] = [];
  const start = async () => {
    const instance = await startSlackHarness({ DATABASE_URL: database.url, PROMO_DIGEST_HOUR: '9' }, { now });
    instances.push(instance);
    return instance;
  };
  /** Digests posted to CHANNEL, across every instance's fake Slack. */
  const digestsPosted = () =>
    instances.flatMap((i) => i.fake.callsOf('chat.postMessage')).filter((c) => c.body.channel === CHANNEL && String(c.body.text).startsWith('Daily promo digest')).map((c) => String(c.body.text).slice(0, 29)).sort();

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
  });
  afterAll(async () => {
    for (const instance of instances) await instance.stop().catch(() => undefined);
    await database?.drop();
  });

  it('two instances send each day\'s digest once, across a restart, and after a dead sender\'s lease runs out', async () => {
    const a = await start();
    let b = await start();
    const set = await createSet(a.service.core, { name: 'Shared Sale', promo_value: '10' }, `slack:${ADMIN}`);
    await generatePromotions(a.service.core, set, { amount: 5 }, `slack:${ADMIN}`);

    const { res, responseUrl } = await a.command(`digest <#${CHANNEL}|promos> daily`);
    expect(res.status).toBe(200);
    expect((await a.replyTo(responseUrl)).body.text).toContain('gets a daily promo digest every day at 09:00 UTC');

    const tickBoth = async () => (await Promise.all([a.service.slack!.digests.tick(), b.service.slack!.digests.tick()])).flat();

    clock = new Date('2026-12-03T08:59:00Z');
    expect(await tickBoth()).toEqual([]);
    clock = new Date('2026-12-03T09:00:10Z');
    expect(await tickBoth()).toEqual([CHANNEL]);
    expect(await tickBoth()).toEqual([]);
    expect(digestsPosted()).toEqual(['Daily promo digest 2026-12-03']);

    // A restart: b goes away, c comes up on the same database; nothing is sent again that day.
    await b.stop();
    b = await start();
    clock = new Date('2026-12-03T15:00:00Z');
    expect(await tickBoth()).toEqual([]);

    // The hour again, the next day: once more, and only once.
    clock = new Date('2026-12-04T08:59:59Z');
    expect(await tickBoth()).toEqual([]);
    clock = new Date('2026-12-04T09:00:01Z');
    expect(await tickBoth()).toEqual([CHANNEL]);
    expect(await tickBoth()).toEqual([]);
    expect(digestsPosted()).toEqual(['Daily promo digest 2026-12-03', 'Daily promo digest 2026-12-04']);

    // Day three: an instance takes the lease and dies before sending. Nobody sends while it holds the lease...
    clock = new Date('2026-12-05T09:00:00Z');
    expect(await claimDigest(a.service.core.db, CHANNEL, '2026-12-05', 'crashed-instance', clock.toISOString(), new Date(clock.getTime() + 5 * 60_000).toISOString())).toBe(true);
    expect(await tickBoth()).toEqual([]);
    // ...and once it has run out, exactly one instance does.
    clock = new Date('2026-12-05T09:06:00Z');
    expect(await tickBoth()).toEqual([CHANNEL]);
    expect(await tickBoth()).toEqual([]);
    expect(digestsPosted()).toEqual(['Daily promo digest 2026-12-03', 'Daily promo digest 2026-12-04', 'Daily promo digest 2026-12-05']);
  });
});
