import { randomUUID } from 'node:crypto';
import { addDays, todayIn } from '../domain/dates.js';
import { dayWindows, startOfDay, totalsOf, type DailyUsage, type UsageTotals } from '../domain/daily-usage.js';
import { PromoError } from '../domain/errors.js';
import type { PromoSet } from '../domain/set.js';
import { batchesWithoutRedemption, claimDigest, codesNearMaxUses, deleteDigest, finishDigest, listDigests, releaseDigest, upsertDigest, type DigestFrequency, type DigestSubscription } from '../store/digests.js';
import { listSetRows } from '../store/sets.js';
import { cachedChart, drawUsageChart, describeUsage, usageSeries, type ChartFile, type ChartUpload } from './charts.js';
import { nowIso, today, type Core } from './core.js';

/**
 * Scheduled digests: a channel asks for a daily or weekly summary, posted at
 * PROMO_DIGEST_HOUR in PROMO_TIMEZONE (weekly: on Mondays). Each period is
 * sent once whatever the number of instances: every instance ticks, and the
 * one whose conditional UPDATE takes the row's lease sends it, then records
 * the period (store/digests.ts). A sender that dies mid-way leaves a lease
 * that runs out, so another instance (or the restarted one) sends it.
 * At least once: a crash after Slack took the message but before the period
 * was recorded sends it again.
 */
export type { DigestFrequency, DigestSubscription } from '../store/digests.js';
const LEASE_MS = 5 * 60 * 1000;
const EXPIRY_ALERT_DAYS = 7;
const IDLE_BATCH_DAYS = 14;
/** Batches older than this are no longer news: the alert names those that turned 14 days idle within it. */
const IDLE_BATCH_HORIZON_DAYS = 90;
const ALERT_ROWS = 10;

export interface DigestSchedule {
  hour: number;
}

/** The period whose digest is due at `now`: the last scheduled moment (hour, local; weekly on Mondays) at or before now. */
export function duePeriod(frequency: DigestFrequency, now: Date, timeZone: string, hour: number): string {
  let date = todayIn(timeZone, now);
  if (now.toISOString() < scheduledInstant(timeZone, date, hour)) date = addDays(date, -1);
  if (frequency === 'weekly') {
    // Back to the Monday of that week (getUTCDay of a date string's UTC midnight is its weekday).
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    date = addDays(date, -((weekday + 6) % 7));
    // A Monday whose hour has not come yet belongs to the week before.
    if (now.toISOString() < scheduledInstant(timeZone, date, hour)) date = addDays(date, -7);
  }
  return date;
}

/** When the digest for local `date` is due: `hour`:00 local time, as an ISO instant. */
function scheduledInstant(timeZone: string, date: string, hour: number): string {
  return new Date(Date.parse(startOfDay(timeZone, date)) + hour * 3600_000).toISOString();
}

/** "09:00 Europe/Berlin" */
export function digestTime(core: Core, schedule: DigestSchedule): string {
  return `${String(schedule.hour).padStart(2, '0')}:00 ${core.timeZone}`;
}

/**
 * Subscribe a channel (or change its frequency): the first digest comes at the
 * next scheduled time, not at once. `off` removes it; false when there was none.
 */
export async function setDigest(core: Core, schedule: DigestSchedule, channelId: string, frequency: DigestFrequency | 'off', actor: string): Promise<boolean> {
  if (!/^[CGD][A-Z0-9]{2,}$/.test(channelId)) throw new PromoError('bad_request', 'Name the channel as #channel (pick it from Slack\'s list as you type).', { channel: 'must be a channel' });
  if (frequency === 'off') return deleteDigest(core.db, channelId);
  await upsertDigest(core.db, channelId, frequency, actor, nowIso(core), duePeriod(frequency, core.now(), core.timeZone, schedule.hour));
  return true;
}

export function listDigestSubscriptions(core: Core): Promise<DigestSubscription[]> {
  return listDigests(core.db);
}

export interface DigestSetLine {
  set: PromoSet;
  /** Over the digest's period (yesterday and today so far, or the last 7 days). */
  period: UsageTotals;
  /** Over the 30 days of the chart. */
  month: UsageTotals;
}

export interface Digest {
  frequency: DigestFrequency;
  period: string;
  from: string;
  to: string;
  sets: DigestSetLine[];
  /** Issued and redeemed per day over 30 days, all live sets together. */
  combined: DailyUsage[];
  expiring: { set: PromoSet; expires: string; daysLeft: number }[];
  nearlyUsedUp: { set: PromoSet; code: string; uses: number; maxUses: number }[];
  idleBatches: { set: PromoSet; batchId: number; count: number; createdAt: string }[];
}

