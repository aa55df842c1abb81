/**
 * Every Block Kit message promoset posts (modals and App Home have their own
 * files). One file over 300 lines on purpose: the wording stays consistent
 * when it is read side by side.
 */
import type { AuditEvent } from '../../domain/audit.js';
import type { types } from '@slack/bolt';
import type { WhmcsPromotion } from '../../domain/promotion.js';
import { toSetDetails, type PromoSet } from '../../domain/set.js';
import type { SetSummary } from '../../service/sets.js';
import type { Usage } from '../../domain/usage.js';
import { usageText } from '../../service/usage.js';
import { customerPromotionLine, describeBinding, type CustomerPromotion } from '../../service/bindings.js';
import type { Batch } from '../../domain/batch.js';
import type { PageWindow } from '../../domain/pages.js';
import { count } from '../../domain/text.js';
import { escapeText, shortText, truncate, truncateMrkdwn } from './text.js';
import type { WebhookOverview } from '../../service/webhooks.js';

type Block = types.KnownBlock;

export interface Message {
  text: string;
  blocks?: Block[];
}

export const ACTIONS = {
  generateCode: 'set_generate_code',
  generateCodes: 'set_generate_codes',
  edit: 'set_edit',
  rotate: 'set_rotate',
  archive: 'set_archive',
  newSet: 'home_new_set',
  /** Void the codes of the message it sits on: value `batch:<id>` or `code:<code>`. */
  voidCodes: 'codes_void',
} as const;

export { count } from '../../domain/text.js';

/** Slack's limits: 3,000 characters a section, 50 blocks a message (a few kept for headings and notes). */
export const SECTION_CHARS = 3000;
const MAX_LIST_BLOCKS = 40;
/** How much of a set's name a line shows (names may be long; the full name is in `/promo info`). */
export const NAME_CHARS = 80;
/** Sets per page of `/promo list`; audit events per page of `/promo audit`. */
export const SETS_PER_PAGE = 100;
export const AUDIT_EVENTS_PER_PAGE = 50;

const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text: truncateMrkdwn(text || ' ', SECTION_CHARS) } });
const context = (text: string): Block => ({ type: 'context', elements: [{ type: 'mrkdwn', text: truncateMrkdwn(text || ' ', SECTION_CHARS) }] });
const setName = (set: PromoSet) => shortText(set.name, NAME_CHARS);

export const HELP_TEXT = [
  '*/promo* manages promo sets and their codes:',
  '• `/promo new [name]`: create a promo set (a form opens)',
  '• `/promo list [page N]`: all sets, one line each, 100 a page',
  '• `/promo info <set>`: a set\'s fields, counts and buttons (by id or name)',
  '• `/promo code <set> [value=… type="Fixed Amount" start=YYYY-MM-DD expiry=YYYY-MM-DD name=… notes="…" client=<client id|e-mail>]`: one code, now; `client=` binds it to that customer (`client_id=` and `client_email=` name both)',
  '• `/promo codes <set> [amount]`: many codes (up to 100,000; more than 20 arrive as a CSV file)',
  '• `/promo edit <set>`, `/promo rotate <set>` (new secret URL), `/promo archive <set>`',
  '• `/promo void <code> [code …]`, `/promo void batch <id>`: switch codes off (checkouts refuse them); `/promo unvoid …` restores them',
  '• `/promo codes-for <e-mail|client id>`: the codes bound to one customer, newest first',
  '• `/promo audit <set> [page N]`: who created, changed, rotated or archived it, and who generated codes from where, newest first, 50 a page',
  'Name a set whose name ends in "page 2" in quotes: `/promo audit "Landing page 2"`.',
  '• `/promo report <set> [30d|90d]`: a chart of codes issued and redeemed per day, and the daily figures as a CSV file',
  '• `/promo digest #channel daily|weekly|off`: a scheduled summary of every live set, with a chart and alerts (managers)',
  '• `/promo access`: who may do what (a form); `/promo access grant @person|@group viewer|issuer|manager|owner [set, set…]`, `/promo access revoke @person|@group [set…]`, `/promo access list`',
  '• `/promo settings`: default role, limits, approvals channel (owners change them: `/promo settings approvals #channel`, `/promo settings default-role viewer`, `/promo settings limits issuer per_request=20 per_day=200`)',
  '• `/promo audit`: grants, revokes and settings changes',
  '• `/promo webhooks <set>`: recent webhook deliveries and failures; `/promo webhooks <set> resend <evt_…>`, `/promo webhooks <set> rotate-secret`',
].join('\n');

