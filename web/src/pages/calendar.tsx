// The calendar pages: the chooser (`/calendar`), a person's (`/calendar/person/ID`), a resource's
// (`/calendar/resource/ID`) and the planner (`/calendar/planner`). Their code loads on the first visit
// to one of them, so the status page and the board stay as small as they were.
import { type ComponentType, lazy, Suspense } from 'react';
import { CALENDAR_PATH, PERSON_PATH, PLANNER_PATH, RESOURCE_PATH } from '../calendar/paths.js';
import type { Page, PageProps } from '../page.js';

type Views = typeof import('../calendar/views/index.js');

// One import for every view: a second calendar page opens without another download.
let views: Promise<Views> | undefined;
const loadViews = () => {
  views ??= import('../calendar/views/index.js');
  return views;
};

function lazyView(pick: (views: Views) => ComponentType<PageProps>): ComponentType<PageProps> {
  const View = lazy(async () => ({ default: pick(await loadViews()) }));
  return function CalendarView(props: PageProps) {
    return (
      <Suspense fallback={<p className="quiet">Loading…</p>}>
        <View {...props} />
      </Suspense>
    );
  };
}

export const calendarPage: Page = { path: CALENDAR_PATH, title: 'Calendar', nav: true, component: lazyView((v) => v.ChooserView) };
export const calendarPersonPage: Page = { path: PERSON_PATH, title: 'Calendar', nav: false, component: lazyView((v) => v.PersonView) };
export const calendarResourcePage: Page = {
  path: RESOURCE_PATH,
  title: 'Calendar',
  nav: false,
  component: lazyView((v) => v.ResourceView),
};
export const calendarPlannerPage: Page = { path: PLANNER_PATH, title: 'Planner', nav: false, component: lazyView((v) => v.PlannerView) };
