// What a page of the web UI declares; the registry (pages/index.ts) lists them.
import type { ComponentType } from 'react';

export interface PageProps {
  /** The query of the current URL (`?tag=…`); `wall=1` is handled by the shell. */
  readonly search: URLSearchParams;
}

export interface Page {
  /** The path the page answers, exactly (`/board`); the server answers every page path with the shell. */
  readonly path: string;
  /** The page's name in the nav and the window title. */
  readonly title: string;
  /** Shown in the header's nav when true. */
  readonly nav: boolean;
  readonly component: ComponentType<PageProps>;
}