export function helpMessage(prefix?: string): Message {
  const text = prefix ? `${prefix}\n\n${HELP_TEXT}` : HELP_TEXT;
  return { text, blocks: [section(text)] };
}

export function errorMessage(message: string): Message {
  const text = `:warning: ${message}`;
  return { text, blocks: [section(escapeText(text))] };
}

const yesNo = (flag: 0 | 1) => (flag ? 'yes' : 'no');

/** How much of a long free-text field a set's summary shows; the CLI and admin API show it whole. */
const NOTES_CHARS = 1000;
const LIST_CHARS = 300;

/** Every field, readable. `secrets` adds the URL and api_key (for people who may manage sets). */
export function setFieldLines(set: PromoSet, url: string, secrets: boolean): string[] {
  const d = toSetDetails(set, url);
  const orNone = (list: string[]) => (list.length > 0 ? shortText(list.join(', '), LIST_CHARS) : 'none');
  const lines = [
    `*Discount:* ${set.promo_code_type === 'Percentage' ? `${set.promo_value}%` : set.promo_value} (${set.promo_code_type})`,
    `*Recurring:* ${yesNo(set.recurring)}${set.recurring ? `, for ${set.recur_for === 0 ? 'unlimited' : set.recur_for} renewals` : ''}`,
    `*Cycles:* ${orNone(set.cycles)}`,
    `*Applies to:* ${orNone(set.applies_to)}    *Requires:* ${orNone(set.requires)}    *Requires existing:* ${yesNo(set.requires_existing)}`,
    `*Start:* ${d.start_date}    *Expiration:* ${d.expiration_date}${set.valid_days ? `    *Valid for:* ${set.valid_days} days after generation` : ''}`,
    `*Max uses:* ${set.max_uses === 0 ? 'unlimited' : set.max_uses}    *Lifetime:* ${yesNo(set.lifetime_promo)}    *Apply once:* ${yesNo(set.apply_once)}`,
    `*New signups:* ${yesNo(set.new_signups)}    *Once per client:* ${yesNo(set.once_per_client)}    *Existing client:* ${yesNo(set.existing_client)}`,
    `*Upgrades:* ${yesNo(set.upgrades)}${set.upgrades ? ` (${set.upgrade_type}, ${set.upgrade_value} ${set.upgrade_discount_type}, config options: ${orNone(set.config_option_upgrades)})` : ''}`,
    `*Code format:* ${set.code_prefix ? `${escapeText(set.code_prefix)}-` : ''}${set.code_length} ${set.code_alphabet} characters`,
    `*Allowed IPs:* ${shortText(set.api_ip_address, LIST_CHARS)}`,
    `*Notes:* ${set.notes ? shortText(set.notes, NOTES_CHARS) : '—'}`,
    `*Created by:* ${set.created_by.startsWith('slack:') ? `<@${set.created_by.slice(6, 40)}>` : shortText(set.created_by, 100)} on ${set.created_at.slice(0, 10)}${set.archived_at ? `    *Archived:* ${set.archived_at.slice(0, 10)}` : ''}`,
  ];
  if (secrets) {
    lines.push(`*api_key:* \`${set.api_key}\``, `*URL:* ${url}`);
    if (set.webhook_url) lines.push(`*Webhook:* ${escapeText(set.webhook_url)}    *Signing secret:* \`${set.webhook_secret ?? '—'}\``);
  } else if (set.webhook_url) {
    lines.push('*Webhook:* on');
  }
  return lines;
}

