import { createHash } from 'node:crypto';
import { renderBarChart, type RenderedChart } from '../charts/usage-chart.js';
import { dayWindows, hasActivity, totalsOf, type DailyUsage, type DayWindow } from '../domain/daily-usage.js';
import { PromoError } from '../domain/errors.js';
import { truncate } from '../domain/text.js';
import type { PromoSet } from '../domain/set.js';
import { claimChartDrawing, findChartImage, recordChartDrawn, releaseChartDrawing } from '../store/charts.js';
import { dailyUsageOfSet, setsMostUsedBy } from '../store/daily-usage.js';
import { nowIso, today, type Core } from './core.js';
import { MAX_USAGE_DAYS } from '../domain/daily-usage.js';

/**
 * Usage charts: the daily figures of a set (store/daily-usage.ts), drawn as a
 * PNG (charts/usage-chart.ts) and handed to a transport's uploader (Slack's
 * files.getUploadURLExternal + completeUploadExternal), whose file id is kept
 * in chart_images. A chart is drawn again only when its figures changed and
 * at most every REDRAW_MS, across instances: the row's lease lets one
 * instance draw while the others show the previous file.
 */
export const REDRAW_MS = 10 * 60 * 1000;
const DRAW_LEASE_MS = 60 * 1000;

/** A transport's way to store a PNG where its surface can show it; returns the file's id. */
export type ChartUpload = (file: { png: Buffer; filename: string; title: string; altText: string }) => Promise<string>;

export interface ChartFile {
  fileId: string;
  altText: string;
  title: string;
  /** False when an earlier drawing was shown again. */
  drawn: boolean;
}

/** The set's figures for the last `days` local days (PROMO_TIMEZONE), oldest first, today included. */
export async function dailyUsage(core: Core, setId: number, days: number): Promise<DailyUsage[]> {
  if (!Number.isInteger(days) || days < 1 || days > MAX_USAGE_DAYS) {
    throw new PromoError('bad_request', `days must be a whole number from 1 to ${MAX_USAGE_DAYS}.`, { days: `must be 1 to ${MAX_USAGE_DAYS}` });
  }
  return usageSeries(core, setId, dayWindows(core.timeZone, today(core), days));
}

/**
 * A day's counts are kept once it ended this long ago: long after any write
 * stamped within it can still commit (a WHMCS batch's pending window, an
 * instance whose clock lags a little).
 */
const CLOSED_DAY_GRACE_MS = 60 * 60 * 1000;

/** The figures of `windows` (local days): store/daily-usage.ts keeps closed days, counts the rest. */
export function usageSeries(core: Core, setId: number, windows: readonly DayWindow[]): Promise<DailyUsage[]> {
  return dailyUsageOfSet(core.db, setId, core.timeZone, windows, new Date(core.now().getTime() - CLOSED_DAY_GRACE_MS).toISOString());
}

const n = (value: number) => value.toLocaleString('en-US');

/** Shortened for plain text (titles, alt text): a cut never leaves what looks like half an HTML entity (`&am…`). */
export function plainShort(text: string, max: number): string {
  return truncate(text, max).replace(/&(a|am|amp|l|lt|g|gt)?…$/, '…');
}

