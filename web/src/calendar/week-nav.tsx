// The week picker of the person and resource pages: the week shown, and links to the weeks around it.
import { Link } from '../router.js';
import { addDays, type DateKey, formatDate } from './time.js';

export function WeekNav({ monday, href, tz }: { monday: DateKey; href: (start: DateKey) => string; tz: string }) {
  return (
    <nav className="cal-weeknav" aria-label="weeks">
      <Link to={href(addDays(monday, -7))} rel="prev">
        ← Previous week
      </Link>
      <h2 id="cal-week-title" className="cal-week-title">
        Week of {formatDate(monday)} {monday.slice(0, 4)}
      </h2>
      <Link to={href(addDays(monday, 7))} rel="next">
        Next week →
      </Link>
      <span className="quiet">Times in {tz}</span>
    </nav>
  );
}