function setButtons(set: PromoSet): Block {
  const value = String(set.id);
  return {
    type: 'actions',
    block_id: `set_actions_${set.id}`,
    elements: [
      { type: 'button', action_id: ACTIONS.generateCode, text: { type: 'plain_text', text: 'Generate code' }, value, style: 'primary' },
      { type: 'button', action_id: ACTIONS.generateCodes, text: { type: 'plain_text', text: 'Generate codes…' }, value },
      { type: 'button', action_id: ACTIONS.edit, text: { type: 'plain_text', text: 'Edit' }, value },
      {
        type: 'button', action_id: ACTIONS.rotate, text: { type: 'plain_text', text: 'Rotate URL' }, value,
        confirm: { title: { type: 'plain_text', text: 'Rotate the URL?' }, text: { type: 'plain_text', text: 'The current set URL stops working at once. Everyone who calls it needs the new one.' }, confirm: { type: 'plain_text', text: 'Rotate' }, deny: { type: 'plain_text', text: 'Cancel' } },
      },
      {
        type: 'button', action_id: ACTIONS.archive, text: { type: 'plain_text', text: 'Archive' }, value, style: 'danger',
        confirm: { title: { type: 'plain_text', text: 'Archive this set?' }, text: { type: 'plain_text', text: 'Its URL stops issuing codes. Codes already issued stay valid.' }, confirm: { type: 'plain_text', text: 'Archive' }, deny: { type: 'plain_text', text: 'Cancel' } },
      },
    ],
  };
}

export interface UsageView {
  set: Usage;
  /** Recent batches, newest first, with their own counts. */
  batches: { batch: Batch; usage: Usage }[];
}

/** "Batch 12 (2026-03-01, 500 codes): 500 issued · 3 redeemed · 0 voided · 0 used up" */
export function batchUsageLine({ batch, usage }: { batch: Batch; usage: Usage }): string {
  return `• Batch ${batch.id} (${batch.created_at.slice(0, 10)}): ${usageText(usage)}`;
}

/** `secrets` is true for people who may manage sets: they see the URL, api_key and the buttons. */
export function setInfoMessage(summary: SetSummary, url: string, secrets: boolean, usage?: UsageView, boundCodes = 0): Message {
  const { set } = summary;
  const heading = `*${setName(set)}* (set ${set.id})${set.archived_at ? ' — archived' : ''}`;
  const bound = boundCodes > 0 ? ` · ${count(boundCodes, 'code')} bound to a customer (\`/promo codes-for <e-mail|client id>\`)` : '';
  const counts = `${count(summary.promotions, 'code')} in ${count(summary.batches, 'batch', 'batches')}${usage ? `: ${usageText(usage.set)}` : ''}${bound}`;
  const blocks: Block[] = [section(heading), ...sectionsOf(setFieldLines(set, url, secrets)), context(counts)];
  if (isShortened(set)) blocks.push(context(`Long values are shortened (…). \`promoset sets show ${set.id}\` or \`GET /api/sets/${set.id}\` shows them in full.`));
  if (usage && usage.batches.length > 0) blocks.push(section(truncateMrkdwn(`*Recent batches*\n${usage.batches.map(batchUsageLine).join('\n')}`, 3000)));
  if (!secrets) blocks.push(context('The URL and api_key are shown to managers of this set only.'));
  // Buttons only for admins: others would be refused on pressing (and are, if they try).
  if (!set.archived_at && secrets) blocks.push(setButtons(set));
  return { text: `${truncate(set.name, NAME_CHARS)} (set ${set.id}): ${counts}`, blocks };
}

/** Whether setFieldLines or a heading had to shorten something of this set. */
function isShortened(set: PromoSet): boolean {
  // Escaping (& → &amp;) can push even 1,000 characters of notes past a section's 3,000.
  return set.name.length > NAME_CHARS || set.notes.length > NOTES_CHARS || shortText(set.notes, NOTES_CHARS).length + 20 > SECTION_CHARS || set.api_ip_address.length > LIST_CHARS
    || [set.cycles, set.applies_to, set.requires, set.config_option_upgrades].some((list) => list.join(', ').length > LIST_CHARS);
}

