import type { AuditEvent } from '../../store/audit.js';
import type { types } from '@slack/bolt';
import type { WhmcsPromotion } from '../../domain/promotion.js';
import { toSetDetails, type PromoSet } from '../../domain/set.js';
import type { SetSummary } from '../../service/sets.js';
import { usageText, type Usage } from '../../service/usage.js';
import type { Batch } from '../../store/promotions.js';
import { escapeText } from './codes-modal.js';

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

/** "1 code", "2,500 codes". */
export const count = (n: number, noun: string, plural = `${noun}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? noun : plural}`;

const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } });
const context = (text: string): Block => ({ type: 'context', elements: [{ type: 'mrkdwn', text: text.slice(0, 3000) }] });

export const USAGE = [
  '*/promo* manages promo sets and their codes:',
  '• `/promo new [name]`: create a promo set (a form opens)',
  '• `/promo list`: all sets, one line each',
  '• `/promo info <set>`: a set\'s fields, counts and buttons (by id or name)',
  '• `/promo code <set> [value=… type="Fixed Amount" start=YYYY-MM-DD expiry=YYYY-MM-DD name=… notes="…"]`: one code, now',
  '• `/promo codes <set> [amount]`: many codes (up to 100,000; more than 20 arrive as a CSV file)',
  '• `/promo edit <set>`, `/promo rotate <set>` (new secret URL), `/promo archive <set>`',
  '• `/promo void <code> [code …]`, `/promo void batch <id>`: switch codes off (checkouts refuse them); `/promo unvoid …` restores them',
  '• `/promo audit <set>`: who created, changed, rotated or archived it, who generated codes from where, who voided what',
].join('\n');

export function usageMessage(prefix?: string): Message {
  const text = prefix ? `${prefix}\n\n${USAGE}` : USAGE;
  return { text, blocks: [section(text)] };
}

export function errorMessage(message: string): Message {
  const text = `:warning: ${message}`;
  return { text, blocks: [section(escapeText(text))] };
}

const yesNo = (flag: 0 | 1) => (flag ? 'yes' : 'no');
const orNone = (list: string[]) => (list.length > 0 ? list.join(', ') : 'none');

