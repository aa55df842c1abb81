import { PromoError } from './errors.js';

/** One page of a long list: which slice to show, and how many pages there are. */
export interface PageWindow {
  page: number;
  pages: number;
  total: number;
  /** Index of the page's first item. */
  offset: number;
  size: number;
}

/**
 * The window for page `page` (1-based) of `total` items, `size` a page.
 * An empty list has one (empty) page. A page past the end is refused with a
 * sentence that names the pages there are.
 */
export function pageWindow(total: number, page: number, size: number, noun: string): PageWindow {
  const pages = Math.max(1, Math.ceil(total / size));
  if (page > pages) {
    throw new PromoError('bad_request', pages === 1 ? `There is only one page of ${noun}; leave out the page number.` : `There is no page ${page}: there are ${pages} pages of ${noun} (1 to ${pages}).`, { page: `Use 1 to ${pages}.` });
  }
  return { page, pages, total, offset: (page - 1) * size, size };
}
