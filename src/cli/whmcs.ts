import type { Config } from '../config.js';
import { PromoError } from '../domain/errors.js';
import { backfillWhmcs } from '../service/whmcs-backfill.js';
import { disconnectWhmcs, reconnectWhmcs, whmcsConnectionHistory, whmcsStatus } from '../service/whmcs-connection.js';
import { actor, out, withCore } from './context.js';
import { COMMAND_HELP } from './help.js';
import { parseOptions } from './options.js';

/** `whmcs status|backfill|reconnect|disconnect`: the recorded WHMCS connection (service/whmcs-connection.ts). */
export async function whmcsCommand(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { yes: { type: 'boolean' } }, 'whmcs');
  const [sub, ...extra] = positionals;
  if (extra.length > 0) throw new PromoError('bad_request', `"promoset whmcs ${sub}" takes no arguments besides --yes. See promoset whmcs --help.`);
  return withCore(config, async (core) => {
    switch (sub) {
      case 'status': {
        const status = await whmcsStatus(core);
        const record = status.record;
        out(record ? `Connected to WHMCS database "${record.database_name}" on ${record.host} (tblpromotions created ${record.table_created}), since ${record.connected_at} by ${record.connected_by}.` : 'No WHMCS connection is recorded: codes stay in promoset alone.');
        out(`This process: ${core.whmcsLink.target ? `WHMCS_DATABASE_URL names database "${core.whmcsLink.target.database}" on ${core.whmcsLink.target.host}` : 'WHMCS_DATABASE_URL is not set'}; state: ${status.state}.`);
        if (status.message) out(status.message);
        for (const event of await whmcsConnectionHistory(core)) out(`${event.created_at}  ${event.action.padEnd(12)} ${event.actor.padEnd(20)} ${JSON.stringify(event.detail)}`);
        return status.state === 'ok' || status.state === 'off' ? 0 : 1;
      }
      case 'backfill': {
        const tty = process.stderr.isTTY;
        let nextTenth = 0;
        const report = await backfillWhmcs(core, actor(), ({ done, total }) => {
          if (total === 0) return;
          if (tty) {
            process.stderr.write(`\rBackfilling… ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`);
            return;
          }
          // Not a terminal (a log, a pipe): a line at every tenth, no carriage returns.
          const tenth = Math.floor((done * 10) / total);
          if (done === 0 || tenth < nextTenth) return;
          nextTenth = tenth + 1;
          process.stderr.write(`Backfilling: ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} (${tenth * 10}%)\n`);
        });
        if (tty && report.total > 0) process.stderr.write('\n');
        if (report.total === 0) {
          out('Nothing to backfill: WHMCS holds every promotion already.');
          return 0;
        }
        out(`Wrote ${report.written.toLocaleString('en-US')} codes into tblpromotions.`);
        if (report.alreadyHeld.length > 0) {
          out(`${report.alreadyHeld.length.toLocaleString('en-US')} codes were already in WHMCS (in some letter case): not written again; their promotions now show that row's id:`);
          for (const code of report.alreadyHeld.slice(0, 50)) out(`  ${code}`);
          if (report.alreadyHeld.length > 50) out(`  … and ${(report.alreadyHeld.length - 50).toLocaleString('en-US')} more (promoset whmcs status lists the first 50 again).`);
        }
        return 0;
      }
      case 'reconnect': {
        const result = await reconnectWhmcs(core, actor(), { yes: values.yes === true });
        if (!result.changed) {
          out(`Already connected to WHMCS database "${result.record.database_name}" on ${result.record.host}; nothing changed.`);
          return 0;
        }
        out(`Connected to WHMCS database "${result.record.database_name}" on ${result.record.host}${result.previous ? ` (was "${result.previous.database_name}" on ${result.previous.host})` : ''}.`);
        if (result.forgotten > 0) out(`Forgot ${result.forgotten.toLocaleString('en-US')} tblpromotions ids of the old database.`);
        if (result.unpublished > 0) out(`${result.unpublished.toLocaleString('en-US')} promotions are not in this WHMCS yet: run "promoset whmcs backfill".`);
        return 0;
      }
      case 'disconnect': {
        const result = await disconnectWhmcs(core, actor(), { yes: values.yes === true });
        if (!result.changed) {
          out('No WHMCS connection is recorded; nothing changed.');
          return 0;
        }
        out(`Disconnected from WHMCS database "${result.previous!.database_name}" on ${result.previous!.host}; promoset no longer writes codes there. Remove WHMCS_DATABASE_URL from every promoset process.`);
        return 0;
      }
      default:
        process.stderr.write(`Unknown "whmcs" command "${sub ?? ''}".\n${COMMAND_HELP.whmcs}\n`);
        return 2;
    }
  });
}
