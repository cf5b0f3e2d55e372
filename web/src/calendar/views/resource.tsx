// A resource's calendar page (`/calendar/resource/ID?start=YYYY-MM-DD`): its booking policy in
// words, its bookings of the week and the decisions it made lately with their reasons, every time in
// the resource's time zone.

import type { PageProps } from '../../page.js';
import { Link, useLocation } from '../../router.js';
import { useAgents } from '../agents.js';
import { type BookingDecision, feeds, fetchResourceBookings, type ResourceBooking } from '../api.js';
import { WeekList } from '../day-list.js';
import { NoSuch } from '../no-such.js';
import { idFromPath, RESOURCE_PATH, resourceHref } from '../paths.js';
import { describePolicies } from '../policies.js';
import { addDays, dateKeyOf, formatDate, formatTime, isDateKey, zonedToUtc } from '../time.js';
import { useLoad } from '../use-load.js';
import { weekStart } from '../week.js';
import { WeekNav } from '../week-nav.js';

export function ResourceView({ search }: PageProps) {
  const id = idFromPath(useLocation().pathname, RESOURCE_PATH);
  const wanted = search.get('start') ?? undefined;
  const start = wanted && isDateKey(wanted) ? wanted : undefined;
  const agents = useAgents();
  const resource = agents.data?.resources.find((r) => r.id === id);
  // A chosen week is counted in the resource's zone, so it waits for the agents; this week needs no zone.
  const tz = resource?.tzid;
  const key = id === undefined || (start && !tz) ? undefined : `${id}|${start ?? ''}|${tz ?? ''}`;
  const week = useLoad(key, (signal) => {
    if (!start || !tz) return fetchResourceBookings(id ?? '', undefined, undefined, signal);
    return fetchResourceBookings(id ?? '', zonedToUtc(start, 0, 0, tz), zonedToUtc(addDays(start, 7), 0, 0, tz), signal);
  });

  if (id === undefined) return <NoSuch what="resource" />;
  const data = week.data?.id === id ? week.data : undefined;
  const error = week.error ?? (agents.data && !resource ? `porter has no resource “${id}”.` : agents.error);

  return (
    <section className="page calendar">
      <p className="cal-crumbs">
        <Link to="/calendar">Calendar</Link> › {resource?.kind ?? 'resource'}
      </p>
      <h1>{resource?.name ?? id}</h1>
      {resource && (
        <p className="quiet">
          {resource.kind}
          {resource.capacity !== undefined && `, ${resource.capacity} seats`} · {resource.address} ·{' '}
          <a href={feeds.bookings(resource.address)}>bookings feed (.ics)</a>
        </p>
      )}
      {error && (
        <p className="problem" role="alert">
          {error}
        </p>
      )}
      {resource && <Policies policies={resource.policies} />}
      {!data && week.loading && <p className="quiet">Loading…</p>}
      {data && (
        <>
          <section aria-labelledby="cal-week-title">
            <WeekNav monday={weekStart(data.start, data.tzid)} tz={data.tzid} href={(s) => resourceHref(id, s)} />
            <WeekList<ResourceBooking>
              monday={weekStart(data.start, data.tzid)}
              tz={data.tzid}
              items={data.bookings}
              label="bookings of the week"
              empty="Free all day."
              itemKey={(b) => `${b.uid}|${b.recurrenceId ?? ''}|${b.start}`}
              render={(b) => (
                <>
                  <span className="cal-summary">{b.summary || '(no title)'}</span>
                  {b.status && b.status !== 'CONFIRMED' && (
                    <span className={`cal-badge cal-${b.status.toLowerCase()}`}>{b.status.toLowerCase()}</span>
                  )}
                  <span className="quiet"> · {b.organizer}</span>
                </>
              )}
            />
          </section>
          <Decisions decisions={data.decisions} tz={data.tzid} />
        </>
      )}
    </section>
  );
}

function Policies({ policies }: { policies: Parameters<typeof describePolicies>[0] }) {
  const views = describePolicies(policies);
  return (
    <section aria-labelledby="cal-policy-title">
      <h2 id="cal-policy-title">Booking policy</h2>
      {views.length === 0 ? (
        <p className="quiet">No policies: every booking is accepted.</p>
      ) : (
        <>
          <p className="quiet">
            Checked in this order; the first that decides answers the request. A request that passes them all is accepted.
          </p>
          <ol className="cal-policies">
            {views.map((view, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the list's order is the policy's identity; the same type may come twice.
              <li key={i} data-policy={view.type}>
                <strong>{view.type}</strong> — {view.summary}
                {view.settings.length > 0 && (
                  <dl className="cal-settings">
                    {view.settings.map((s) => (
                      <div key={s.name}>
                        <dt>{s.name}</dt>
                        <dd>{s.value}</dd>
                      </div>
                    ))}
                  </dl>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

// The decisions that no single policy made.
const POLICY_LABEL: Record<string, string> = { default: 'all passed', request: 'the request', pool: 'the pool' };

const OUTCOME: Record<string, string> = {
  ACCEPTED: 'accepted',
  DECLINED: 'declined',
  TENTATIVE: 'tentative',
  COUNTER: 'countered',
  DELEGATED: 'delegated',
};

function Decisions({ decisions, tz }: { decisions: readonly BookingDecision[]; tz: string }) {
  return (
    <section aria-labelledby="cal-decisions-title">
      <h2 id="cal-decisions-title">Recent decisions</h2>
      {decisions.length === 0 ? (
        <p className="quiet">No requests yet.</p>
      ) : (
        <table className="cal-decisions">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Request</th>
              <th scope="col">From</th>
              <th scope="col">Outcome</th>
              <th scope="col">Reason</th>
              <th scope="col">Policy</th>
            </tr>
          </thead>
          <tbody>
            {decisions.map((d) => (
              <tr key={`${d.at}|${d.uid}|${d.outcome}`} data-uid={d.uid}>
                <td>
                  {formatDate(dateKeyOf(d.at, tz))} {formatTime(d.at, tz)}
                </td>
                <td>{d.summary || d.uid}</td>
                <td>{d.organizer}</td>
                <td>
                  <span className={`cal-badge cal-${d.outcome.toLowerCase()}`}>{OUTCOME[d.outcome] ?? d.outcome.toLowerCase()}</span>
                </td>
                <td>{d.reason}</td>
                <td>{POLICY_LABEL[d.policy] ?? d.policy}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
