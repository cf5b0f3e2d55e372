// The Calendar page: every person, room, piece of equipment and pool this porter keeps a calendar
// for, to open one, and the way to the planner.

import { Link } from '../../router.js';
import { useAgents } from '../agents.js';
import { PLANNER_PATH, personHref, resourceHref } from '../paths.js';

export function ChooserView() {
  const { data: agents, error, loading } = useAgents();
  const nameOf = (id: string) => agents?.resources.find((r) => r.id === id)?.name ?? id;
  return (
    <section className="page calendar">
      <h1>Calendar</h1>
      <p>
        <Link to={PLANNER_PATH}>Plan a meeting</Link>: see when people and rooms are free and send an invitation.
      </p>
      {error && (
        <p className="problem" role="alert">
          {error}
        </p>
      )}
      {loading && !agents && <p className="quiet">Loading…</p>}
      {agents && (
        <div className="cal-agents">
          <section aria-labelledby="cal-people">
            <h2 id="cal-people">People</h2>
            {agents.people.length === 0 ? (
              <p className="quiet">No people.</p>
            ) : (
              <ul>
                {agents.people.map((p) => (
                  <li key={p.id}>
                    <Link to={personHref(p.id)}>{p.name}</Link> <span className="quiet">{p.address}</span>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section aria-labelledby="cal-resources">
            <h2 id="cal-resources">Rooms and equipment</h2>
            {agents.resources.length === 0 ? (
              <p className="quiet">No rooms or equipment.</p>
            ) : (
              <ul>
                {agents.resources.map((r) => (
                  <li key={r.id}>
                    <Link to={resourceHref(r.id)}>{r.name}</Link>{' '}
                    <span className="quiet">
                      {r.kind}
                      {r.capacity !== undefined && `, ${r.capacity} seats`} · {r.address}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </section>
          {agents.pools.length > 0 && (
            <section aria-labelledby="cal-pools">
              <h2 id="cal-pools">Pools</h2>
              <ul>
                {agents.pools.map((pool) => (
                  <li key={pool.id}>
                    <strong>{pool.name}</strong> <span className="quiet">{pool.address}</span>: books any free one of{' '}
                    {pool.members.map((id, i) => (
                      <span key={id}>
                        {i > 0 && ', '}
                        <Link to={resourceHref(id)}>{nameOf(id)}</Link>
                      </span>
                    ))}
                  </li>
                ))}
              </ul>
            </section>
          )}
        </div>
      )}
    </section>
  );
}
