/** Dates are ISO `YYYY-MM-DD` strings everywhere; WHMCS writes "no date" as 0000-00-00. */
export const NO_DATE = '0000-00-00';

/** Today's calendar date in `timeZone`, so "in the future" means the team's today, not the server's. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  // Every zone's offset is a whole number of minutes, so the date cannot change within a UTC minute.
  const minute = Math.floor(now.getTime() / 60_000);
  const known = lastDay.get(timeZone);
  if (known !== undefined && known.minute === minute) return known.day;
  let format = dayFormats.get(timeZone);
  if (format === undefined) {
    // en-CA formats as YYYY-MM-DD.
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, format);
  }
  const day = format.format(now);
  lastDay.set(timeZone, { minute, day });
  return day;
}

/** Building an Intl.DateTimeFormat costs far more than using one, and "today" is asked on every request. */
const dayFormats = new Map<string, Intl.DateTimeFormat>();
/** Formatting still cost about 2% of a set-URL POST; one answer per zone per minute does. */
const lastDay = new Map<string, { minute: number; day: string }>();

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
