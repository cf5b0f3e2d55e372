// The planner's grid: one row per person or resource with its busy slots, and a row of slot buttons
// above them to choose a time by mouse (click, or drag across) or keyboard (arrows, Shift to extend,
// Page Up/Down by day in a week, Enter to choose, Escape to clear).
import { type KeyboardEvent, type MouseEvent, type PointerEvent, useEffect, useRef, useState } from 'react';
import { moveSlot, type Selection, type Slot, type SlotState, selectSpan } from './grid.js';
import { type DateKey, formatDate, formatTime } from './time.js';

export interface GridRow {
  readonly address: string;
  readonly name: string;
  readonly unknown: boolean;
  readonly states: readonly SlotState[];
}

export interface PlannerGridProps {
  readonly slots: readonly Slot[];
  readonly days: readonly DateKey[];
  readonly rows: readonly GridRow[];
  readonly free: readonly boolean[];
  readonly tz: string;
  readonly selection: Selection | undefined;
  readonly onSelect: (selection: Selection | undefined) => void;
}

const STATE_LABEL: Record<SlotState, string> = {
  free: 'free',
  busy: 'busy',
  tentative: 'tentatively busy',
  unavailable: 'unavailable',
  unknown: 'not shared',
};

export function PlannerGrid({ slots, days, rows, free, tz, selection, onSelect }: PlannerGridProps) {
  const [focus, setFocus] = useState(() => selection?.first ?? firstFree(free));
  const anchor = useRef<number | undefined>(undefined);
  const dragging = useRef(false);
  const buttons = useRef<(HTMLButtonElement | null)[]>([]);
  const perDay = Math.max(1, Math.round(slots.length / Math.max(1, days.length)));

  useEffect(() => {
    const stop = () => {
      dragging.current = false;
    };
    window.addEventListener('pointerup', stop);
    window.addEventListener('pointercancel', stop);
    return () => {
      window.removeEventListener('pointerup', stop);
      window.removeEventListener('pointercancel', stop);
    };
  }, []);

  const choose = (from: number, to: number) => {
    anchor.current = from;
    onSelect(selectSpan(slots, from, to));
  };

  const down = (index: number) => (event: PointerEvent) => {
    if (event.button !== 0) return;
    dragging.current = true;
    setFocus(index);
    if (event.shiftKey && anchor.current !== undefined) choose(anchor.current, index);
    else choose(index, index);
  };
  const enter = (index: number) => () => {
    if (dragging.current && anchor.current !== undefined) choose(anchor.current, index);
  };
  // A pointer press already chose; a click without one comes from the keyboard (Enter or Space).
  const click = (index: number) => (event: MouseEvent) => {
    if (event.detail !== 0) return;
    if (event.shiftKey && anchor.current !== undefined) choose(anchor.current, index);
    else choose(index, index);
  };
  const key = (index: number) => (event: KeyboardEvent) => {
    if (event.key === 'Escape') {
      anchor.current = undefined;
      onSelect(undefined);
      return;
    }
    const next = moveSlot(index, event.key, slots.length, perDay);
    if (next === undefined) return;
    event.preventDefault();
    setFocus(next);
    buttons.current[next]?.focus();
    if (event.shiftKey) {
      if (anchor.current === undefined) anchor.current = index;
      choose(anchor.current, next);
    }
  };

  // A week's days are set apart by a rule before each day's first slot.
  const edge = (i: number) =>
    i > 0 && slots[i - 1]?.date !== slots[i]?.date ? ' cal-daystart' : slots[i]?.label.endsWith(':00') ? ' cal-hour' : '';
  const selected = (i: number) => selection !== undefined && i >= selection.first && i <= selection.last;
  const tabStop = Math.min(focus, slots.length - 1);

  return (
    <div className="cal-grid-wrap">
      <table className="cal-grid" aria-label="free and busy times" aria-describedby="cal-grid-help">
        <thead>
          {days.length > 1 && (
            <tr>
              <td />
              {days.map((date) => (
                <th key={date} scope="colgroup" colSpan={slots.filter((s) => s.date === date).length}>
                  {formatDate(date)}
                </th>
              ))}
            </tr>
          )}
          <tr className="cal-choose">
            <th scope="row">Choose a time</th>
            {slots.map((slot, i) => (
              <td key={slot.start} className={edge(i).trim() || undefined}>
                <button
                  type="button"
                  ref={(el) => {
                    buttons.current[i] = el;
                  }}
                  tabIndex={i === tabStop ? 0 : -1}
                  aria-pressed={selected(i)}
                  aria-label={`${formatDate(slot.date)} ${slot.label}–${formatTime(slot.end, tz)}, ${free[i] ? 'free for everyone' : `busy for ${busyNames(rows, i)}`}`}
                  className={`cal-slot-button${free[i] ? ' cal-open' : ''}${selected(i) ? ' cal-selected' : ''}`}
                  data-slot={i}
                  onPointerDown={down(i)}
                  onPointerEnter={enter(i)}
                  onClick={click(i)}
                  onKeyDown={key(i)}
                >
                  {slot.label.endsWith(':00') ? slot.label.slice(0, 2) : ''}
                </button>
              </td>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.address} data-address={row.address}>
              <th scope="row">
                {row.name}
                {row.unknown && <span className="quiet"> (not shared)</span>}
              </th>
              {row.states.map((state, i) => (
                <td
                  key={slots[i]?.start ?? i}
                  className={`cal-slot cal-${state}${selected(i) ? ' cal-selected' : ''}${edge(i)}`}
                  title={`${row.name}: ${slots[i]?.label ?? ''} ${STATE_LABEL[state]}`}
                  data-state={state}
                  onPointerDown={down(i)}
                  onPointerEnter={enter(i)}
                />
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function firstFree(free: readonly boolean[]): number {
  const i = free.indexOf(true);
  return i < 0 ? 0 : i;
}

function busyNames(rows: readonly GridRow[], i: number): string {
  return rows
    .filter((row) => row.states[i] !== 'free' && row.states[i] !== 'unknown')
    .map((row) => `${row.name} (${STATE_LABEL[row.states[i] ?? 'busy']})`)
    .join(', ');
}
