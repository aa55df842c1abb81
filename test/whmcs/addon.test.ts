import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromoSet } from '../../src/domain/set.js';
import { ROOT } from '../support/processes.js';
import { startTestService, type TestService } from '../support/service.js';
import { describeWithWhmcs, useWhmcsDatabase } from '../support/whmcs.js';
import { localSetUrl, makeSet, postJson } from '../http/helpers.js';

/**
 * The promoset WHMCS addon (integrations/whmcs/modules/addons/promoset/),
 * run by php-cli: test/whmcs/addon/harness.php stands in for WHMCS (add_hook,
 * logActivity, Capsule over the test's MariaDB), includes the real hooks.php
 * and calls each hook with the $vars WHMCS's hook reference documents, against
 * a running promoset connected to the same WHMCS database.
 */
const MODULE = join(ROOT, 'integrations', 'whmcs', 'modules', 'addons', 'promoset');
const HARNESS = join(ROOT, 'test', 'whmcs', 'addon', 'harness.php');
const SECRET = 'whmcs-hook-secret-0123456789';

function run(command: string, args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd }, (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

function phpFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? phpFiles(path) : name.endsWith('.php') ? [path] : [];
  });
}

const phpMissing = (await run('php', ['-r', 'exit(extension_loaded("pdo_mysql") ? 0 : 1);'])).code !== 0;
if (phpMissing) console.warn('[promoset tests] php-cli with pdo_mysql is missing: the WHMCS addon tests are SKIPPED (.ci/run installs php).');

