/** Dates are ISO `YYYY-MM-DD` strings everywhere; WHMCS writes "no date" as 0000-00-00. */
export const NO_DATE = '0000-00-00';

/** Today's calendar date in `timeZone`, so "in the future" means the team's today, not the server's. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  let format = dayFormats.get(timeZone);
  if (format === undefined) {
    // en-CA formats as YYYY-MM-DD.
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, format);
  }
  return format.format(now);
}

/** Building an Intl.DateTimeFormat costs far more than using one, and "today" is asked on every request. */
const dayFormats = new Map<string, Intl.DateTimeFormat>();

export function addDays(isoDate: string, days: number): string {
  const [y, m, d] = isoDate.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone });
    return true;
  } catch {
    return false;
  }
}
