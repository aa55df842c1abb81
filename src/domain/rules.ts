/** The seed's two error sentences, verbatim: clients match on them. */
export const DATE_RULES = {
  expiryInPast: 'The expiry date must be a date in the future.',
  expiryBeforeStart: 'The expiry date must be later than the start date.',
} as const;

export function checkDates(start: string | null, expiry: string | null, today: string, { checkFuture = true } = {}): string | undefined {
  if (expiry === null) return undefined;
  if (checkFuture && expiry < today) return DATE_RULES.expiryInPast;
  if (start !== null && expiry <= start) return DATE_RULES.expiryBeforeStart;
  return undefined;
}