/** The words of a usage chart: its title (totals), and alt text that states the numbers. */
export function describeUsage(fullName: string, series: readonly DailyUsage[]): { title: string; subtitle: string; altText: string; emptyText: string } {
  // Alt text has 2,000 characters for everything; a long name must not take them.
  const name = plainShort(fullName, 200);
  const totals = totalsOf(series);
  const first = series[0]?.date ?? '';
  const last = series.at(-1)?.date ?? '';
  const span = `the last ${series.length} days`;
  const title = `${plainShort(name, 60)}: ${n(totals.issued)} issued, ${n(totals.redeemed)} redeemed in ${series.length} days`;
  const subtitle = `Codes issued and redeemed per day, ${first} to ${last}`;
  const emptyText = `No activity in ${span}`;
  if (!hasActivity(series)) {
    return { title, subtitle, emptyText, altText: `Chart of codes issued and redeemed per day for ${name}, ${first} to ${last}: no activity, 0 issued and 0 redeemed.` };
  }
  const busiest = (key: 'issued' | 'redeemed') => series.reduce((best, d) => (d[key] > best[key] ? d : best), series[0]);
  const parts = [`Chart of codes issued and redeemed per day for ${name}, ${first} to ${last}: ${n(totals.issued)} issued and ${n(totals.redeemed)} redeemed in total`];
  if (totals.voided || totals.rolled_back) parts.push(`(${n(totals.voided)} voided, ${n(totals.rolled_back)} redemptions rolled back)`);
  const peaks: string[] = [];
  if (totals.issued) peaks.push(`most issued on ${busiest('issued').date} (${n(busiest('issued').issued)})`);
  if (totals.redeemed) peaks.push(`most redeemed on ${busiest('redeemed').date} (${n(busiest('redeemed').redeemed)})`);
  let altText = `${parts.join(' ')}; ${peaks.join(', ')}.`;
  // The days themselves, while they fit Slack's 2,000-character alt text.
  const days = series.filter((d) => d.issued || d.redeemed).map((d) => `${d.date}: ${n(d.issued)} issued, ${n(d.redeemed)} redeemed`);
  const withDays = `${altText} By day: ${days.join('; ')}.`;
  if (withDays.length <= 1900) altText = withDays;
  return { title, subtitle, altText, emptyText };
}

/** Draw a usage chart (issued and redeemed per day) for `name` from its daily figures. */
export function drawUsageChart(name: string, series: readonly DailyUsage[]): RenderedChart & { altText: string; title: string } {
  const words = describeUsage(name, series);
  const chart = renderBarChart({
    title: words.title,
    subtitle: words.subtitle,
    labels: series.map((d) => d.date),
    series: [
      { name: 'Issued', values: series.map((d) => d.issued) },
      { name: 'Redeemed', values: series.map((d) => d.redeemed) },
    ],
    emptyText: words.emptyText,
  });
  return { ...chart, altText: words.altText, title: words.title };
}

/**
 * The Slack file showing `key`'s chart: the stored one while its figures are
 * unchanged or it is younger than REDRAW_MS, else `draw` again (one instance
 * at a time; the others show the stored file meanwhile).
 */
export async function cachedChart(core: Core, key: string, figures: unknown, draw: () => Promise<{ fileId: string; altText: string; title: string }>, described: { altText: string; title: string }): Promise<ChartFile> {
  const hash = createHash('sha256').update(JSON.stringify(figures)).digest('hex');
  const now = core.now();
  const stored = await findChartImage(core.db, key);
  const young = stored?.drawnAt !== null && stored?.drawnAt !== undefined && now.getTime() - Date.parse(stored.drawnAt) < REDRAW_MS;
  if (stored?.fileId && (stored.dataHash === hash || young)) return { fileId: stored.fileId, ...described, drawn: false };
  if (!(await claimChartDrawing(core.db, key, now.toISOString(), new Date(now.getTime() + DRAW_LEASE_MS).toISOString()))) {
    // Another instance is drawing it: show the previous drawing, or (first ever) draw one unrecorded.
    if (stored?.fileId) return { fileId: stored.fileId, ...described, drawn: false };
    return { ...(await draw()), drawn: true };
  }
  try {
    const drawn = await draw();
    await recordChartDrawn(core.db, key, hash, drawn.fileId, nowIso(core));
    return { ...drawn, drawn: true };
  } catch (error) {
    await releaseChartDrawing(core.db, key).catch(() => undefined);
    throw error;
  }
}

/** A set's usage chart over `days` days, uploaded through `upload` when it needs drawing. */
export async function setUsageChart(core: Core, set: PromoSet, days: number, upload: ChartUpload): Promise<ChartFile & { series: DailyUsage[] }> {
  const series = await dailyUsage(core, set.id, days);
  const words = describeUsage(set.name, series);
  const file = await cachedChart(core, `set:${set.id}:${days}`, { name: set.name, series }, async () => {
    const chart = drawUsageChart(set.name, series);
    const fileId = await upload({ png: chart.png, filename: `${slug(set.name)}-usage-${days}d.png`, title: chart.title, altText: chart.altText });
    return { fileId, altText: chart.altText, title: chart.title };
  }, words);
  return { ...file, series };
}

/** The sets whose charts App Home shows a person: those they issued most codes from. */
export async function mostUsedSetIds(core: Core, actor: string, limit = 3): Promise<number[]> {
  return setsMostUsedBy(core.db, actor, limit);
}

export function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'set';
}
