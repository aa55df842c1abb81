import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { todayIn } from '../../src/domain/dates.js';
import { ROOT } from './processes.js';

/** WHMCS's checkout rules, run by PHP itself against a tblpromotions row (test/whmcs/checkout.php). */
const CHECKOUT_PHP = join(ROOT, 'test', 'whmcs', 'checkout.php');

export interface CheckoutVerdict {
  accepted: boolean;
  /** The rules the code failed: "expired", "used_up", … */
  failed: string[];
  id: number;
  upgradeconfig: unknown;
}

export function phpCheckout(whmcsUrl: string, code: string, today = todayIn('UTC')): Promise<CheckoutVerdict> {
  return new Promise((resolve, reject) => {
    execFile('php', [CHECKOUT_PHP, whmcsUrl, code, today], (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout))));
  });
}

/** True when php-cli with pdo_mysql is not installed: the PHP checks are skipped, visibly. */
export const phpMissing = await new Promise<boolean>((resolve) => execFile('php', ['-r', 'exit(extension_loaded("pdo_mysql") ? 0 : 1);'], (error) => resolve(error !== null)));
if (phpMissing) console.warn('[promoset tests] php-cli with pdo_mysql is missing: the PHP checkout checks are SKIPPED (CI installs php).');
