/** `promoset sets …`: create, update, list, show, rotate, archive, audit, and a set's webhook deliveries. */
import type { Config } from '../config.js';
import { PromoError } from '../domain/errors.js';
import { toSetAdminDetails, type PromoSet } from '../domain/set.js';
import { count } from '../domain/text.js';
import type { Core } from '../service/core.js';
import { setAuditTrail } from '../service/set-audit.js';
import { setUrl } from '../service/set-urls.js';
import { archiveSet, createSet, findSet, listSets, rotateSetKey, rotateWebhookSecret, updateSet } from '../service/sets.js';
import { usageOfSet } from '../service/usage.js';
import { resendDelivery, webhookOverview } from '../service/webhooks.js';
import { actor, fieldArgs, out, permit, withCore } from './context.js';
import { COMMAND_HELP } from './help.js';
import { parseOptions } from './options.js';

/** "Percentage 10.00, max_uses 1 (each code works once), no expiration date" */
function termsLine(set: PromoSet): string {
  const uses = set.max_uses === 0 ? 'max_uses 0 (unlimited uses)' : `max_uses ${set.max_uses} (each code works ${set.max_uses === 1 ? 'once' : `${set.max_uses} times`})`;
  const expiry = set.expiration_date ? `expires ${set.expiration_date}` : set.valid_days ? `each code expires ${count(set.valid_days, 'day')} after it is generated` : 'no expiration date';
  return `${set.promo_code_type} ${set.promo_value}, ${uses}, ${expiry}`;
}

/**
 * A set URL as the CLI prints it. The CLI is not the server: without
 * PUBLIC_URL it can only guess http://localhost:$PORT, so it says so (once)
 * rather than print a URL that may name the wrong port.
 */
let guessNoted = false;
function printedUrl(core: Core, set: PromoSet): string {
  if (!process.env.PUBLIC_URL && !guessNoted) {
    guessNoted = true;
    process.stderr.write(`Note: PUBLIC_URL is not set, so set URLs here start with ${core.publicUrl} (PORT=${process.env.PORT || 3000} on this machine). Run the CLI with the server's PUBLIC_URL to print the URLs clients use.\n`);
  }
  return setUrl(core, set);
}

