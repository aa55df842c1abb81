import { describe, expect, it } from 'vitest';
import { CHART_LAYOUT, SERIES_COLOURS } from '../../src/charts/usage-chart.js';
import { dayWindows, parseReportWindow, startOfDay, type DailyUsage } from '../../src/domain/daily-usage.js';
import { describeUsage, drawUsageChart } from '../../src/service/charts.js';
import { countColour, decodePng, distinctColours, redeemedPixelsOfDay } from '../support/png.js';

const day = (date: string, issued: number, redeemed: number): DailyUsage => ({ date, issued, redeemed, voided: 0, rolled_back: 0 });
const series30 = (last: DailyUsage[]) => {
  const windows = dayWindows('UTC', last.at(-1)!.date, 30);
  return windows.map((w) => last.find((d) => d.date === w.date) ?? day(w.date, 0, 0));
};

describe('usage chart PNG', () => {
  it('is a PNG of the chart size, under 200 KB, not blank, with issued and redeemed bars', () => {
    const chart = drawUsageChart('Spring sale', series30([day('2026-12-01', 40, 3), day('2026-12-02', 12, 10), day('2026-12-03', 0, 0)]));
    expect(chart.png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(chart.png.length).toBeLessThan(200 * 1024);
    const png = decodePng(chart.png);
    expect([png.width, png.height]).toEqual([CHART_LAYOUT.width, CHART_LAYOUT.height]);
    expect(distinctColours(png)).toBeGreaterThan(10);
    expect(countColour(png, SERIES_COLOURS[0])).toBeGreaterThan(500);
    expect(countColour(png, SERIES_COLOURS[1])).toBeGreaterThan(200);
    expect(chart.title).toBe('Spring sale: 52 issued, 13 redeemed in 30 days');
    expect(chart.altText).toContain('52 issued and 13 redeemed in total');
    expect(chart.altText).toContain('2026-12-02: 12 issued, 10 redeemed');
  });

  it('draws 10 redemptions on one day as a bar bigger than the next day\'s none', () => {
    const series = series30([day('2026-12-02', 0, 10), day('2026-12-03', 0, 0)]);
    const png = decodePng(drawUsageChart('Bars', series).png);
    const first = redeemedPixelsOfDay(png, 28, 30);
    const second = redeemedPixelsOfDay(png, 29, 30);
    expect(first).toBeGreaterThan(1000);
    expect(second).toBe(0);
    expect(first).toBeGreaterThan(second);
  });

  it('an empty series draws a chart that says there was no activity (text, no bars)', () => {
    const series = series30([day('2026-12-03', 0, 0)]);
    const chart = drawUsageChart('Quiet', series);
    expect(chart.svg).toContain('No activity in the last 30 days');
    const png = decodePng(chart.png);
    expect(distinctColours(png)).toBeGreaterThan(5);
    // The legend swatches are the only bar-coloured pixels: none in the plot area.
    const { grid, width, height } = CHART_LAYOUT;
    expect(countColour(png, SERIES_COLOURS[1], grid.left, width - grid.right, grid.top, height - grid.bottom)).toBe(0);
    expect(describeUsage('Quiet', series).altText).toContain('no activity, 0 issued and 0 redeemed');
  });
});

describe('days in PROMO_TIMEZONE', () => {
  it('a day starts at local midnight, across a DST change', () => {
    expect(startOfDay('UTC', '2026-03-29')).toBe('2026-03-29T00:00:00.000Z');
    expect(startOfDay('Europe/Berlin', '2026-03-29')).toBe('2026-03-28T23:00:00.000Z');
    expect(startOfDay('Europe/Berlin', '2026-03-30')).toBe('2026-03-29T22:00:00.000Z');
    expect(startOfDay('Asia/Kathmandu', '2026-01-01')).toBe('2025-12-31T18:15:00.000Z');
    const windows = dayWindows('Europe/Berlin', '2026-03-30', 3);
    expect(windows.map((w) => w.date)).toEqual(['2026-03-28', '2026-03-29', '2026-03-30']);
    // The DST day is 23 hours long, and the days touch.
    expect(Date.parse(windows[1].to) - Date.parse(windows[1].from)).toBe(23 * 3600_000);
    expect(windows[0].to).toBe(windows[1].from);
  });

  it('report windows are 30d or 90d; anything else is a sentence', () => {
    expect(parseReportWindow(undefined)).toBe(30);
    expect(parseReportWindow('90d')).toBe(90);
    expect(() => parseReportWindow('7x')).toThrow('"7x" is not a report window: use 30d or 90d');
  });
});
