// The board's transport: porter's occupancy SSE stream into the store's reducer, as a React hook.
// Only this file knows the transport; the store takes ServerMessages from anywhere.
import { useEffect, useReducer, useState } from 'react';
import { type BoardState, initialState, parseBatch, reduceAll, type ServerMessage, StreamFormatError } from './store.js';

export type Connection = 'connecting' | 'live' | 'reconnecting';

// When the browser gives up on a stream (an HTTP error, a wrong content type), it does not retry by
// itself: retry from 1 s, doubling to 30 s, like porter's own reconnects.
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** The stream of one tag's rooms; without a tag, whatever the server sends an unfiltered stream. */
export function streamUrl(tag: string | undefined): string {
  return tag === undefined ? '/occupancy/stream' : `/occupancy/stream?tags=${encodeURIComponent(tag)}`;
}

function apply(current: BoardState, action: readonly ServerMessage[] | 'reset'): BoardState {
  return action === 'reset' ? initialState : reduceAll(current, action);
}

export interface Occupancy {
  readonly state: BoardState;
  readonly connection: Connection;
  /** When the last event arrived. */
  readonly updated: Date | undefined;
}

/**
 * Follows the stream of `tag`. Each event's data is a JSON array of ServerMessages, applied as one
 * batch. While the connection is up the browser reconnects by itself and sends Last-Event-ID, so the
 * server can resume or answer `reload`; after a retry of our own the server starts a fresh session.
 * Changing `tag` opens a new stream and starts from an empty state.
 */
export function useOccupancy(tag: string | undefined): Occupancy {
  const url = streamUrl(tag);
  const [state, dispatch] = useReducer(apply, initialState);
  const [connection, setConnection] = useState<Connection>('connecting');
  const [updated, setUpdated] = useState<Date>();

  useEffect(() => {
    dispatch('reset');
    setConnection('connecting');
    let source: EventSource | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delay = RETRY_FIRST_MS;

    const open = () => {
      const current = new EventSource(url);
      source = current;
      current.onopen = () => {
        delay = RETRY_FIRST_MS;
        setConnection('live');
      };
      current.onmessage = (event: MessageEvent<string>) => {
        setUpdated(new Date());
        try {
          dispatch(parseBatch(event.data));
        } catch (error) {
          const message = error instanceof StreamFormatError ? error.message : String(error);
          dispatch([{ type: 'error', message: `the stream sent ${message}` }]);
        }
      };
      current.onerror = () => {
        setConnection('reconnecting');
        if (current.readyState !== EventSource.CLOSED) return;
        current.close();
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      };
    };

    open();
    return () => {
      clearTimeout(timer);
      source?.close();
    };
  }, [url]);

  return { state, connection, updated };
}
