// One conversation on a helpline page: its lines and notes (someone joined, left, the chat ended)
// in a live log that screen readers announce, and the box to write in.
import { type FormEvent, useEffect, useRef, useState } from 'react';
import type { ChatLine } from './transport.js';

/** A line said in the room, or a note about the room. */
export type Entry =
  | { readonly key: number; readonly kind: 'line'; readonly line: ChatLine }
  | { readonly key: number; readonly kind: 'note'; readonly text: string; readonly at: string };

let nextKey = 0;

export function lineEntry(line: ChatLine): Entry {
  return { key: ++nextKey, kind: 'line', line };
}

export function noteEntry(text: string): Entry {
  return { key: ++nextKey, kind: 'note', text, at: new Date().toISOString() };
}

const clock = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

interface ChatLogProps {
  readonly entries: readonly Entry[];
  /** Says `text`; rejects with the reason it could not be sent. */
  readonly onSend: (text: string) => Promise<void>;
  /** Writing is off (the chat ended); the log stays. */
  readonly closed: boolean;
  /** Who `mine` lines are shown as. */
  readonly me: string;
}

export function ChatLog({ entries, onSend, closed, me }: ChatLogProps) {
  const [draft, setDraft] = useState('');
  const [problem, setProblem] = useState<string>();
  const [sending, setSending] = useState(false);
  const end = useRef<HTMLLIElement>(null);

  // Keeps the newest line in view as lines come in.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs for each new entry.
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'nearest' });
  }, [entries.length]);

  const send = (event: FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    if (!text || sending) return;
    setSending(true);
    onSend(text).then(
      () => {
        setDraft('');
        setProblem(undefined);
        setSending(false);
      },
      (error: unknown) => {
        setProblem(`Not sent: ${error instanceof Error ? error.message : String(error)}`);
        setSending(false);
      },
    );
  };

  return (
    <div className="hl-chat">
      <ol className="hl-lines" role="log" aria-label="Messages" aria-live="polite">
        {entries.map((entry) =>
          entry.kind === 'line' ? (
            <li key={entry.key} className={entry.line.mine ? 'hl-line hl-mine' : 'hl-line'} data-history={entry.line.history || undefined}>
              <time dateTime={entry.line.at}>{clock(entry.line.at)}</time> <strong>{entry.line.mine ? me : entry.line.from}</strong>
              <span className="hl-hidden">:</span> <span className="hl-text">{entry.line.text}</span>
            </li>
          ) : (
            <li key={entry.key} className="hl-note">
              <time dateTime={entry.at}>{clock(entry.at)}</time> {entry.text}
            </li>
          ),
        )}
        <li ref={end} aria-hidden="true" className="hl-end" />
      </ol>
      {!closed && (
        <form className="hl-say" onSubmit={send}>
          <label>
            <span className="hl-hidden">Message</span>
            <input
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              maxLength={8000}
              autoComplete="off"
              placeholder="Write a message"
            />
          </label>
          <button type="submit" disabled={sending || draft.trim() === ''}>
            Send
          </button>
        </form>
      )}
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}
