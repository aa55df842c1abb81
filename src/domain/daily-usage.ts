import { addDays } from './dates.js';
import { PromoError } from './errors.js';

/** One day's figures of a set, the day being a calendar day in PROMO_TIMEZONE. */
export interface DailyUsage {
  date: string;
  issued: number;
  redeemed: number;
  voided: number;
  rolled_back: number;
}

export const DAILY_USAGE_COLUMNS = ['date', 'issued', 'redeemed', 'voided', 'rolled_back'] as const;

/** The windows people may ask for: Slack's report offers 30d and 90d, the HTTP API any 1..366 days. */
export const MAX_USAGE_DAYS = 366;

/** A local day and the UTC instants it spans: stored times are UTC ISO text, compared as text. */
export interface DayWindow {
  date: string;
  /** First instant of the day, inclusive (ISO, UTC). */
  from: string;
  /** First instant of the next day, exclusive. */
  to: string;
}

/** `days` calendar days in `timeZone` ending with `today`, oldest first, with their UTC bounds (DST-aware). */
export function dayWindows(timeZone: string, today: string, days: number): DayWindow[] {
  const windows: DayWindow[] = [];
  let from = startOfDay(timeZone, addDays(today, 1 - days));
  for (let i = days - 1; i >= 0; i--) {
    const date = addDays(today, -i);
    const to = startOfDay(timeZone, addDays(date, 1));
    windows.push({ date, from, to });
    from = to;
  }
  return windows;
}

/** The UTC instant (ISO) at which local `date` begins in `timeZone`. */
export function startOfDay(timeZone: string, date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d);
  // The offset at the guess, then at the corrected instant: right across a DST change too.
  let instant = guess - offsetMs(timeZone, guess);
  instant = guess - offsetMs(timeZone, instant);
  return new Date(instant).toISOString();
}

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** How far `timeZone`'s wall clock is ahead of UTC at `instant`. */
function offsetMs(timeZone: string, instant: number): number {
  let format = offsetFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    offsetFormats.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return wall - Math.floor(instant / 1000) * 1000;
}

/** Read "30d", "90d" (Slack's report window); anything else is a sentence. */
export function parseReportWindow(text: string | undefined): number {
  if (text === undefined || text === '') return 30;
  const match = /^(30|90)d$/i.exec(text.trim());
  if (!match) throw new PromoError('bad_request', `"${text.slice(0, 20)}" is not a report window: use 30d or 90d, like \`/promo report <set> 90d\`.`, { window: 'must be 30d or 90d' });
  return Number(match[1]);
}

export interface UsageTotals {
  issued: number;
  redeemed: number;
  voided: number;
  rolled_back: number;
}

export function totalsOf(series: readonly DailyUsage[]): UsageTotals {
  const totals = { issued: 0, redeemed: 0, voided: 0, rolled_back: 0 };
  for (const day of series) {
    totals.issued += day.issued;
    totals.redeemed += day.redeemed;
    totals.voided += day.voided;
    totals.rolled_back += day.rolled_back;
  }
  return totals;
}

export function hasActivity(series: readonly DailyUsage[]): boolean {
  return series.some((d) => d.issued + d.redeemed + d.voided + d.rolled_back > 0);
}

/** The daily figures as CSV, header first (the Slack report's file and the HTTP API's text/csv). */
export function dailyUsageCsv(series: readonly DailyUsage[]): string {
  const lines = [DAILY_USAGE_COLUMNS.join(',')];
  for (const d of series) lines.push(`${d.date},${d.issued},${d.redeemed},${d.voided},${d.rolled_back}`);
  return `${lines.join('\n')}\n`;
}
