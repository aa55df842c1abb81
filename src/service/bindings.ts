import { bindingOf, bindingUsesNote, describeBinding, parseCustomerQuery, type Binding } from '../domain/binding.js';
import { PromoError } from '../domain/errors.js';
import { parseOverrides, toWhmcsPromotion, type WhmcsPromotion } from '../domain/promotion.js';
import { countBoundInSet, findBoundPromotions } from '../store/bindings.js';
import { listSetNames } from '../store/sets.js';
import { batchTerms } from './redemptions.js';
import type { Core } from './core.js';

/**
 * Codes bound to one customer (DESIGN.md): what every transport asks about
 * bindings, in one place. Binding itself happens where codes are issued
 * (generate.ts, single-codes.ts), in the issuing transaction.
 */

export type { Binding } from '../domain/binding.js';
export { bindingUsesNote, describeBinding } from '../domain/binding.js';

/** The binding a single-code request asks for (its fields already validated by issuing). */
export function requestedBinding(input: Record<string, unknown>): Binding | null {
  return bindingOf(parseOverrides(input));
}

/**
 * The reply header a bound code is issued with: seed 001's POST body is
 * WHMCS's exact shape, so the binding travels beside it, not in it.
 * `client_id=42; client_email=ann@example.com`
 */
export function bindingHeader(binding: Binding): string {
  const parts = [];
  if (binding.client_id !== null) parts.push(`client_id=${binding.client_id}`);
  if (binding.client_email !== null) parts.push(`client_email=${binding.client_email}`);
  return parts.join('; ');
}

export interface CustomerPromotion extends WhmcsPromotion {
  set_id: number;
  set_name: string;
  voided: boolean;
  client_id: number | null;
  client_email: string | null;
}

export const CODES_FOR_LIMIT = 200;

/** `/promo codes-for`, `GET /api/clients/{client}/promotions`, `promoset codes for`: a customer's bound codes, newest first. */
export async function promotionsForCustomer(core: Core, query: string, limit = CODES_FOR_LIMIT): Promise<{ customer: string; promotions: CustomerPromotion[] }> {
  if (query.trim() === '') throw PromoError.validation({ client: 'Name the customer by WHMCS client id (such as 42) or e-mail address.' });
  const customer = parseCustomerQuery(query);
  const rows = await findBoundPromotions(core.db, customer, limit);
  const names = new Map((await listSetNames(core.db)).map((set) => [set.id, set.name]));
  const promotions: CustomerPromotion[] = [];
  for (const row of rows) {
    const terms = await batchTerms(core, core.db, row.batch_id);
    promotions.push({
      ...toWhmcsPromotion(row.id, row.code, row.uses, terms),
      set_id: row.set_id, set_name: names.get(row.set_id) ?? String(row.set_id), voided: row.voided, ...row.binding,
    });
  }
  return { customer: 'clientId' in customer ? `client ${customer.clientId}` : customer.email, promotions };
}

/** How many of a set's codes are bound (`/promo info`). */
export function boundCodesOfSet(core: Core, setId: number): Promise<number> {
  return countBoundInSet(core.db, setId);
}

/** One line for Slack and the CLI: "XABKKA · Welcome back · 0/1 uses · client 42 (ann@example.com)". */
export function customerPromotionLine(p: CustomerPromotion): string {
  const uses = p.maxuses === 0 ? `${p.uses} uses` : `${p.uses}/${p.maxuses} uses`;
  const state = p.voided ? ' · voided' : '';
  return `${p.code} · ${p.set_name} · ${uses}${state} · ${describeBinding(p)}`;
}

/** The sentence a reply adds for a bound code whose set allows more than one use. */
export function bindingNoteFor(maxuses: number): string | null {
  return bindingUsesNote(maxuses);
}