/** One page of the set list; `window` says which (SETS_PER_PAGE a page). */
export function setListMessage(summaries: SetSummary[], window: PageWindow): Message {
  if (window.total === 0) {
    const text = 'There are no promo sets yet. Create one with `/promo new`.';
    return { text, blocks: [section(text)] };
  }
  const lines = summaries.map(({ set, promotions }) => {
    const value = set.promo_code_type === 'Percentage' ? `${set.promo_value}%` : `${set.promo_value} ${set.promo_code_type}`;
    return `• *${set.id}* ${setName(set)}: ${value}, ${count(promotions, 'code')}${set.expiration_date ? `, expires ${set.expiration_date}` : ''}`;
  });
  const first = window.offset + 1;
  const last = window.offset + summaries.length;
  const heading = window.pages === 1 ? `*Promo sets* (${window.total})` : `*Promo sets* ${first}–${last} of ${window.total} (page ${window.page} of ${window.pages})`;
  const blocks = [section(heading), ...sectionsOf(lines)];
  if (window.pages > 1) {
    const next = window.page < window.pages ? `Next: \`/promo list page ${window.page + 1}\`. ` : '';
    blocks.push(context(`Showing sets ${first}–${last} of ${window.total}. ${next}Any page: \`/promo list page N\` (1 to ${window.pages}); all at once: \`promoset sets list\` or \`GET /api/sets\`.`));
  }
  return { text: window.pages === 1 ? `Promo sets (${window.total})` : `Promo sets ${first}–${last} of ${window.total}`, blocks };
}

/**
 * Lines packed into sections of at most 3,000 characters (a line that is
 * longer on its own is shortened), in at most MAX_LIST_BLOCKS blocks; callers
 * page their lists so that nothing is dropped here.
 */
export function sectionsOf(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let current = '';
  for (const raw of lines) {
    const line = truncateMrkdwn(raw, SECTION_CHARS);
    if (current && current.length + 1 + line.length > SECTION_CHARS) {
      blocks.push(section(current));
      current = '';
    }
    current += (current ? '\n' : '') + line;
  }
  if (current) blocks.push(section(current));
  return blocks.slice(0, MAX_LIST_BLOCKS);
}

export function setCreatedMessage(set: PromoSet, url: string): Message {
  const curl = [
    `curl -X POST '${url}'`,
    `curl -X POST '${url}' -d 'name=partner' -d 'value=${set.promo_value}' -d 'promo_code_type=${set.promo_code_type}'`,
  ].join('\n');
  const text = `Promo set *${setName(set)}* (id ${set.id}) is ready. Its URL: ${url}`;
  return {
    text,
    blocks: [
      section(`:white_check_mark: Promo set *${setName(set)}* (id ${set.id}) is ready.`),
      ...sectionsOf(setFieldLines(set, url, true)),
      section(`One code from the set URL:\n\`\`\`${curl}\`\`\``),
      context('Keep the URL secret: anyone allowed by the IP list can take codes with it. `/promo rotate` replaces it.'),
    ],
  };
}

export function setUpdatedMessage(set: PromoSet, what: string, url?: string): Message {
  const text = `Promo set *${setName(set)}* (id ${set.id}) ${what}.${url ? ` New URL: ${url}` : ''}`;
  return { text, blocks: [section(text)] };
}

export function codesMessage(set: PromoSet, promotions: WhmcsPromotion[], batchId: number, bound: BoundCodes = { clients: [], note: null }): Message {
  const first = promotions[0];
  const terms = first ? `${first.value} ${first.type}, valid ${first.startdate} to ${first.expirationdate}, max uses ${first.maxuses === 0 ? 'unlimited' : first.maxuses}` : '';
  const heading = promotions.length === 1 ? `A new code from *${setName(set)}*` : `${count(promotions.length, 'new code')} from *${setName(set)}* (batch ${batchId})`;
  const text = `${heading}: ${promotions.map((p) => p.code).join(', ')}`;
  const target = promotions.length === 1 ? `code:${first.code}` : `batch:${batchId}`;
  return {
    text,
    blocks: [section(heading), section(`\`\`\`${promotions.map((p) => p.code).join('\n')}\`\`\``), context(terms),
      // The ids GetPromotions and WHMCS (tblpromotions) know them by.
      context(`${promotions.length === 1 ? 'id' : 'ids'} ${promotions.map((p) => p.id).join(', ')}`.slice(0, 2000)), ...boundBlocks(bound), voidButton(target, promotions.length)],
  };
}

/** Codes bound to customers, as a reply shows them; `note` says what binding means for codes usable more than once. */
export interface BoundCodes {
  clients: { code: string; client_id: number | null; client_email: string | null }[];
  note: string | null;
}

