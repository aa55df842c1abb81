import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSet } from '../../src/service/sets.js';
import { startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';

const replyText = (call: { body: Record<string, any> }) => `${call.body.text}\n${JSON.stringify(call.body.blocks ?? [])}`;

describeWithWhmcs('Slack with the WHMCS sink (real MariaDB)', () => {
  const holder = useWhmcsDatabase();
  let slack: SlackHarness;
  let down: SlackHarness;

  beforeAll(async () => {
    slack = await startSlackHarness({ WHMCS_DATABASE_URL: holder.whmcs.url });
    down = await startSlackHarness({ WHMCS_DATABASE_URL: 'mysql://root@127.0.0.1:1/whmcs' });
    await createSet(slack.service.core, { name: 'Slack Whmcs', promo_value: '15' }, 'cli:test');
    await createSet(down.service.core, { name: 'Slack Down', promo_value: '15' }, 'cli:test');
  });
  afterAll(async () => {
    await slack?.stop();
    await down?.stop();
  });

  async function ask(harness: SlackHarness, text: string): Promise<string> {
    const { res, responseUrl } = await harness.command(text);
    expect(res.status).toBe(200);
    return replyText(await harness.replyTo(responseUrl));
  }

  it('/promo code: the code is in tblpromotions, and the message shows its row id', async () => {
    const reply = await ask(slack, 'code Slack Whmcs name=slackw');
    const code = /slackw-[A-Z0-9]+/.exec(reply)?.[0];
    expect(code).toBeDefined();
    const [row] = await holder.whmcs.rows<{ id: number; code: string; value: string }>('select id, code, value from tblpromotions where code = ?', [code]);
    expect(row).toMatchObject({ code, value: '15.00' });
    expect(reply).toContain(`id ${row.id}`);
  });

  it('/promo code and /promo void on a connected database without WHMCS_DATABASE_URL: the sentence naming the variable, nothing issued', async () => {
    // Another server on the WHMCS harness's own database, without the variable.
    const lone = await startSlackHarness({ DATABASE_URL: slack.service.config.DATABASE_URL });
    try {
      const before = await lone.service.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      const reply = await ask(lone, 'code Slack Whmcs');
      expect(reply).toContain('WHMCS_DATABASE_URL is not set in this process, so no code was issued');
      const after = await lone.service.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(Number(before.n));
      const [row] = await lone.service.core.db.selectFrom('promotions').select('code').execute();
      expect(await ask(lone, `void ${row.code}`)).toContain('WHMCS_DATABASE_URL is not set in this process, so nothing was voided');
    } finally {
      await lone.stop();
    }
  });

  it('/promo code with WHMCS unreachable says so in a sentence, and keeps nothing', async () => {
    const reply = await ask(down, 'code Slack Down');
    expect(reply).toContain('The billing system (WHMCS) could not be reached, so no code was issued');
    const n = await down.service.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(0);
  });
});
