// The page registry: every page of the web UI, in nav order. A new page is one file in this folder
// that exports a `Page`, plus one line here.
import type { Page } from '../page.js';
import { boardPage } from './board.js';
import { statusPage } from './status.js';

export const pages: readonly Page[] = [statusPage, boardPage];

export function findPage(pathname: string): Page | undefined {
  // `/board/` is the same page as `/board`.
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  return pages.find((page) => page.path === path);
}
