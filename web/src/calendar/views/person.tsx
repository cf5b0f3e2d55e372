// A person's calendar page (`/calendar/person/ID?start=YYYY-MM-DD`): the requests waiting for their
// answer, and their week, every time in the person's own time zone.
import { useState } from 'react';
import type { PageProps } from '../../page.js';
import { Link, useLocation } from '../../router.js';
import { useAgents } from '../agents.js';
import { fetchPersonWeek, type WeekEvent } from '../api.js';
import { WeekList } from '../day-list.js';
import { NoSuch } from '../no-such.js';
import { idFromPath, PERSON_PATH, personHref } from '../paths.js';
import { PendingItem } from '../pending.js';
import { isDateKey } from '../time.js';
import { useLoad } from '../use-load.js';
import { weekStart } from '../week.js';
import { WeekNav } from '../week-nav.js';

const PARTSTAT: Record<string, string> = {
  ACCEPTED: 'accepted',
  TENTATIVE: 'tentative',
  DECLINED: 'declined',
  'NEEDS-ACTION': 'not answered',
  DELEGATED: 'delegated',
};

export function PersonView({ search }: PageProps) {
  const id = idFromPath(useLocation().pathname, PERSON_PATH);
  const wanted = search.get('start') ?? undefined;
  const start = wanted && isDateKey(wanted) ? wanted : undefined;
  const { data: agents } = useAgents();
  const week = useLoad(id === undefined ? undefined : `${id}|${start ?? ''}`, (signal) => fetchPersonWeek(id ?? '', start, signal));
  const [answered, setAnswered] = useState<{ uids: readonly string[]; message?: string }>({ uids: [] });

  if (id === undefined) return <NoSuch what="person" />;
  const person = agents?.people.find((p) => p.id === id);
  const data = week.data?.id === id ? week.data : undefined;
  const pending = data?.pending.filter((p) => !answered.uids.includes(p.uid)) ?? [];

  const onAnswered = (uid: string, message: string) => {
    setAnswered((a) => ({ uids: [...a.uids, uid], message }));
    week.reload();
  };

  return (
    <section className="page calendar">
      <p className="cal-crumbs">
        <Link to="/calendar">Calendar</Link> › person
      </p>
      <h1>{person?.name ?? id}</h1>
      {person && <p className="quiet">{person.address}</p>}
      {week.error && (
        <p className="problem" role="alert">
          {week.error}
        </p>
      )}
      <p className="cal-status" role="status">
        {answered.message ?? ''}
      </p>
      {!data && week.loading && <p className="quiet">Loading…</p>}
      {data && (
        <>
          <section aria-labelledby="cal-pending-title">
            <h2 id="cal-pending-title">Requests to answer ({pending.length})</h2>
            {pending.length === 0 ? (
              <p className="quiet">Nothing waits for an answer.</p>
            ) : (
              <ul className="cal-pending-list">
                {pending.map((request) => (
                  <PendingItem key={request.uid} personId={id} request={request} tz={data.tzid} onAnswered={onAnswered} />
                ))}
              </ul>
            )}
          </section>
          <section aria-labelledby="cal-week-title">
            <WeekNav monday={weekStart(data.start, data.tzid)} tz={data.tzid} href={(s) => personHref(id, s)} />
            <WeekList<WeekEvent>
              monday={weekStart(data.start, data.tzid)}
              tz={data.tzid}
              items={data.events}
              label="events of the week"
              empty="Nothing planned."
              itemKey={(e) => `${e.uid}|${e.recurrenceId ?? ''}|${e.start}`}
              allDay={(e) => e.allDay}
              render={(e) => (
                <>
                  <span className="cal-summary">{e.summary || '(no title)'}</span>
                  {e.partstat && (
                    <span className={`cal-badge cal-${e.partstat.toLowerCase()}`}>{PARTSTAT[e.partstat] ?? e.partstat.toLowerCase()}</span>
                  )}
                  {e.status === 'CANCELLED' && <span className="cal-badge cal-cancelled">cancelled</span>}
                  {e.organizer && <span className="quiet"> · {e.organizer}</span>}
                </>
              )}
            />
          </section>
        </>
      )}
    </section>
  );
}
