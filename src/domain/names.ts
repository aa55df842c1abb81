/** Did-you-mean: the names closest to what a person typed. */
export function closestNames(wanted: string, candidates: { name: string }[]): string[] {
  const target = wanted.toLowerCase();
  return candidates
    .map(({ name }) => ({ name, distance: name.toLowerCase().includes(target) ? 0 : editDistance(target, name.toLowerCase()) }))
    .filter(({ distance, name }) => distance <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, 3)
    .map(({ name }) => name);
}

/**
 * Field names: a typo (promo_valeu) is one or two edits from the real name,
 * and a few names people bring from another of promoset's shapes (WHMCS's
 * expiration_date on a single code, whose field is expiry_date) are matched
 * by meaning, not spelling: SAME_MEANING lists those, per real name.
 */
const SAME_MEANING: Record<string, string[]> = {
  expiry_date: ['expiration_date', 'expirationdate', 'expires', 'expiry'],
  expiration_date: ['expiry_date', 'expirationdate', 'expires', 'expiry'],
  value: ['promo_value', 'amount_off', 'discount'],
  promo_value: ['value', 'discount'],
  promo_code_type: ['type', 'code_type', 'discount_type'],
  code_alphabet: ['code_type', 'alphabet'],
  code_type: ['code_alphabet', 'alphabet'],
  name: ['code_prefix', 'prefix'],
  code_prefix: ['prefix'],
  start_date: ['startdate'],
  max_uses: ['maxuses', 'uses'],
};

/** The known name closest to `unknown`, if one is close enough to be what was meant. */
export function closestField(unknown: string, known: readonly string[]): string | undefined {
  const wanted = unknown.trim().toLowerCase();
  const bySense = known.find((name) => SAME_MEANING[name]?.includes(wanted));
  if (bySense) return bySense;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(wanted, name);
    if (distance <= Math.max(1, Math.min(2, Math.floor(name.length / 4))) && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit (valeu -> value); set names use it too. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
    }
  }
  return rows[a.length][b.length];
}
