// What a calendar page shows when its path names no agent (`/calendar/person/` with no id).
import { Link } from '../router.js';
import { CALENDAR_PATH } from './paths.js';

export function NoSuch({ what }: { what: string }) {
  return (
    <section className="page calendar">
      <h1>No such {what}</h1>
      <p>
        <Link to={CALENDAR_PATH}>Choose a person or resource.</Link>
      </p>
    </section>
  );
}
