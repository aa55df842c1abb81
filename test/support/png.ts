import { PNG } from 'pngjs';
import { CHART_LAYOUT, SERIES_COLOURS } from '../../src/charts/usage-chart.js';

export interface DecodedPng {
  width: number;
  height: number;
  data: Buffer;
}

export function decodePng(bytes: Buffer): DecodedPng {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, data: png.data };
}

const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

/** Pixels within `tolerance` of `hex` in the rectangle [x0, x1) × [y0, y1). */
export function countColour(png: DecodedPng, hex: string, x0 = 0, x1 = png.width, y0 = 0, y1 = png.height, tolerance = 24): number {
  const [r, g, b] = rgb(hex);
  let n = 0;
  for (let y = Math.max(0, y0); y < Math.min(png.height, y1); y++) {
    for (let x = Math.max(0, Math.floor(x0)); x < Math.min(png.width, Math.ceil(x1)); x++) {
      const i = (y * png.width + x) * 4;
      if (Math.abs(png.data[i] - r) <= tolerance && Math.abs(png.data[i + 1] - g) <= tolerance && Math.abs(png.data[i + 2] - b) <= tolerance) n++;
    }
  }
  return n;
}

/** How many distinct colours the image has (a blank image has one). */
export function distinctColours(png: DecodedPng): number {
  const seen = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) seen.add(png.data.readUInt32BE(i));
  return seen.size;
}

/** Redeemed-bar pixels inside the plot area of category `index` of `categories` (the layout the renderer uses). */
export function redeemedPixelsOfDay(png: DecodedPng, index: number, categories: number): number {
  const { grid, width, height } = CHART_LAYOUT;
  const plot = width - grid.left - grid.right;
  const w = plot / categories;
  return countColour(png, SERIES_COLOURS[1], grid.left + index * w, grid.left + (index + 1) * w, grid.top, height - grid.bottom);
}
