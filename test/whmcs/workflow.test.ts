import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSet } from '../../src/service/sets.js';
import type { RecordedCall } from '../support/fake-slack.js';
import { ADMIN, startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';
import { functionExecuted } from '../support/workflow.js';
import { waitFor } from '../support/wait-for.js';

async function stepEnd(harness: SlackHarness, callbackId: string, inputs: Record<string, unknown>): Promise<RecordedCall> {
  const { event, executionId } = functionExecuted(callbackId, inputs);
  expect((await harness.event(event)).status).toBe(200);
  const end = await waitFor(() => harness.fake.calls.find((c) => c.method.startsWith('functions.complete') && c.body.function_execution_id === executionId), (call) => call !== undefined, `step ${executionId} to end`, { timeoutMs: 60_000, intervalMs: 20 });
  return end!;
}

describeWithWhmcs('Workflow steps with the WHMCS sink (real MariaDB)', () => {
  const holder = useWhmcsDatabase();
  let slack: SlackHarness;
  let down: SlackHarness;

  beforeAll(async () => {
    slack = await startSlackHarness({ WHMCS_DATABASE_URL: holder.whmcs.url });
    down = await startSlackHarness({ WHMCS_DATABASE_URL: 'mysql://root@127.0.0.1:1/whmcs' });
    await createSet(slack.service.core, { name: 'Flow Whmcs', promo_value: '15' }, 'cli:test');
    await createSet(down.service.core, { name: 'Flow Down', promo_value: '15' }, 'cli:test');
  });
  afterAll(async () => {
    await slack?.stop();
    await down?.stop();
  });

  it('issue_promo_code returns the code\'s tblpromotions row id as whmcs_id', async () => {
    const end = await stepEnd(slack, 'issue_promo_code', { set: 'Flow Whmcs', requested_by: ADMIN });
    expect(end.method).toBe('functions.completeSuccess');
    const { code, whmcs_id: whmcsId, promotion_id: promotionId, expiration_date: expiry } = end.body.outputs;
    const [row] = await holder.whmcs.rows<{ id: number; code: string; expirationdate: string }>('select id, code, expirationdate from tblpromotions where code = ?', [code]);
    expect(row).toMatchObject({ id: whmcsId, code });
    // With WHMCS, the id every reply shows is WHMCS's.
    expect(promotionId).toBe(row.id);
    expect(expiry).toBe(row.expirationdate);
  });

  it('with WHMCS unreachable both issuing steps fail with a sentence and keep nothing', async () => {
    for (const [callbackId, inputs] of [['issue_promo_code', {}], ['issue_promo_codes', { amount: 50 }]] as const) {
      const end = await stepEnd(down, callbackId, { set: 'Flow Down', requested_by: ADMIN, ...inputs });
      expect(end.method).toBe('functions.completeError');
      expect(end.body.error).toContain('The billing system (WHMCS) could not be reached');
    }
    const n = await down.service.core.db.selectFrom('promotions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(0);
  });
});
