import type { App, webApi } from '@slack/bolt';
import { PromoError } from '../domain/errors.js';
import { parseBulkRequest, parseOverrides } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import { checkIssue, issueAllowed, overLimitsSentence, slackActor } from '../service/access.js';
import { generatePromotion, generatePromotions } from '../service/generate.js';
import { promotionIds } from '../service/promotions.js';
import { validatePromotion } from '../service/redemptions.js';
import { findSet, setArchived } from '../service/sets.js';
import { voidPromotions } from '../service/voiding.js';
import { codesMessage } from './blocks/messages.js';
import { directChannel, postToUser, uploadBatchCsv } from './batch-delivery.js';
import type { SlackDeps } from './deps.js';
import { errorText } from './edge.js';
import { firstDelivery } from './retries.js';
import { voidAuthorized } from './voiding.js';

type WebClient = webApi.WebClient;
type Inputs = Record<string, unknown>;
type Outputs = Record<string, string | number | boolean>;

/** The custom steps of manifest.yml's `functions`, by callback id. */
export const STEPS = {
  issueCode: 'issue_promo_code',
  issueCodes: 'issue_promo_codes',
  checkCode: 'check_promo_code',
  voidCode: 'void_promo_code',
} as const;

/**
 * Workflow Builder steps. Bolt acknowledges `function_executed` before the
 * listener runs; the work then runs as a background job and ends the step with
 * functions.completeSuccess or functions.completeError on every path, so a
 * step never stays pending. A step acts for its `requested_by` input: that
 * person's role and limits decide through service/access.ts, as for /promo.
 */
export function register(app: App, deps: SlackDeps): void {
  const step = (callbackId: string, work: (inputs: Inputs, client: WebClient) => Promise<Outputs>) => {
    app.function(callbackId, async ({ inputs, complete, fail, client, body }) => {
      let first: boolean;
      try {
        first = await firstDelivery(deps, body);
      } catch (error) {
        // promoset's database cannot record the delivery: end the step rather than leave it pending.
        await runStep(deps, callbackId, () => Promise.reject(error), complete, fail);
        return;
      }
      if (!first) return;
      deps.jobs.run(`workflow step ${callbackId}`, () => runStep(deps, callbackId, () => work(inputs ?? {}, client), complete, fail));
    });
  };
  step(STEPS.issueCode, (inputs, client) => issueCodeStep(deps, client, inputs));
  step(STEPS.issueCodes, (inputs, client) => issueCodesStep(deps, client, inputs));
  step(STEPS.checkCode, (inputs) => checkCodeStep(deps, inputs));
  step(STEPS.voidCode, (inputs) => voidCodeStep(deps, inputs));
}

type Complete = (params: { outputs: Outputs }) => Promise<unknown>;
type Fail = (params: { error: string }) => Promise<unknown>;

async function runStep(deps: SlackDeps, callbackId: string, work: () => Promise<Outputs>, complete: Complete, fail: Fail): Promise<void> {
  let outputs: Outputs;
  try {
    outputs = await work();
  } catch (error) {
    const sentence = stepSentence(error, deps);
    deps.logger.info('workflow step refused', { step: callbackId, error: sentence });
    await fail({ error: sentence }).catch((failed) => deps.logger.error('functions.completeError failed; the step may stay pending', { step: callbackId, error: String(failed) }));
    return;
  }
  try {
    await complete({ outputs });
  } catch (error) {
    // The work is done (codes may be issued); Slack refused the outputs: end the step rather than leave it pending.
    deps.logger.error('functions.completeSuccess failed', { step: callbackId, error: error instanceof Error ? error.message : String(error) });
    await fail({ error: 'promoset did the work but Slack refused its outputs; look in promoset (/promo info) for the result.' }).catch(() => undefined);
  }
}

/** The step's inputs by their Workflow Builder titles, so a sentence about a field names the field the person filled in. */
const INPUT_TITLES: Record<string, string> = { value: 'Value', expiry_date: 'Expiry date', notes: 'Note', amount: 'How many codes', name: 'Code prefix' };