/** The digest's content: every live set (not archived, not expired) with its figures, the combined series, and the alerts. */
export async function buildDigest(core: Core, frequency: DigestFrequency, period: string): Promise<Digest> {
  const day = today(core);
  const live = (await listSetRows(core.db)).filter((set) => !set.expiration_date || set.expiration_date === '0000-00-00' || set.expiration_date >= day);
  const windows = dayWindows(core.timeZone, day, 30);
  const periodDays = frequency === 'daily' ? 2 : 7;
  const sets: DigestSetLine[] = [];
  const combined: DailyUsage[] = windows.map((w) => ({ date: w.date, issued: 0, redeemed: 0, voided: 0, rolled_back: 0 }));
  for (const set of live) {
    const series = await usageSeries(core, set.id, windows);
    series.forEach((d, i) => {
      combined[i].issued += d.issued;
      combined[i].redeemed += d.redeemed;
      combined[i].voided += d.voided;
      combined[i].rolled_back += d.rolled_back;
    });
    sets.push({ set, period: totalsOf(series.slice(-periodDays)), month: totalsOf(series) });
  }
  const byId = new Map(live.map((s) => [s.id, s]));
  const ids = live.map((s) => s.id);
  const horizon = addDays(day, EXPIRY_ALERT_DAYS);
  const expiring = live
    .filter((s) => s.expiration_date && s.expiration_date !== '0000-00-00' && s.expiration_date <= horizon)
    .map((s) => ({ set: s, expires: s.expiration_date!, daysLeft: Math.round((Date.parse(s.expiration_date!) - Date.parse(day)) / 86_400_000) }))
    .sort((a, b) => a.expires.localeCompare(b.expires));
  const now = core.now().getTime();
  const nearlyUsedUp = (await codesNearMaxUses(core.db, ids, ALERT_ROWS)).map((c) => ({ set: byId.get(c.setId)!, code: c.code, uses: c.uses, maxUses: c.maxUses }));
  const idleBatches = (await batchesWithoutRedemption(core.db, ids, new Date(now - IDLE_BATCH_HORIZON_DAYS * 86_400_000).toISOString(), new Date(now - IDLE_BATCH_DAYS * 86_400_000).toISOString(), ALERT_ROWS))
    .map((b) => ({ set: byId.get(b.setId)!, batchId: b.batchId, count: b.count, createdAt: b.createdAt }));
  return { frequency, period, from: windows[windows.length - periodDays].date, to: day, sets, combined, expiring, nearlyUsedUp, idleBatches };
}

/** The digest's combined chart, drawn once per period and kind, whatever the number of channels. */
export async function digestChart(core: Core, digest: Digest, upload: ChartUpload): Promise<ChartFile> {
  const name = 'All live sets';
  const words = describeUsage(name, digest.combined);
  return cachedChart(core, `digest:${digest.frequency}:${digest.period}`, digest.combined, async () => {
    const chart = drawUsageChart(name, digest.combined);
    const fileId = await upload({ png: chart.png, filename: `promoset-digest-${digest.period}.png`, title: chart.title, altText: chart.altText });
    return { fileId, altText: chart.altText, title: chart.title };
  }, words);
}

/** What a sender says happened. `skip`: this period cannot go to that channel (not in it): recorded as done. */
export type DigestOutcome = 'sent' | 'skip';

export type DigestSender = (subscription: DigestSubscription, digest: Digest) => Promise<DigestOutcome>;

export interface DigestRunner {
  /** One pass: send every due digest this instance wins. Returns the channels it sent to. */
  tick(): Promise<string[]>;
  stop(): void;
}

/**
 * Every instance runs one; each tick (a minute by default) looks for due
 * subscriptions and sends those whose lease it takes. `now` comes from core
 * (tests inject a clock); nothing waits on wall time but the interval.
 */
export function startDigests(core: Core, schedule: DigestSchedule, send: DigestSender, options: { intervalMs?: number; onError?: (error: unknown) => void; autoStart?: boolean } = {}): DigestRunner {
  const owner = randomUUID();
  let running: Promise<string[]> | undefined;
  const tick = async (): Promise<string[]> => {
    const sent: string[] = [];
    const built = new Map<string, Promise<Digest>>();
    for (const subscription of await listDigests(core.db)) {
      const period = duePeriod(subscription.frequency, core.now(), core.timeZone, schedule.hour);
      if (subscription.lastPeriod !== null && subscription.lastPeriod >= period) continue;
      const now = core.now();
      if (!(await claimDigest(core.db, subscription.channelId, period, owner, now.toISOString(), new Date(now.getTime() + LEASE_MS).toISOString()))) continue;
      try {
        const key = `${subscription.frequency}:${period}`;
        if (!built.has(key)) built.set(key, buildDigest(core, subscription.frequency, period));
        const outcome = await send(subscription, await built.get(key)!);
        await finishDigest(core.db, subscription.channelId, period, owner);
        if (outcome === 'sent') sent.push(subscription.channelId);
      } catch (error) {
        await releaseDigest(core.db, subscription.channelId, owner).catch(() => undefined);
        options.onError?.(error);
      }
    }
    return sent;
  };
  const once = () => {
    running ??= tick().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = options.autoStart === false ? undefined : setInterval(() => void once().catch((error) => options.onError?.(error)), options.intervalMs ?? 60_000);
  timer?.unref();
  return {
    tick: once,
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