function boundBlocks({ clients, note }: BoundCodes): Block[] {
  if (clients.length === 0) return [];
  const lines = clients.map((c) => `${c.code} → ${escapeText(describeBinding(c))}`);
  return [section(truncateMrkdwn(`*Bound to ${clients.length === 1 ? 'a customer' : 'customers'}:* only ${clients.length === 1 ? 'this customer' : 'each code\'s customer'} can redeem ${clients.length === 1 ? 'it' : 'them'}.\n${lines.join('\n')}`, SECTION_CHARS)), ...(note ? [context(note)] : [])];
}

/** `/promo codes-for`: a customer's bound codes, newest first. */
export function customerCodesMessage(customer: string, promotions: CustomerPromotion[], limit: number): Message {
  if (promotions.length === 0) {
    const text = `No codes are bound to ${escapeText(customer)}.`;
    return { text, blocks: [section(text)] };
  }
  const heading = `*Codes bound to ${escapeText(customer)}* (${promotions.length}${promotions.length === limit ? ', the newest' : ''})`;
  const lines = promotions.map((p) => `• \`${p.code}\` ${escapeText(customerPromotionLine(p).slice(p.code.length))}`);
  return { text: `Codes bound to ${customer}: ${promotions.map((p) => p.code).join(', ')}`.slice(0, 3000), blocks: [section(heading), ...sectionsOf(lines).slice(0, 40)] };
}

/** The *Void batch* (or *Void code*) button, with a confirm dialog: checkouts refuse the codes at once. */
export function voidButton(target: string, codes: number): Block {
  const one = codes === 1;
  return {
    type: 'actions',
    block_id: `void_${target}`.slice(0, 255),
    elements: [
      {
        type: 'button', action_id: ACTIONS.voidCodes, text: { type: 'plain_text', text: one ? 'Void code' : 'Void batch' }, value: target.slice(0, 2000), style: 'danger',
        confirm: {
          title: { type: 'plain_text', text: one ? 'Void this code?' : 'Void the whole batch?' },
          text: { type: 'plain_text', text: `${one ? 'This code stops working' : `All ${codes.toLocaleString('en-US')} codes of this batch stop working`} at once: validation and redemption refuse them. \`/promo unvoid\` restores them.` },
          confirm: { type: 'plain_text', text: 'Void' },
          deny: { type: 'plain_text', text: 'Cancel' },
        },
      },
    ],
  };
}

/** The answer to a void or unvoid. */
export function voidedMessage(what: string, changed: number, total: number, restore: boolean): Message {
  const verb = restore ? 'restored' : 'voided';
  const unchanged = total - changed;
  const text = `${restore ? ':leftwards_arrow_with_hook:' : ':no_entry_sign:'} ${what}: ${count(changed, 'code')} ${verb}${unchanged > 0 ? ` (${count(unchanged, 'code')} already ${restore ? 'valid' : 'voided'})` : ''}.${restore ? '' : ' Checkouts refuse them now; `/promo unvoid` restores them.'}`;
  return { text, blocks: [section(text)] };
}

/** One page of the audit trail, newest first, one line an event. */
export function auditMessage(set: PromoSet, events: AuditEvent[], window: PageWindow): Message {
  const first = window.offset + 1;
  const last = window.offset + events.length;
  const range = window.pages === 1 ? '' : ` events ${first}–${last} of ${window.total.toLocaleString('en-US')}`;
  const heading = `Audit trail of *${setName(set)}* (id ${set.id}),${range} newest first:`;
  const lines = events.map((e) => {
    const fields = (e.detail.fields as string[] | undefined)?.join(', ') || 'nothing';
    const what =
      e.action === 'generated' ? `generated ${count(Number(e.detail.count), 'code')} (batch ${e.detail.batch_id})`
      : e.action === 'edited' ? `edited ${truncate(fields, 200)}`
      : e.action.startsWith('approval_') ? approvalAuditText(e)
      : e.action === 'voided' || e.action === 'unvoided' ? `${e.action} ${count(Number(e.detail.count), 'code')}${e.detail.batch_id !== undefined ? ` (batch ${e.detail.batch_id})` : `: ${escapeText(truncate(((e.detail.codes as string[] | undefined) ?? []).slice(0, 10).join(', '), 200))}`}`
      : e.action;
    return `• ${e.created_at.slice(0, 19).replace('T', ' ')} UTC: ${what} by ${actorText(e.actor)}`;
  });
  const blocks = [section(heading), ...sectionsOf(lines.length > 0 ? lines : ['Nothing yet.'])];
  if (window.pages > 1) {
    const ref = `${set.id}`;
    const next = window.page < window.pages ? `Older: \`/promo audit ${ref} page ${window.page + 1}\`. ` : '';
    blocks.push(context(`Showing events ${first}–${last} of ${window.total.toLocaleString('en-US')}. ${next}Any page: \`/promo audit ${ref} page N\` (1 to ${window.pages}); up to 1,000 at once: \`GET /api/sets/${set.id}/audit?limit=1000\`.`));
  }
  return { text: `Audit trail of ${truncate(set.name, NAME_CHARS)} (id ${set.id})${range}`, blocks };
}

