import type { Config } from '../config.js';
import { PromoError } from '../domain/errors.js';
import { operatorActor } from '../service/access.js';
import { grantAccess, listAccess, resolveSets, revokeAccess } from '../service/access-grants.js';
import { defaultRole, describeLimits, limitsFor, parseLimitOptions } from '../service/access-policy.js';
import { accessAuditPage, setDefaultRole, setLimits } from '../service/access-settings.js';
import { parseRole, ROLES } from '../service/roles.js';
import { actor, fieldArgs, out, withCore } from './context.js';
import { COMMAND_HELP } from './help.js';
import { parseOptions } from './options.js';

/** `promoset access …`: the same service functions as `/promo access` and /api/access; the CLI's user acts as an operator. */
export async function accessCommand(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const who = operatorActor(actor());
  return withCore(config, async (core) => {
    switch (sub) {
      case 'list': {
        out(`Default role: ${await defaultRole(core)}. PROMO_ADMINS (owners): ${core.access.admins.join(', ') || 'none'}.`);
        const grants = await listAccess(core, who);
        if (grants.length === 0) out('No grants yet. Grant one: promoset access grant U012ABCDEF issuer');
        for (const g of grants) out(`${String(g.id).padStart(4)}  ${g.subject.padEnd(12)} ${g.role.padEnd(8)} ${g.set_id === 0 ? 'every set' : `set ${g.set_id} "${g.set_name}"`}`);
        return 0;
      }
      case 'grant': {
        const [subject, role, ...sets] = rest;
        if (!subject || !role) throw new PromoError('bad_request', 'Name the subject and the role: promoset access grant U012ABCDEF issuer [SET ...]');
        const result = await grantAccess(core, who, subject, role, sets);
        out(`${result.subject} is now ${result.role} on ${result.sets.length > 0 ? result.sets.map((s) => `"${s.name}"`).join(', ') : 'every set'}${result.replaced.length > 0 ? ` (was ${result.replaced.join(', ')})` : ''}.`);
        return 0;
      }
      case 'revoke': {
        const [subject, ...sets] = rest;
        if (!subject) throw new PromoError('bad_request', 'Name the subject: promoset access revoke U012ABCDEF [SET ...]');
        const revoked = await revokeAccess(core, who, subject, sets);
        out(`Revoked ${revoked.map((g) => `${g.role} on ${g.set_id === 0 ? 'every set' : `set ${g.set_id}`}`).join(', ')} from ${subject}.`);
        return 0;
      }
      case 'default-role': {
        const role = parseRole(rest[0]);
        await setDefaultRole(core, who, role);
        out(`Everyone without a grant is ${role} now.`);
        return 0;
      }
      case 'limits': {
        const { values, positionals } = parseOptions(rest, { set: { type: 'string' } }, 'access limits');
        const [roleText, ...pairs] = positionals;
        const role = parseRole(roleText);
        const [set] = values.set ? await resolveSets(core, [values.set]) : [];
        if (pairs.length > 0) await setLimits(core, who, role, parseLimitOptions(fieldArgs(pairs)), set);
        out(`${role} limits${set ? ` on "${set.name}"` : ''}: ${describeLimits(await limitsFor(core, role, set?.id))}.`);
        return 0;
      }
      case 'audit': {
        const { events } = await accessAuditPage(core, who, 0, 200);
        if (events.length === 0) out('Nothing yet.');
        for (const e of events) out(`${e.created_at}  ${e.action.padEnd(22)} ${e.actor.padEnd(20)} ${JSON.stringify(e.detail)}${e.set_id ? ` set ${e.set_id}` : ''}`);
        return 0;
      }
      default:
        process.stderr.write(`${COMMAND_HELP.access}\nRoles: ${ROLES.join(', ')}.\n`);
        return 2;
    }
  });
}
