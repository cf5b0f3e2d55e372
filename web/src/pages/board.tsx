// The Board page: every room of a tag with its free and used PCs, the PCs by state, and the current
// and next reservation, live from the occupancy stream. `?tag=NAME` picks the tag; `?wall=1` fills a
// wall screen.
import { useEffect, useState } from 'react';
import { boardRooms, formatTime, knownTags, minuteOfDay, type PcKind, type Reservation, type RoomView } from '../occupancy/store.js';
import { type Connection, useOccupancy } from '../occupancy/stream.js';
import type { Page, PageProps } from '../page.js';
import { Link, navigate } from '../router.js';

// Reservations start and end on the minute; a check twice a minute keeps "now" and "next" right.
const CLOCK_TICK_MS = 30_000;

const KIND_LABEL: Record<PcKind, string> = {
  free: 'free',
  used: 'in use',
  booted: 'on, use unknown',
  // tkb.js counts an off PC as free (it can be switched on) and an unknown one as used.
  off: 'off (counts as free)',
  unknown: 'unknown (counts as used)',
};

const CONNECTION_LABEL: Record<Connection, string> = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
};

function boardHref(tag: string | undefined, wall: boolean): string {
  const query = new URLSearchParams();
  if (tag) query.set('tag', tag);
  if (wall) query.set('wall', '1');
  const q = query.toString();
  return q ? `/board?${q}` : '/board';
}

function useNow(): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), CLOCK_TICK_MS);
    return () => clearInterval(timer);
  }, []);
  return now;
}

function BoardPage({ search }: PageProps) {
  const tag = search.get('tag') || undefined;
  const wall = search.get('wall') === '1';
  const { state, connection } = useOccupancy(tag);
  const now = useNow();
  const rooms = boardRooms(state, tag, minuteOfDay(now));
  const tags = knownTags(state);
  const free = rooms.reduce((n, room) => n + room.free, 0);
  const total = rooms.reduce((n, room) => n + room.pcs.length, 0);
  const showSchedule = state.versions.schedule !== undefined;

  return (
    <section className="board">
      <div className="board-bar">
        <h1>{tag ?? 'All rooms'}</h1>
        {rooms.length > 0 && (
          <p className="board-total">
            <strong>{free}</strong> of {total} free
          </p>
        )}
        {!wall && <TagPicker tag={tag} tags={tags} />}
        <p className={`connection connection-${connection}`} role="status">
          {CONNECTION_LABEL[connection]}
        </p>
        <time className="clock">{formatTime([now.getHours(), now.getMinutes()])}</time>
      </div>
      {state.error && <p className="problem">{state.error}</p>}
      {rooms.length === 0 && <Empty tag={tag} tags={tags} wall={wall} connection={connection} />}
      <div className="rooms">
        {rooms.map((room) => (
          <RoomCard key={room.id} room={room} showSchedule={showSchedule} />
        ))}
      </div>
      {!wall && <Legend />}
    </section>
  );
}

function TagPicker({ tag, tags }: { tag: string | undefined; tags: readonly string[] }) {
  const options = tag && !tags.includes(tag) ? [tag, ...tags] : tags;
  return (
    <label className="tag-picker">
      Tag{' '}
      <select value={tag ?? ''} onChange={(event) => navigate(boardHref(event.target.value || undefined, false))}>
        <option value="">all rooms</option>
        {options.map((t) => (
          <option key={t} value={t}>
            {t}
          </option>
        ))}
      </select>
    </label>
  );
}

function Empty({
  tag,
  tags,
  wall,
  connection,
}: {
  tag: string | undefined;
  tags: readonly string[];
  wall: boolean;
  connection: Connection;
}) {
  if (connection === 'connecting') return <p className="quiet">Connecting to the occupancy stream…</p>;
  if (tag === undefined && tags.length > 0) {
    return (
      <div className="tag-list">
        <p>Choose a tag:</p>
        <ul>
          {tags.map((t) => (
            <li key={t}>
              <Link to={boardHref(t, wall)}>{t}</Link>
            </li>
          ))}
        </ul>
      </div>
    );
  }
  return <p className="quiet">{tag === undefined ? 'No rooms yet.' : `No rooms for the tag “${tag}” yet.`}</p>;
}

function RoomCard({ room, showSchedule }: { room: RoomView; showSchedule: boolean }) {
  const total = room.pcs.length;
  const freePercent = total ? (room.free / total) * 100 : 0;
  return (
    <section className="room" data-room={room.id} aria-label={room.name}>
      <header className="room-head">
        <h2>{room.name}</h2>
        <p className="counts">
          <span className="count-free">{room.free}</span> free <span className="count-sep">·</span>{' '}
          <span className="count-used">{room.used}</span> used
        </p>
      </header>
      <div className="bar" role="img" aria-label={`${room.free} of ${total} free`}>
        <span className="bar-free" style={{ width: `${freePercent}%` }} />
        <span className="bar-used" style={{ width: `${100 - freePercent}%` }} />
      </div>
      <ul className="pcs" aria-label="PCs">
        {room.pcs.map((pc) => (
          <li key={pc.name} className={`pc pc-${pc.kind}`} data-pc={pc.name} title={`${pc.name}: ${KIND_LABEL[pc.kind]}`}>
            {shortName(pc.name, room.id)}
          </li>
        ))}
      </ul>
      {showSchedule && <Schedule current={room.current} next={room.next} />}
    </section>
  );
}

function Schedule({ current, next }: { current: Reservation | undefined; next: Reservation | undefined }) {
  if (!current && !next) return <p className="schedule quiet">No more reservations today.</p>;
  return (
    <dl className="schedule">
      {current && (
        <div className="schedule-now">
          <dt>Now</dt>
          <dd>
            {span(current)} {current[2]}
          </dd>
        </div>
      )}
      {next && (
        <div className="schedule-next">
          <dt>Next</dt>
          <dd>
            {span(next)} {next[2]}
          </dd>
        </div>
      )}
    </dl>
  );
}

function span([start, end]: Reservation): string {
  return `${formatTime(start)}–${formatTime(end)}`;
}

/** `hg761pc12` in room `hg761` reads `pc12` on its tile; the full name is in the tooltip. */
function shortName(pc: string, room: string): string {
  return pc.length > room.length && pc.startsWith(room) ? pc.slice(room.length) : pc;
}

function Legend() {
  const kinds: PcKind[] = ['free', 'used', 'booted', 'off', 'unknown'];
  return (
    <ul className="legend" aria-label="legend">
      {kinds.map((kind) => (
        <li key={kind}>
          <span className={`pc pc-${kind}`} aria-hidden="true" /> {KIND_LABEL[kind]}
        </li>
      ))}
    </ul>
  );
}

export const boardPage: Page = { path: '/board', title: 'Board', nav: true, component: BoardPage };
