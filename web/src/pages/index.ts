// The page registry: every page of the web UI, in nav order. A new page is one file in this folder
// that exports a `Page`, plus one line here.
import type { Page } from '../page.js';
import { boardPage } from './board.js';
import { calendarPage, calendarPersonPage, calendarPlannerPage, calendarResourcePage } from './calendar.js';
import { helplinePage, helplineStaffPage } from './helpline.js';
import { statusPage } from './status.js';

export const pages: readonly Page[] = [
  statusPage,
  boardPage,
  calendarPage,
  calendarPlannerPage,
  calendarPersonPage,
  calendarResourcePage,
  helplinePage,
  helplineStaffPage,
];

// Pages whose path takes one more segment, an id (`/calendar/person/ann`); the page reads it from the location.
const withId: readonly Page[] = [calendarPersonPage, calendarResourcePage];

export function findPage(pathname: string): Page | undefined {
  // `/board/` is the same page as `/board`.
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  const exact = pages.find((page) => page.path === path);
  if (exact) return exact;
  const parent = path.slice(0, path.lastIndexOf('/'));
  return withId.find((page) => page.path === parent);
}