/** The sentence a step ends with: the edge's own (errorText), naming the input it is about. */
function stepSentence(error: unknown, deps: SlackDeps): string {
  const sentence = errorText(error, deps.logger);
  if (error instanceof PromoError) {
    const [field] = Object.keys(error.fields);
    const title = field && INPUT_TITLES[field];
    if (title && !sentence.toLowerCase().includes(title.toLowerCase())) return `${title}: ${sentence}`;
  }
  return sentence;
}

// ---- Inputs ----------------------------------------------------------------------------

const USER_ID = /^[UW][A-Z0-9]{2,20}$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{2,}$/;

const isEmpty = (value: unknown) => value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
const text = (value: unknown) => (isEmpty(value) ? undefined : String(value).trim());

function requestedBy(inputs: Inputs): string {
  const user = text(inputs.requested_by);
  if (user === undefined) {
    throw new PromoError('bad_request', 'This step needs *Requested by*, the person it acts for (their role and limits decide). Set it in Workflow Builder, for example to the person who submitted the form.');
  }
  if (!USER_ID.test(user)) throw new PromoError('bad_request', `*Requested by* must be a Slack user, not "${user.slice(0, 40)}". Pick a person in Workflow Builder.`);
  return user;
}

function optionalUser(inputs: Inputs, name: string, label: string): string | undefined {
  const user = text(inputs[name]);
  if (user !== undefined && !USER_ID.test(user)) throw new PromoError('bad_request', `*${label}* must be a Slack user, not "${user.slice(0, 40)}".`);
  return user;
}

async function setFrom(deps: SlackDeps, inputs: Inputs): Promise<PromoSet> {
  const ref = text(inputs.set);
  if (ref === undefined) throw new PromoError('bad_request', 'This step needs a *Promo set*: its name or id, as /promo list shows it.');
  return findSet(deps.core, ref);
}

/**
 * The customer the codes are bound to (service/bindings.ts): checked here so
 * a bad value ends the step with a sentence before anything is issued.
 */
function customerFrom(inputs: Inputs): { client_id?: number; client_email?: string } {
  const customer: { client_id?: number; client_email?: string } = {};
  const id = text(inputs.client_id);
  if (id !== undefined) {
    if (!/^\d{1,10}$/.test(id) || Number(id) < 1) throw new PromoError('validation_failed', `The WHMCS client id must be a whole number of 1 or more, not "${id.slice(0, 40)}".`, { client_id: 'not a positive whole number' });
    customer.client_id = Number(id);
  }
  const email = text(inputs.client_email);
  if (email !== undefined) {
    if (!EMAIL.test(email)) throw new PromoError('validation_failed', `The customer email "${email.slice(0, 80)}" is not an email address.`, { client_email: 'not an email address' });
    customer.client_email = email;
  }
  return customer;
}

/** The overrides a step takes, under the names the set URL uses (`note` is the promotion's notes). */
function overridesFrom(inputs: Inputs, notes?: string): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  if (!isEmpty(inputs.value)) input.value = String(inputs.value).trim();
  if (!isEmpty(inputs.expiry_date)) input.expiry_date = String(inputs.expiry_date).trim();
  const note = [text(inputs.note), notes].filter(Boolean).join('\n');
  if (note !== '') input.notes = note;
  return input;
}

function amountFrom(inputs: Inputs): unknown {
  if (isEmpty(inputs.amount)) throw new PromoError('bad_request', 'This step needs *How many codes*: a whole number from 1 to 100,000.');
  return inputs.amount;
}

// ---- Steps -----------------------------------------------------------------------------

/** How a step says an ask is over the person's limits: what to do instead. */
const overLimits = (over: string[], set: PromoSet, amount: number) =>
  new PromoError('forbidden', `${overLimitsSentence(over)} To ask a manager for approval, run \`/promo codes ${set.id} ${amount}\` in Slack and give a reason in the form.`);

