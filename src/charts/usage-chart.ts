import { createRequire } from 'node:module';
import { Resvg } from '@resvg/resvg-js';
import { BarChart } from 'echarts/charts';
import { GraphicComponent, GridComponent, LegendComponent, TitleComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

/**
 * Charts as PNG files, drawn in-process: Apache ECharts lays the chart out as
 * SVG on the server (no DOM, no browser) and resvg rasterises it with a font
 * that ships in an npm package (dejavu-fonts-ttf), never a system font and
 * nothing fetched. Knows nothing of promo sets: it draws labelled daily bars.
 */
echarts.use([BarChart, GridComponent, LegendComponent, TitleComponent, GraphicComponent, SVGRenderer]);

const require = createRequire(import.meta.url);
const FONT_FILES = [require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf'), require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf')];
const FONT_FAMILY = 'DejaVu Sans';

/** Where the bars are drawn, in pixels from each edge (tests look for bars inside it). */
export const CHART_LAYOUT = { width: 900, height: 420, grid: { left: 56, right: 24, top: 84, bottom: 56 } } as const;

/** Bar colours, one per series in order: issued (slate blue), redeemed (green), then more. */
export const SERIES_COLOURS = ['#5470c6', '#2e9e4f', '#ee6666', '#fac858'] as const;

export interface BarSeries {
  name: string;
  values: readonly number[];
}

export interface BarChartSpec {
  title: string;
  subtitle?: string;
  /** One label per day (or bucket), oldest first. */
  labels: readonly string[];
  series: readonly BarSeries[];
  /** Shown across the chart when every value is 0 ("No activity in the last 30 days"). */
  emptyText: string;
}

export interface RenderedChart {
  png: Buffer;
  svg: string;
  width: number;
  height: number;
}

/** Draw daily bars as SVG (ECharts' server-side renderer), then a PNG (resvg). */
export function renderBarChart(spec: BarChartSpec): RenderedChart {
  const { width, height, grid } = CHART_LAYOUT;
  const empty = spec.series.every((s) => s.values.every((v) => v === 0));
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({
      animation: false,
      backgroundColor: '#ffffff',
      color: [...SERIES_COLOURS],
      textStyle: { fontFamily: FONT_FAMILY },
      title: { text: spec.title, subtext: spec.subtitle, left: 16, top: 10, textStyle: { fontSize: 16, fontFamily: FONT_FAMILY }, subtextStyle: { fontFamily: FONT_FAMILY } },
      legend: { right: 24, top: 14, textStyle: { fontFamily: FONT_FAMILY } },
      grid: { ...grid, containLabel: false },
      xAxis: { type: 'category', data: spec.labels.map(shortLabel), axisLabel: { fontFamily: FONT_FAMILY, hideOverlap: true } },
      yAxis: { type: 'value', minInterval: 1, max: empty ? 1 : undefined, axisLabel: { fontFamily: FONT_FAMILY } },
      series: spec.series.map((s) => ({ type: 'bar', name: s.name, data: [...s.values], barGap: '10%', barCategoryGap: '25%' })),
      graphic: empty
        ? [{ type: 'text', left: 'center', top: 'middle', style: { text: spec.emptyText, fontSize: 20, fontFamily: FONT_FAMILY, fill: '#6e7079' } }]
        : [],
    });
    const svg = chart.renderToSVGString();
    const png = new Resvg(svg, { background: '#ffffff', font: { fontFiles: FONT_FILES, loadSystemFonts: false, defaultFontFamily: FONT_FAMILY } }).render().asPng();
    return { png, svg, width, height };
  } finally {
    chart.dispose();
  }
}

/** "2026-12-04" → "12-04": the year is in the title's date range. */
function shortLabel(label: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(label) ? label.slice(5) : label;
}