/** Recent deliveries of a set's webhook events: what arrived, what is retrying, what failed and why. */
export function webhooksMessage(overview: WebhookOverview): Message {
  const { set, counts, deliveries } = overview;
  const heading = set.webhook_url
    ? `Webhooks of *${setName(set)}* (id ${set.id}) to ${shortText(set.webhook_url, 500)}: ${counts.delivered} delivered, ${counts.pending} pending, ${counts.failed} failed.`
    : `*${setName(set)}* (id ${set.id}) has no webhook URL. Set one with \`/promo edit\`.`;
  const lines = deliveries.map((d) => {
    const when = d.created_at.slice(0, 19).replace('T', ' ');
    const state = d.status === 'delivered' ? ':white_check_mark: delivered' : d.status === 'failed' ? ':x: failed' : `:hourglass: pending, next try ${d.next_attempt_at?.slice(11, 19)} UTC`;
    const error = d.last_error && d.status !== 'delivered' ? ` — ${shortText(d.last_error, 300)}` : '';
    return `• ${when} UTC \`${d.event_id}\` ${d.type}: ${state} (${count(d.attempts, 'attempt')})${error}`;
  });
  const blocks = [section(heading), ...sectionsOf(lines)];
  if (deliveries.length > 0) blocks.push(context('Send one again: `/promo webhooks ' + set.id + ' resend <evt_…>`. New signing secret: `/promo webhooks ' + set.id + ' rotate-secret`.'));
  return { text: `Webhooks of ${truncate(set.name, NAME_CHARS)} (id ${set.id})`, blocks };
}

/** "slack:U123" as a mention, "http:1.2.3.4" and "cli:alice" as they are. */
function actorText(actor: string): string {
  const slackUser = /^slack:([UW][A-Z0-9]+)$/.exec(actor);
  return slackUser ? `<@${slackUser[1]}>` : `\`${shortText(actor, 100)}\``;
}

/** Approval events name both people: the asker (in the detail) and the actor. */
function approvalAuditText(e: AuditEvent): string {
  const d = e.detail;
  const asker = typeof d.asker === 'string' ? actorText(d.asker) : undefined;
  switch (e.action) {
    case 'approval_requested':
      return `asked for approval of ${count(Number(d.amount), 'code')} (request #${d.request_id}): "${escapeText(truncate(String(d.reason ?? ''), 200))}"`;
    case 'approval_approved':
      return `approved request #${d.request_id} (${count(Number(d.amount), 'code')} asked by ${asker})`;
    case 'approval_denied':
      return `denied request #${d.request_id} (${count(Number(d.amount), 'code')} asked by ${asker}): "${escapeText(truncate(String(d.reason ?? ''), 200))}"`;
    case 'approval_expired':
      return `expired request #${d.request_id} (${count(Number(d.amount), 'code')} asked by ${asker}), undecided after 24 hours`;
    case 'approval_issued':
      return `received ${count(Number(d.count), 'code')} (batch ${d.batch_id}) for request #${d.request_id}, approved by ${typeof d.approved_by === 'string' ? actorText(d.approved_by) : 'a manager'}`;
    default:
      return e.action;
  }
}