/**
 * The checks for one code for `userId`, as `/promo code` makes them: the
 * overrides, the set still issuing, the person's role and limits (the code is
 * counted against today's limit now). Returns the issuing itself, which gives
 * the count back if it fails. The shortcuts (shortcuts.ts) check before their
 * modal is acknowledged and issue after.
 */
export async function checkOneFor(deps: SlackDeps, userId: string, set: PromoSet, input: Record<string, unknown>) {
  const { core } = deps;
  const overrides = parseOverrides(input);
  if (set.archived_at !== null) throw setArchived(set);
  const decision = await checkIssue(core, slackActor(userId), set, { amount: 1, overrides });
  if (decision.kind === 'needs_approval') throw overLimits(decision.over, set, 1);
  return {
    release: decision.release,
    issue: () => issueAllowed(decision, () => generatePromotion(core, set, input, `slack:${userId}`)),
  };
}

async function issueCodeStep(deps: SlackDeps, client: WebClient, inputs: Inputs): Promise<Outputs> {
  const userId = requestedBy(inputs);
  const recipient = optionalUser(inputs, 'recipient', 'Send the code to');
  const input = { ...overridesFrom(inputs), ...customerFrom(inputs) };
  const set = await setFrom(deps, inputs);
  const promotion = await (await checkOneFor(deps, userId, set, input)).issue();
  const ids = await promotionIds(deps.core, promotion.code);
  if (recipient) {
    // The code is issued and the step returns it either way; a DM that fails is logged, not a failed step.
    await postToUser(client, recipient, codesMessage(set, [promotion], promotion.id)).catch((error) =>
      deps.logger.warn('the workflow step could not DM the code', { error: error instanceof Error ? error.message : String(error) }));
  }
  return {
    code: promotion.code,
    promotion_id: ids?.id ?? promotion.id,
    expiration_date: promotion.expirationdate,
    ...(ids?.whmcs_id != null ? { whmcs_id: ids.whmcs_id } : {}),
  };
}

async function issueCodesStep(deps: SlackDeps, client: WebClient, inputs: Inputs): Promise<Outputs> {
  const { core } = deps;
  const userId = requestedBy(inputs);
  const request = parseBulkRequest({ amount: amountFrom(inputs), ...overridesFrom(inputs), ...customerFrom(inputs) });
  const set = await setFrom(deps, inputs);
  if (set.archived_at !== null) throw setArchived(set);
  const decision = await checkIssue(core, slackActor(userId), set, { amount: request.amount, overrides: request.overrides });
  if (decision.kind === 'needs_approval') throw overLimits(decision.over, set, request.amount);
  const result = await issueAllowed(decision, () => generatePromotions(core, set, request, `slack:${userId}`));
  // Shared with the person the step acted for: the file lands in their DM with the app.
  const fileId = await uploadBatchCsv(deps, client, await directChannel(client, userId), set, result.batchId, result.count, userId);
  return { batch_id: result.batchId, count: result.count, file_id: fileId };
}

async function checkCodeStep(deps: SlackDeps, inputs: Inputs): Promise<Outputs> {
  const code = text(inputs.code);
  if (code === undefined) throw new PromoError('bad_request', 'This step needs a *Promo code* to check.');
  const set = await setFrom(deps, inputs);
  const validation = await validatePromotion(deps.core, set, code);
  return {
    valid: validation.valid,
    ...(validation.reason ? { reason: validation.reason } : {}),
    uses: validation.promotion.uses,
    max_uses: validation.promotion.maxuses,
  };
}

async function voidCodeStep(deps: SlackDeps, inputs: Inputs): Promise<Outputs> {
  const userId = requestedBy(inputs);
  const code = text(inputs.code);
  if (code === undefined) throw new PromoError('bad_request', 'This step needs a *Promo code* to void.');
  await voidAuthorized(deps.core, slackActor(userId), { codes: [code] }, false);
  const [result] = await voidPromotions(deps.core, [code], `slack:${userId}`);
  return { voided: result?.voided ?? false };
}
