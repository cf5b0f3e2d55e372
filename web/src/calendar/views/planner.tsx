// The planner (`/calendar/planner?from=ID&who=ADDR,ADDR&date=YYYY-MM-DD&view=day|week`): the free
// and busy times of the organiser and the people and rooms chosen, over a day or a week on the
// organiser's clock; a time chosen in the grid becomes an invitation mailed from the organiser.
import { type FormEvent, useId, useMemo, useState } from 'react';
import type { PageProps } from '../../page.js';
import { Link, navigate } from '../../router.js';
import { agentByAddress, useAgents } from '../agents.js';
import { type Agents, fetchFreeBusy, type Person, sendInvitation } from '../api.js';
import { freeForAll, gridSlots, gridWindow, rowStates, type Selection, selectionFree } from '../grid.js';
import { type PlannerQuery, plannerHref } from '../paths.js';
import { type GridRow, PlannerGrid } from '../planner-grid.js';
import { addDays, dateKeyOf, daysFrom, formatSpan, isDateKey, mondayOf } from '../time.js';
import { useLoad } from '../use-load.js';

// The working part of a day; a week shows hours, a day half hours.
const FROM_HOUR = 7;
const TO_HOUR = 20;

export function PlannerView({ search }: PageProps) {
  const agents = useAgents();
  return (
    <section className="page calendar cal-planner">
      <p className="cal-crumbs">
        <Link to="/calendar">Calendar</Link> › planner
      </p>
      <h1>Plan a meeting</h1>
      {agents.error && (
        <p className="problem" role="alert">
          {agents.error}
        </p>
      )}
      {!agents.data && agents.loading && <p className="quiet">Loading…</p>}
      {agents.data && agents.data.people.length === 0 && <p className="quiet">porter hosts no person to send an invitation from.</p>}
      {agents.data && agents.data.people.length > 0 && <Planner agents={agents.data} search={search} />}
    </section>
  );
}

