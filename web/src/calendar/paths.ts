// The calendar pages' addresses: building them, and reading the agent's id back from the path.
import type { DateKey } from './time.js';

export const CALENDAR_PATH = '/calendar';
export const PERSON_PATH = '/calendar/person';
export const RESOURCE_PATH = '/calendar/resource';
export const PLANNER_PATH = '/calendar/planner';

const withQuery = (path: string, params: Record<string, string | undefined>): string => {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) q.set(key, value);
  const text = q.toString();
  return text ? `${path}?${text}` : path;
};

export const personHref = (id: string, start?: DateKey) => withQuery(`${PERSON_PATH}/${encodeURIComponent(id)}`, { start });
export const resourceHref = (id: string, start?: DateKey) => withQuery(`${RESOURCE_PATH}/${encodeURIComponent(id)}`, { start });

export interface PlannerQuery {
  readonly from?: string | undefined;
  readonly who?: readonly string[] | undefined;
  readonly date?: DateKey | undefined;
  readonly view?: 'day' | 'week' | undefined;
}

export const plannerHref = (q: PlannerQuery) =>
  withQuery(PLANNER_PATH, {
    from: q.from,
    who: q.who?.length ? q.who.join(',') : undefined,
    date: q.date,
    view: q.view === 'week' ? 'week' : undefined,
  });

/** The id in `/calendar/person/ID` under `prefix`, decoded; undefined when the path has none or a bad escape. */
export function idFromPath(pathname: string, prefix: string): string | undefined {
  const path = pathname.replace(/\/+$/, '');
  if (!path.startsWith(`${prefix}/`)) return undefined;
  const rest = path.slice(prefix.length + 1);
  if (!rest || rest.includes('/')) return undefined;
  try {
    return decodeURIComponent(rest);
  } catch {
    return undefined;
  }
}