describe.skipIf(phpMissing)('the addon\'s files', () => {
  it('php -l is clean on every PHP file of the addon and the harness', async () => {
    const files = [...phpFiles(MODULE), HARNESS];
    expect(files.map((f) => f.slice(MODULE.length + 1))).toEqual(expect.arrayContaining(['promoset.php', 'hooks.php', 'lib/client.php']));
    for (const file of files) {
      const lint = await run('php', ['-l', file]);
      expect(lint.code, `${file}: ${lint.stdout}${lint.stderr}`).toBe(0);
    }
  });

  it('zips as WHMCS admins install it: modules/addons/promoset/… from the WHMCS root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'promoset-zip-'));
    try {
      const built = await run('bash', [join(ROOT, 'integrations', 'whmcs', 'package.sh'), join(dir, 'addon.zip')]);
      expect(built.code, built.stderr).toBe(0);
      const listing = await run('unzip', ['-Z1', join(dir, 'addon.zip')]);
      const entries = listing.stdout.split('\n').filter((line) => line && !line.endsWith('/'));
      expect(entries.sort()).toEqual([
        'modules/addons/promoset/README.md', 'modules/addons/promoset/hooks.php', 'modules/addons/promoset/lib/client.php',
        'modules/addons/promoset/promoset.php', 'modules/addons/promoset/whmcs.json',
      ]);
      // Unzipped into an empty "WHMCS root", the module is where WHMCS looks, and still lints.
      expect((await run('unzip', ['-q', join(dir, 'addon.zip'), '-d', join(dir, 'whmcs')])).code).toBe(0);
      for (const file of ['promoset.php', 'hooks.php', 'lib/client.php']) expect((await run('php', ['-l', join(dir, 'whmcs', 'modules', 'addons', 'promoset', file)])).code).toBe(0);
      const meta = JSON.parse((await run('unzip', ['-p', join(dir, 'addon.zip'), 'modules/addons/promoset/whmcs.json'])).stdout);
      expect(meta).toMatchObject({ schema: '1.0', type: 'whmcs-addons', name: 'promoset' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('promoset_config offers the URL, the shared secret and refuse|allow (default refuse); activate and deactivate succeed', async () => {
    const script = `define('WHMCS', true); require '${join(MODULE, 'promoset.php')}'; echo json_encode([promoset_config(), promoset_activate(), promoset_deactivate()]);`;
    const out = await run('php', ['-r', script]);
    expect(out.code, out.stderr).toBe(0);
    const [config, activate, deactivate] = JSON.parse(out.stdout);
    expect(Object.keys(config.fields)).toEqual(['url', 'secret', 'unreachable']);
    expect(config.fields.secret.Type).toBe('password');
    expect(config.fields.unreachable).toMatchObject({ Type: 'dropdown', Options: 'refuse,allow', Default: 'refuse' });
    expect(activate.status).toBe('success');
    expect(deactivate.status).toBe('success');
  });
});

describeWithWhmcs('the WHMCS addon against a running promoset (php-cli, real MariaDB)', () => {
  const holder = useWhmcsDatabase();
  let service: TestService;
  let set: PromoSet;
  let code: string;
  let whmcsId: number;

  const setting = async (name: string, value: string) => {
    await holder.whmcs.sql.query('delete from tbladdonmodules where module = ? and setting = ?', ['promoset', name]);
    await holder.whmcs.sql.query('insert into tbladdonmodules (module, setting, value) values (?, ?, ?)', ['promoset', name, value]);
  };
  const hook = async (name: string, vars: Record<string, unknown>, session: Record<string, unknown> = {}) => {
    const out = await run('php', [HARNESS, holder.whmcs.url, name, JSON.stringify(vars), JSON.stringify(session)]);
    expect(out.code, `${out.stdout}\n${out.stderr}`).toBe(0);
    return JSON.parse(out.stdout) as { returns: unknown[]; log: string[]; hooks: string[] };
  };
  const whmcsUses = async () => Number((await holder.whmcs.rows<{ uses: number }>('select uses from tblpromotions where id = ?', [whmcsId]))[0].uses);
  const promosetUses = async () => Number((await service.core.db.selectFrom('promotions').select('uses').where('code', '=', code).executeTakeFirstOrThrow()).uses);
  const orderRedemptions = (orderId: number) =>
    service.core.db.selectFrom('redemptions').select(['id', 'client_id', 'rolled_back_at']).where('created_by', '=', `whmcs:order:${orderId}`).execute();
  /** What WHMCS's own checkout does: the order row, and one use counted on the promotion. */
  const placeOrder = async (orderId: number, clientId: number, promo: string) => {
    await holder.whmcs.sql.query('insert into tblorders (id, userid, promocode, invoiceid, status) values (?, ?, ?, ?, ?)', [orderId, clientId, promo, orderId + 9000, 'Pending']);
    await holder.whmcs.sql.query('update tblpromotions set uses = uses + 1 where code = ?', [promo]);
  };

  beforeAll(async () => {
    if (phpMissing) return;
    await holder.whmcs.sql.query('create table tbladdonmodules (id int auto_increment primary key, module text not null, setting text not null, value text not null)');
    await holder.whmcs.sql.query("create table tblorders (id int primary key, userid int not null, promocode text not null, invoiceid int not null default 0, status text not null)");
    await holder.whmcs.sql.query('create table tblclients (id int primary key, email text not null)');
    await holder.whmcs.sql.query("insert into tblclients (id, email) values (7, 'Ann@Example.com'), (8, 'bob@example.com')");
    service = await startTestService({ WHMCS_DATABASE_URL: holder.whmcs.url, WHMCS_HOOK_SECRET: SECRET, RATE_LIMIT_PER_MINUTE: '0' });
    set = await makeSet(service, { max_uses: 1 });
    const issued = await postJson(localSetUrl(service, set), { client_id: 7, client_email: 'ann@example.com' });
    expect(issued.status, issued.text).toBe(200);
    expect(issued.headers['promoset-client']).toBe('client_id=7; client_email=ann@example.com');
    code = issued.json.code;
    whmcsId = issued.json.id;
    await setting('url', service.url);
    await setting('secret', SECRET);
    await setting('unreachable', 'refuse');
  });
  afterAll(async () => {
    await service?.stop();
  });

  it.skipIf(phpMissing)('registers the five documented hooks', async () => {
    const { hooks } = await hook('ShoppingCartValidateCheckout', {});
    expect(hooks.sort()).toEqual(['AfterShoppingCartCheckout', 'CancelOrder', 'DeleteOrder', 'FraudOrder', 'ShoppingCartValidateCheckout']);
  });

  it.skipIf(phpMissing)('refuses a bound code for the wrong customer at checkout, in promoset\'s sentence, and lets the right one through', async () => {
    const wrong = await hook('ShoppingCartValidateCheckout', { promocode: code, userid: 8, email: 'bob@example.com' }, { uid: 8 });
    expect(wrong.returns).toEqual([[`The code ${code} was issued to another customer and cannot be used on this account. Ask the shop for a code of your own.`]]);
    // The e-mail is compared ignoring case, and read from tblclients when the hook does not carry it.
    const right = await hook('ShoppingCartValidateCheckout', { userid: 7 }, { uid: 7, cart: { promo: code.toLowerCase() } });
    expect(right.returns).toEqual([[]]);
    expect(right.log).toEqual([]);
    const noCode = await hook('ShoppingCartValidateCheckout', { userid: 8 }, { uid: 8 });
    expect(noCode.returns).toEqual([[]]);
  });

  it.skipIf(phpMissing)('records the redemption by the time AfterShoppingCartCheckout returns, without counting WHMCS\'s use twice; CancelOrder gives the use back in both', async () => {
    await placeOrder(501, 7, code);
    expect(await whmcsUses()).toBe(1);
    const checkout = await hook('AfterShoppingCartCheckout', { OrderID: 501, OrderNumber: '8271630', InvoiceID: 9501, ServiceIDs: [], AddonIDs: [], DomainIDs: [], RenewalIDs: [], PaymentMethod: 'banktransfer', TotalDue: '0.00' });
    expect(checkout.log).toEqual([]);
    const [redemption] = await orderRedemptions(501);
    expect(redemption).toMatchObject({ client_id: '7', rolled_back_at: null });
    expect(await whmcsUses()).toBe(1);
    expect(await promosetUses()).toBe(1);
    // WHMCS runs the hook again (a retry): nothing more is counted or recorded.
    await hook('AfterShoppingCartCheckout', { OrderID: 501, InvoiceID: 9501 });
    expect(await orderRedemptions(501)).toHaveLength(1);
    expect(await whmcsUses()).toBe(1);

    const cancel = await hook('CancelOrder', { orderid: 501 });
    expect(cancel.log).toEqual([]);
    expect(await whmcsUses()).toBe(0);
    expect(await promosetUses()).toBe(0);
    expect((await orderRedemptions(501))[0].rolled_back_at).not.toBeNull();
    // Deleting the cancelled order afterwards gives nothing back a second time.
    await hook('DeleteOrder', { orderid: 501 });
    expect(await whmcsUses()).toBe(0);
    expect(await promosetUses()).toBe(0);
  });

  it.skipIf(phpMissing)('promoset unreachable: "refuse" stops the checkout, "allow" lets it through; both are logged with logActivity', async () => {
    await setting('url', 'http://127.0.0.1:9');
    try {
      const refused = await hook('ShoppingCartValidateCheckout', { promocode: code, userid: 7 });
      expect(refused.returns).toEqual([[`The promo code ${code} cannot be checked right now. Please try again in a few minutes, or remove the code to continue.`]]);
      expect(refused.log).toHaveLength(1);
      expect(refused.log[0]).toMatch(new RegExp(`^promoset: promo code ${code} was not checked at checkout: promoset at http://127.0.0.1:9 could not be reached .*The checkout was refused \\(setting "When promoset is unreachable": refuse\\)\\.$`));
      await setting('unreachable', 'allow');
      const allowed = await hook('ShoppingCartValidateCheckout', { promocode: code, userid: 7 });
      expect(allowed.returns).toEqual([[]]);
      expect(allowed.log[0]).toContain('The checkout was allowed (setting "When promoset is unreachable": allow).');
      // A checkout report that cannot be delivered is logged too (the uses sync is the safety net).
      await placeOrder(502, 7, code);
      const lost = await hook('AfterShoppingCartCheckout', { OrderID: 502, InvoiceID: 9502 });
      expect(lost.log[0]).toMatch(/^promoset: order 502 \(promo code .*\) was not reported: promoset at http:\/\/127\.0\.0\.1:9 could not be reached/);
    } finally {
      await setting('url', service.url);
      await setting('unreachable', 'refuse');
    }
  });

  it.skipIf(phpMissing)('a wrong shared secret is refused by promoset (401), and the addon treats it like an unreachable promoset', async () => {
    await setting('secret', 'not-the-secret-0123456789');
    try {
      const refused = await hook('ShoppingCartValidateCheckout', { promocode: code, userid: 7 });
      expect(refused.returns).toEqual([[`The promo code ${code} cannot be checked right now. Please try again in a few minutes, or remove the code to continue.`]]);
      expect(refused.log[0]).toContain('promoset refused the call: This call is not signed with WHMCS_HOOK_SECRET');
    } finally {
      await setting('secret', SECRET);
    }
  });
});
