import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkInvariants, type Ledger } from '../../chaos/invariants.js';
import { closeCore, openCore, type Core } from '../../src/service/core.js';
import { generatePromotions } from '../../src/service/generate.js';
import { listPromotions } from '../../src/service/promotions.js';
import { redeemPromotion } from '../../src/service/redemptions.js';
import { createSet } from '../../src/service/sets.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/databases.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';

/**
 * The chaos run's invariant checker (chaos/invariants.ts) must catch what it
 * claims to: here it passes on a consistent history, then a code is deleted
 * from tblpromotions behind promoset's back, a use is counted that no client
 * was told of, and a plain 500 is recorded; each shows up as a broken row.
 */
describeWithWhmcs('chaos invariant checker (real MariaDB)', () => {
  describeEachDialect('on a real history', (dialect) => {
    const holder = useWhmcsDatabase();
    let database: TestDatabase;
    let core: Core;
    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      core = await openCore({ databaseUrl: database.url, publicUrl: 'http://promoset.test', whmcsDatabaseUrl: holder.whmcs.url });
    });
    afterAll(async () => {
      if (core) await closeCore(core);
      await database?.drop();
    });

    const broken = (rows: Awaited<ReturnType<typeof checkInvariants>>) => Object.fromEntries(rows.filter((r) => r.broken > 0).map((r) => [r.invariant.replace(/ \(.*\)$/, ''), r.example]));

    it('passes a consistent history, and catches a code deleted from tblpromotions, an untold use and a 500', async () => {
      const set = await createSet(core, { name: `Chaos ${dialect}`, promo_value: '5', max_uses: 2 }, 'test');
      const batch = await generatePromotions(core, set, { amount: 30 }, 'test');
      const codes = (await listPromotions(core, { batchId: batch.batchId })).map((p) => p.code);
      const redeemed = await redeemPromotion(core, set, { code: codes[0], client_id: '7' }, 'test');
      const ledger: Ledger = {
        handedOut: codes.map((code) => ({ code, requestKey: 'bulk-1' })),
        redeemed: [{ code: codes[0], redemptionId: redeemed.redemption_id, rolledBack: false }],
        refusals: [],
        uncertain: new Set(),
        fiveXX: [{ at: 1000, status: 503, retryAfter: '1', what: 'during the cut' }],
        cuts: [{ what: 'postgres', from: 900, to: 1100 }],
        received: new Map(),
      };
      const rows = await checkInvariants(ledger, core.db, holder.whmcs.sql);
      expect(rows.map((r) => [r.invariant.replace(/ \(.*\)$/, ''), r.checked, r.broken])).toEqual([
        ['no code handed out twice', 30, 0],
        ['every handed-out code exists exactly once in promoset', 30, 0],
        ['every handed-out code exists exactly once in tblpromotions', 30, 0],
        ['uses never exceed max_uses', 30, 0],
        ['every 2xx redemption counted, every refusal not', 30, 0],
        ['every outbox event delivered at least once', 0, 0],
        ['the only 5xx are 503s with Retry-After, during a cut', 1, 0],
      ]);

      // Behind promoset's back: one code gone from WHMCS, one use counted that no client was answered for.
      await holder.whmcs.sql.query('delete from tblpromotions where code = ?', [codes[5]]);
      await holder.whmcs.sql.query('update tblpromotions set uses = uses + 1 where code = ?', [codes[9]]);
      await core.db.updateTable('promotions').set({ uses: 1 }).where('code', '=', codes[9]).execute();
      ledger.fiveXX.push({ at: 50_000, status: 500, retryAfter: null, what: 'a bug' });
      ledger.handedOut.push({ code: codes[3], requestKey: 'another request' });
      const after = await checkInvariants(ledger, core.db, holder.whmcs.sql);
      expect(after.find((r) => r.invariant.startsWith('every 2xx redemption'))?.broken).toBe(2); // codes[5] (gone) and codes[9]
      expect(broken(after)).toEqual({
        'no code handed out twice': codes[3].toLowerCase(),
        'every handed-out code exists exactly once in tblpromotions': codes[5].toLowerCase(),
        'every 2xx redemption counted, every refusal not': expect.stringContaining(codes[5].toLowerCase()),
        'the only 5xx are 503s with Retry-After, during a cut': '500 a bug (Retry-After null)',
      });
    });
  });
});