export async function setsCommand(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  return withCore(config, async (core) => {
    switch (sub) {
      case 'create': {
        const [name, ...fields] = rest;
        if (!name) throw new PromoError('bad_request', 'Give the new set a name: promoset sets create NAME [field=value ...]');
        const given = fieldArgs(fields);
        await permit(core, 'create_set');
        const set = await createSet(core, { name, ...given }, actor());
        out(`Created set ${set.id} "${set.name}".`);
        out(`URL: ${printedUrl(core, set)}`);
        out(`Terms: ${termsLine(set)}`);
        const defaulted = ['promo_code_type', 'promo_value', 'max_uses'].filter((field) => !(field in given));
        if (defaulted.length > 0) out(`(${defaulted.join(', ')}: not given, so the default; change with promoset sets update ${JSON.stringify(set.name)} field=value)`);
        out(`Try: curl -X POST ${setUrl(core, set)}`);
        if (set.webhook_secret) out(`Webhook signing secret: ${set.webhook_secret}`);
        return 0;
      }
      case 'update': {
        const [ref, ...fields] = rest;
        if (!ref || fields.length === 0) throw new PromoError('bad_request', 'Name the set and the fields to change: promoset sets update SET field=value ...');
        const before = await findSet(core, ref);
        await permit(core, 'edit_set', before);
        const set = await updateSet(core, before.id, fieldArgs(fields), actor());
        out(`Updated set ${set.id} "${set.name}".`);
        if (set.webhook_secret && !before.webhook_secret) out(`Webhook signing secret: ${set.webhook_secret}`);
        return 0;
      }
      case 'webhooks':
        return webhooksCommand(core, rest);
      case 'list': {
        const { values } = parseOptions(rest, { all: { type: 'boolean' } }, 'sets list');
        const sets = await listSets(core, { includeArchived: values.all });
        if (sets.length === 0) out('No promo sets yet. Create one: promoset sets create NAME');
        for (const { set, promotions } of sets) {
          out(`${String(set.id).padStart(4)}  ${set.name.padEnd(24)} ${set.promo_code_type} ${set.promo_value}  ${count(promotions, 'code')}${set.archived_at ? '  (archived)' : ''}`);
        }
        return 0;
      }
      case 'show': {
        const set = await findSet(core, rest.join(' '));
        const [summary] = (await listSets(core, { includeArchived: true })).filter((s) => s.set.id === set.id);
        const usage = await usageOfSet(core, set.id);
        out(JSON.stringify({ ...toSetAdminDetails(set, printedUrl(core, set)), promotions: summary?.promotions ?? 0, batches: summary?.batches ?? 0, usage: { issued: usage.issued, redeemed: usage.redeemed, voided: usage.voided, used_up: usage.usedUp } }, null, 2));
        return 0;
      }
      case 'rotate': {
        const target = await findSet(core, rest.join(' '));
        await permit(core, 'rotate_set', target);
        const set = await rotateSetKey(core, target.id, actor());
        out(`Rotated. The old URL no longer works. New URL: ${printedUrl(core, set)}`);
        return 0;
      }
      case 'archive': {
        const target = await findSet(core, rest.join(' '));
        await permit(core, 'archive_set', target);
        const set = await archiveSet(core, target.id, actor());
        out(`Archived set ${set.id} "${set.name}". Its URL no longer issues codes.`);
        return 0;
      }
      case 'audit': {
        const set = await findSet(core, rest.join(' '));
        const events = await setAuditTrail(core, set.id);
        if (events.length === 0) out(`Nothing has happened to "${set.name}" yet.`);
        for (const event of events) out(`${event.created_at}  ${event.action.padEnd(9)} ${event.actor.padEnd(24)} ${JSON.stringify(event.detail)}`);
        return 0;
      }
      default:
        process.stderr.write(`Unknown "sets" command "${sub ?? ''}".\n${COMMAND_HELP.sets}\n`);
        return 2;
    }
  });
}

async function webhooksCommand(core: Core, args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { failed: { type: 'boolean' }, limit: { type: 'string' } }, 'sets webhooks');
  const [ref, action, eventId] = positionals;
  if (!ref) throw new PromoError('bad_request', 'Name the set: promoset sets webhooks SET [resend EVENT_ID | rotate-secret]');
  const set = await findSet(core, ref);
  if (action === 'rotate-secret') {
    const updated = await rotateWebhookSecret(core, set.id, actor());
    out(`New webhook signing secret for "${updated.name}": ${updated.webhook_secret}`);
    out('Deliveries from now on (retries included) are signed with it; update your receiver.');
    return 0;
  }
  if (action === 'resend') {
    if (!eventId) throw new PromoError('bad_request', 'Name the event: promoset sets webhooks SET resend evt_…');
    const delivery = await resendDelivery(core, set.id, eventId, actor());
    out(`Queued ${delivery.event_id} (${delivery.type}) to be sent again now; a running server delivers it.`);
    return 0;
  }
  if (action !== undefined) throw new PromoError('bad_request', `Unknown webhooks action "${action.slice(0, 30)}": use resend EVENT_ID or rotate-secret.`);
  const overview = await webhookOverview(core, set.id, { limit: Number(values.limit ?? 20), status: values.failed ? 'failed' : undefined });
  out(`Webhook URL: ${overview.set.webhook_url ?? '(none)'}`);
  out(`Delivered ${overview.counts.delivered}, pending ${overview.counts.pending}, failed ${overview.counts.failed}.`);
  for (const d of overview.deliveries) {
    const next = d.next_attempt_at ? `  next ${d.next_attempt_at}` : '';
    out(`${d.created_at}  ${d.event_id}  ${d.type.padEnd(18)} ${d.status.padEnd(9)} attempts ${d.attempts}${d.last_error ? `  last error: ${d.last_error}` : ''}${next}`);
  }
  return 0;
}
