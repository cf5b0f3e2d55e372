/**
 * The states of a one-to-one helpline room and the only transitions allowed between them
 * (HelpIM's table); anything else is refused by the caller and logged as an error.
 */

export const ROOM_STATES = ['available', 'staffWaiting', 'chatting', 'closingChat', 'lost', 'abandoned', 'toDestroy', 'destroyed'] as const;

export type RoomState = (typeof ROOM_STATES)[number];

/** What happened in a room. */
export type RoomEvent = 'staffJoins' | 'clientJoins' | 'cleanLeave' | 'dirtyLeave' | 'cleanup';

/** States whose rooms let no one in: a join there is kicked. */
export const CLOSED_STATES: readonly RoomState[] = ['lost', 'closingChat', 'abandoned', 'toDestroy'];

/** States a room is live in on the server (rejoined after a restart). */
export const LIVE_STATES: readonly RoomState[] = ['available', 'staffWaiting', 'chatting', 'closingChat', 'lost', 'abandoned', 'toDestroy'];

/** States that count against a staff member's limit. */
export const HELD_STATES: readonly RoomState[] = ['available', 'staffWaiting', 'chatting'];

/** The next state, or undefined when the event is not allowed in `from`. */
export function nextState(from: RoomState, event: RoomEvent): RoomState | undefined {
  switch (event) {
    case 'staffJoins':
      return from === 'available' ? 'staffWaiting' : undefined;
    case 'clientJoins':
      return from === 'staffWaiting' ? 'chatting' : undefined;
    case 'cleanLeave':
      if (from === 'chatting') return 'closingChat';
      if (from === 'staffWaiting' || from === 'closingChat' || from === 'lost') return 'toDestroy';
      return undefined;
    case 'dirtyLeave':
      if (from === 'chatting') return 'lost';
      if (from === 'lost') return 'abandoned';
      if (from === 'staffWaiting' || from === 'closingChat') return 'toDestroy';
      return undefined;
    case 'cleanup':
      return CLOSED_STATES.includes(from) ? 'destroyed' : undefined;
  }
}