function Planner({ agents, search }: { agents: Agents; search: URLSearchParams }) {
  const organiser: Person = agents.people.find((p) => p.id === search.get('from')) ?? (agents.people[0] as Person);
  const tz = organiser.tzid;
  const view = search.get('view') === 'week' ? 'week' : 'day';
  const wantedDate = search.get('date') ?? '';
  const date = isDateKey(wantedDate) ? wantedDate : dateKeyOf(Date.now(), tz);
  const first = view === 'week' ? mondayOf(date) : date;
  const others = (search.get('who') ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a && a.toLowerCase() !== organiser.address.toLowerCase());
  const id = useId();
  const query: PlannerQuery = { from: organiser.id, who: others, date, view };
  const go = (change: Partial<PlannerQuery>) => navigate(plannerHref({ ...query, ...change }), { replace: true });

  const shape = {
    tz,
    date: first,
    days: view === 'week' ? 7 : 1,
    fromHour: FROM_HOUR,
    toHour: TO_HOUR,
    stepMinutes: view === 'week' ? 60 : 30,
  };
  const shapeKey = JSON.stringify(shape);
  // biome-ignore lint/correctness/useExhaustiveDependencies: shapeKey is the shape's value.
  const slots = useMemo(() => gridSlots(shape), [shapeKey]);
  const window_ = gridWindow(shape);
  const addresses = [organiser.address, ...others];
  const fb = useLoad(`${organiser.id}|${addresses.join(',')}|${shapeKey}`, (signal) =>
    fetchFreeBusy(addresses, window_.start, window_.end, signal, organiser.id),
  );

  const [selection, setSelection] = useState<{ key: string; span: Selection }>();
  const gridKey = `${shapeKey}|${addresses.join(',')}`;
  const chosen = selection?.key === gridKey ? selection.span : undefined;

  const rows: GridRow[] = addresses.map((address) => {
    const calendar = fb.data?.calendars[address] ?? fb.data?.calendars[address.toLowerCase()];
    const agent = agentByAddress(agents, address);
    return {
      address,
      name: `${agent?.name ?? address}${address === organiser.address ? ' (organiser)' : ''}${
        calendar && !calendar.unknown && calendar.as ? ` (as ${organiser.name} knows it)` : ''
      }`,
      unknown: calendar?.unknown ?? false,
      states: fb.data ? rowStates(calendar, slots) : slots.map(() => 'unknown' as const),
    };
  });
  const free = freeForAll(
    rows.map((r) => r.states),
    slots.length,
  );

  const toggle = (address: string, on: boolean) => go({ who: on ? [...others, address] : others.filter((a) => a !== address) });
  const step = view === 'week' ? 7 : 1;

  return (
    <>
      <form className="cal-planner-controls" onSubmit={(e) => e.preventDefault()} aria-label="people, rooms and times to show">
        <span>
          <label htmlFor={`${id}-organiser`}>Organiser</label>{' '}
          <select id={`${id}-organiser`} value={organiser.id} onChange={(e) => go({ from: e.target.value })}>
            {agents.people.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </span>
        <Choices legend="People" items={agents.people.filter((p) => p.id !== organiser.id)} chosen={others} onToggle={toggle} />
        <Choices legend="Rooms and equipment" items={agents.resources} chosen={others} onToggle={toggle} />
        <div className="cal-when-controls">
          <span>
            <label htmlFor={`${id}-view`}>Show</label>{' '}
            <select id={`${id}-view`} value={view} onChange={(e) => go({ view: e.target.value === 'week' ? 'week' : 'day' })}>
              <option value="day">a day</option>
              <option value="week">a week</option>
            </select>
          </span>
          <label>
            Date <input type="date" value={date} onChange={(e) => isDateKey(e.target.value) && go({ date: e.target.value })} />
          </label>
          <button type="button" onClick={() => go({ date: addDays(date, -step) })}>
            Previous {view}
          </button>
          <button type="button" onClick={() => go({ date: addDays(date, step) })}>
            Next {view}
          </button>
          <span className="quiet">
            Times in {tz}, {String(FROM_HOUR).padStart(2, '0')}:00–{TO_HOUR}:00
          </span>
        </div>
      </form>
      {fb.error && (
        <p className="problem" role="alert">
          {fb.error}
        </p>
      )}
      <p id="cal-grid-help" className="quiet">
        Click a free slot or drag across several. With the keyboard: arrows move along “Choose a time”, Shift extends, Enter chooses, Escape
        clears
        {view === 'week' ? ', Page Up and Page Down change the day' : ''}.
      </p>
      <PlannerGrid
        slots={slots}
        days={daysFrom(first, shape.days)}
        rows={rows}
        free={free}
        tz={tz}
        selection={chosen}
        onSelect={(span) => setSelection(span ? { key: gridKey, span } : undefined)}
      />
      <Legend />
      <InvitationForm
        organiser={organiser}
        attendees={others}
        agents={agents}
        selection={chosen}
        free={chosen ? selectionFree(free, chosen) : true}
        onSent={() => {
          setSelection(undefined);
          fb.reload();
        }}
      />
    </>
  );
}

function Choices({
  legend,
  items,
  chosen,
  onToggle,
}: {
  legend: string;
  items: readonly { id: string; address: string; name: string }[];
  chosen: readonly string[];
  onToggle: (address: string, on: boolean) => void;
}) {
  if (items.length === 0) return null;
  return (
    <fieldset className="cal-choices">
      <legend>{legend}</legend>
      {items.map((item) => (
        <label key={item.id}>
          <input type="checkbox" checked={chosen.includes(item.address)} onChange={(e) => onToggle(item.address, e.target.checked)} />{' '}
          {item.name}
        </label>
      ))}
    </fieldset>
  );
}

function Legend() {
  const states = [
    ['free', 'free'],
    ['busy', 'busy'],
    ['tentative', 'tentative'],
    ['unavailable', 'unavailable'],
    ['unknown', 'not shared'],
  ] as const;
  return (
    <ul className="legend cal-legend" aria-label="legend">
      {states.map(([state, label]) => (
        <li key={state}>
          <span className={`cal-slot cal-${state}`} aria-hidden="true" /> {label}
        </li>
      ))}
    </ul>
  );
}

function InvitationForm({
  organiser,
  attendees,
  agents,
  selection,
  free,
  onSent,
}: {
  organiser: Person;
  attendees: readonly string[];
  agents: Agents;
  selection: Selection | undefined;
  free: boolean;
  onSent: () => void;
}) {
  const [summary, setSummary] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [sent, setSent] = useState<string>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!selection) return setError('Choose a time in the grid first.');
    if (attendees.length === 0) return setError('Choose at least one person or room to invite.');
    if (!summary.trim()) return setError('Give the meeting a title.');
    setBusy(true);
    setError(undefined);
    try {
      const { uid } = await sendInvitation({
        from: organiser.id,
        summary: summary.trim(),
        start: selection.start,
        end: selection.end,
        attendees,
      });
      setSent(
        `Invitation “${summary.trim()}” for ${formatSpan(selection.start, selection.end, organiser.tzid)} sent to ${names(agents, attendees)} (${uid}).`,
      );
      setSummary('');
      onSent();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="cal-invite" onSubmit={submit} aria-labelledby="cal-invite-title">
      <h2 id="cal-invite-title">Invitation</h2>
      <p className="cal-chosen" aria-live="polite">
        {selection ? (
          <>
            <strong>{formatSpan(selection.start, selection.end, organiser.tzid)}</strong>{' '}
            {free ? <span className="cal-ok">free for everyone shown</span> : <span className="cal-warn">someone is busy then</span>}
          </>
        ) : (
          <span className="quiet">No time chosen yet.</span>
        )}
      </p>
      <p>
        From <strong>{organiser.name}</strong> to{' '}
        {attendees.length ? names(agents, attendees) : <span className="quiet">nobody yet: tick people or rooms above</span>}
      </p>
      <label>
        Title <input type="text" value={summary} onChange={(e) => setSummary(e.target.value)} required />
      </label>{' '}
      <button type="submit" disabled={busy || !selection || attendees.length === 0}>
        Send invitation
      </button>
      {error && (
        <p className="problem" role="alert">
          {error}
        </p>
      )}
      <p className="cal-status" role="status">
        {sent ?? ''}
      </p>
    </form>
  );
}

function names(agents: Agents, addresses: readonly string[]): string {
  return addresses.map((a) => agentByAddress(agents, a)?.name ?? a).join(', ');
}