/** Every field, readable. `secrets` adds the URL and api_key (for people who may manage sets). */
export function setFieldLines(set: PromoSet, url: string, secrets: boolean): string[] {
  const d = toSetDetails(set, url);
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
    `*Allowed IPs:* ${escapeText(set.api_ip_address)}`,
    `*Notes:* ${set.notes ? escapeText(set.notes) : '—'}`,
    `*Created by:* ${set.created_by.startsWith('slack:') ? `<@${set.created_by.slice(6)}>` : escapeText(set.created_by)} on ${set.created_at.slice(0, 10)}${set.archived_at ? `    *Archived:* ${set.archived_at.slice(0, 10)}` : ''}`,
  ];
  if (secrets) {
    lines.push(`*api_key:* \`${set.api_key}\``, `*URL:* ${url}`);
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
export function setInfoMessage(summary: SetSummary, url: string, secrets: boolean, usage?: UsageView): Message {
  const { set } = summary;
  const heading = `*${escapeText(set.name)}* (set ${set.id})${set.archived_at ? ' — archived' : ''}`;
  const counts = `${count(summary.promotions, 'code')} in ${count(summary.batches, 'batch', 'batches')}${usage ? `: ${usageText(usage.set)}` : ''}`;
  const blocks: Block[] = [section(heading), section(setFieldLines(set, url, secrets).join('\n')), context(counts)];
  if (usage && usage.batches.length > 0) blocks.push(section(`*Recent batches*\n${usage.batches.map(batchUsageLine).join('\n')}`));
  if (!secrets) blocks.push(context('The URL and api_key are shown to promo admins only.'));
  // Buttons only for admins: others would be refused on pressing (and are, if they try).
  if (!set.archived_at && secrets) blocks.push(setButtons(set));
  return { text: `${set.name} (set ${set.id}): ${counts}`, blocks };
}

export function setListMessage(summaries: SetSummary[]): Message {
  if (summaries.length === 0) {
    const text = 'There are no promo sets yet. Create one with `/promo new`.';
    return { text, blocks: [section(text)] };
  }
  const lines = summaries.map(({ set, promotions }) => {
    const value = set.promo_code_type === 'Percentage' ? `${set.promo_value}%` : `${set.promo_value} ${set.promo_code_type}`;
    return `• *${set.id}* ${escapeText(set.name)}: ${value}, ${count(promotions, 'code')}${set.expiration_date ? `, expires ${set.expiration_date}` : ''}`;
  });
  const text = `*Promo sets* (${summaries.length})\n${lines.join('\n')}`;
  return { text: text.slice(0, 3000), blocks: chunkSections(text) };
}

/** A section holds 3000 characters; long lists are split over several. */
function chunkSections(text: string): Block[] {
  const blocks: Block[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (current.length + line.length + 1 > 2900) {
      blocks.push(section(current));
      current = '';
    }
    current += (current ? '\n' : '') + line;
  }
  if (current) blocks.push(section(current));
  return blocks.slice(0, 45);
}

export function setCreatedMessage(set: PromoSet, url: string): Message {
  const curl = [
    `curl -X POST '${url}'`,
    `curl -X POST '${url}' -d 'name=partner' -d 'value=${set.promo_value}' -d 'promo_code_type=${set.promo_code_type}'`,
  ].join('\n');
  const text = `Promo set *${escapeText(set.name)}* (id ${set.id}) is ready. Its URL: ${url}`;
  return {
    text,
    blocks: [
      section(`:white_check_mark: Promo set *${escapeText(set.name)}* (id ${set.id}) is ready.`),
      section(setFieldLines(set, url, true).join('\n')),
      section(`One code from the set URL:\n\`\`\`${curl}\`\`\``),
      context('Keep the URL secret: anyone allowed by the IP list can take codes with it. `/promo rotate` replaces it.'),
    ],
  };
}

export function setUpdatedMessage(set: PromoSet, what: string, url?: string): Message {
  const text = `Promo set *${escapeText(set.name)}* (id ${set.id}) ${what}.${url ? ` New URL: ${url}` : ''}`;
  return { text, blocks: [section(text)] };
}

export function codesMessage(set: PromoSet, promotions: WhmcsPromotion[], batchId: number): Message {
  const first = promotions[0];
  const terms = first ? `${first.value} ${first.type}, valid ${first.startdate} to ${first.expirationdate}, max uses ${first.maxuses === 0 ? 'unlimited' : first.maxuses}` : '';
  const heading = promotions.length === 1 ? `A new code from *${escapeText(set.name)}*` : `${promotions.length} new codes from *${escapeText(set.name)}* (batch ${batchId})`;
  const text = `${heading}: ${promotions.map((p) => p.code).join(', ')}`;
  const target = promotions.length === 1 ? `code:${first.code}` : `batch:${batchId}`;
  return {
    text: text.slice(0, 3000),
    blocks: [section(heading), section(`\`\`\`${promotions.map((p) => p.code).join('\n')}\`\`\``), context(terms), voidButton(target, promotions.length)],
  };
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

/** The audit trail, newest first, one line an event. */
export function auditMessage(set: PromoSet, events: AuditEvent[]): Message {
  const heading = `Audit trail of *${escapeText(set.name)}* (id ${set.id}), newest first:`;
  const lines = events.map((e) => {
    const what =
      e.action === 'generated' ? `generated ${count(Number(e.detail.count), 'code')} (batch ${e.detail.batch_id})`
      : e.action === 'edited' ? `edited ${(e.detail.fields as string[] | undefined)?.join(', ') || 'nothing'}`
      : e.action === 'voided' || e.action === 'unvoided' ? `${e.action} ${count(Number(e.detail.count), 'code')}${e.detail.batch_id !== undefined ? ` (batch ${e.detail.batch_id})` : `: ${escapeText(((e.detail.codes as string[] | undefined) ?? []).slice(0, 10).join(', '))}`}`
      : e.action;
    return `• ${e.created_at.slice(0, 19).replace('T', ' ')} UTC: ${what} by ${actorText(e.actor)}`;
  });
  const text = [heading, ...(lines.length > 0 ? lines : ['Nothing yet.'])].join('\n');
  return { text: text.slice(0, 3000), blocks: [section(text)] };
}

/** "slack:U123" as a mention, "http:1.2.3.4" and "cli:alice" as they are. */
function actorText(actor: string): string {
  const slackUser = /^slack:([UW][A-Z0-9]+)$/.exec(actor);
  return slackUser ? `<@${slackUser[1]}>` : `\`${escapeText(actor)}\``;
}
