// The helpline pages: the client page (`/helpline`), where an anonymous visitor asks for a chat, and
// the staff console (`/helpline/staff`). Their code loads on the first visit to one of them.
import { type ComponentType, lazy, Suspense } from 'react';
import type { Page, PageProps } from '../page.js';

type Views = typeof import('../helpline/views.js');

let views: Promise<Views> | undefined;
const loadViews = () => {
  views ??= import('../helpline/views.js');
  return views;
};

function lazyView(pick: (views: Views) => ComponentType<PageProps>): ComponentType<PageProps> {
  const View = lazy(async () => ({ default: pick(await loadViews()) }));
  return function HelplineView(props: PageProps) {
    return (
      <Suspense fallback={<p className="quiet">Loading…</p>}>
        <View {...props} />
      </Suspense>
    );
  };
}

export const helplinePage: Page = { path: '/helpline', title: 'Helpline', nav: true, component: lazyView((v) => v.ClientView) };
export const helplineStaffPage: Page = {
  path: '/helpline/staff',
  title: 'Helpline staff',
  nav: false,
  component: lazyView((v) => v.StaffView),
};
