// The helpline's client page: an anonymous visitor asks for a chat, waits in the queue (their place
// kept up to date by a long poll), is invited into a private room with a staff member, chats, and
// leaves cleanly. Nothing about the visitor is kept in the browser beyond this page.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { PageProps } from '../page.js';
import { apiFrom, askForChat, fetchInfo, HelplineError, leaveQueue, pollTicket, type TicketView } from './api.js';
import { ChatLog, type Entry, lineEntry, noteEntry } from './chat-log.js';
import { connect } from './connect.js';
import type { ChatConnection } from './transport.js';

/** How long one long poll of the ticket is held by porter (it caps this at its `poll-timeout`). */
const POLL_SECONDS = 25;
/** Waits after a failed poll, longest last. */
const RETRY_MS = [1000, 2000, 5000, 10_000];

type Stage =
  | { readonly kind: 'start' }
  | { readonly kind: 'asking' }
  | { readonly kind: 'closed'; readonly message: string }
  | { readonly kind: 'blocked'; readonly message: string }
  | { readonly kind: 'waiting'; readonly ticket: string; readonly position: number }
  | { readonly kind: 'joining'; readonly ticket: string }
  | { readonly kind: 'chatting'; readonly room: string; readonly nick: string; readonly ended: boolean }
  | { readonly kind: 'done'; readonly message: string };

export function ClientView({ search }: PageProps) {
  let api: string;
  let apiProblem: string | undefined;
  try {
    api = apiFrom(search);
  } catch (error) {
    api = '';
    apiProblem = error instanceof Error ? error.message : String(error);
  }
  const [stage, setStage] = useState<Stage>({ kind: 'start' });
  const [entries, setEntries] = useState<readonly Entry[]>([]);
  const [problem, setProblem] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const connection = useRef<ChatConnection | undefined>(undefined);
  const add = useCallback((entry: Entry) => setEntries((list) => [...list, entry]), []);
  const endChat = useCallback(() => setStage((s) => (s.kind === 'chatting' ? { ...s, ended: true } : s)), []);

  // Whether anyone is on duty, before the visitor asks.
  useEffect(() => {
    if (!api) return;
    const controller = new AbortController();
    fetchInfo(api, controller.signal).then(
      (info) => setNotice(info.open ? undefined : info.message),
      () => undefined,
    );
    return () => controller.abort();
  }, [api]);

  // Joins the room of an invitation.
  const join = useCallback(
    async (ticket: string, invite: Extract<TicketView, { status: 'invited' }>) => {
      setStage({ kind: 'joining', ticket });
      let inRoom = false;
      try {
        const chat = await connect(
          invite.chat,
          { kind: 'anonymous' },
          {
            line: (line) => add(lineEntry(line)),
            presence: (p) => {
              if (p.nick === invite.nick) return;
              // Those in the room before the client (the staff member, and porter on XMPP) need no note.
              if (p.event === 'joined') {
                if (inRoom) add(noteEntry(`${p.nick} joined the chat.`));
              } else {
                add(noteEntry(p.clean ? `${p.nick} left the chat.` : `${p.nick} lost their connection.`));
                endChat();
              }
            },
            removed: (_room, why, reason) => {
              add(noteEntry(why === 'destroyed' ? 'The chat has ended.' : `You were removed from the chat${reason ? `: ${reason}` : '.'}`));
              endChat();
            },
            disconnected: (reason) => {
              add(noteEntry(`The connection was lost: ${reason}.`));
              endChat();
            },
          },
        );
        connection.current = chat;
        await chat.join(invite.room, invite.password, invite.nick);
        inRoom = true;
        setEntries((list) => [...list, noteEntry('You are in the chat. Say hello.')]);
        setStage({ kind: 'chatting', room: invite.room, nick: invite.nick, ended: false });
      } catch (error) {
        void connection.current?.close();
        connection.current = undefined;
        setStage({ kind: 'done', message: `The chat could not be opened: ${error instanceof Error ? error.message : String(error)}` });
      }
    },
    [add, endChat],
  );

  // The long poll: held by porter until the place changes or the invitation comes.
  const waitingTicket = stage.kind === 'waiting' ? stage.ticket : undefined;
  const waitingPosition = stage.kind === 'waiting' ? stage.position : undefined;
  useEffect(() => {
    if (waitingTicket === undefined) return;
    const controller = new AbortController();
    let failures = 0;
    const poll = async (): Promise<void> => {
      while (!controller.signal.aborted) {
        try {
          const view = await pollTicket(api, waitingTicket, waitingPosition, POLL_SECONDS, controller.signal);
          failures = 0;
          if (controller.signal.aborted) return;
          if (view.status === 'waiting') {
            if (view.position !== waitingPosition) return setStage({ kind: 'waiting', ticket: waitingTicket, position: view.position });
            continue;
          }
          if (view.status === 'invited') return void join(waitingTicket, view);
          return setStage({ kind: 'done', message: 'Your place in the queue has lapsed. You can ask again.' });
        } catch (error) {
          if (controller.signal.aborted) return;
          if (error instanceof HelplineError && error.status === 404)
            return setStage({ kind: 'done', message: 'Your place in the queue is gone. You can ask again.' });
          const wait = RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)] ?? 10_000;
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
    };
    void poll();
    return () => controller.abort();
  }, [api, waitingTicket, waitingPosition, join]);

  // Leaving the page while waiting gives the place up; while chatting, it leaves cleanly.
  const stageRef = useRef(stage);
  stageRef.current = stage;
  useEffect(() => {
    const bye = () => {
      const current = stageRef.current;
      if (current.kind === 'waiting')
        void fetch(`${api}/queue/${encodeURIComponent(current.ticket)}`, { method: 'DELETE', keepalive: true });
      void connection.current?.close();
      connection.current = undefined;
    };
    window.addEventListener('pagehide', bye);
    // Going to another page of the app does the same.
    return () => {
      window.removeEventListener('pagehide', bye);
      bye();
    };
  }, [api]);

  const ask = async () => {
    setProblem(undefined);
    setEntries([]);
    setStage({ kind: 'asking' });
    try {
      const answer = await askForChat(api);
      if (answer.status === 'closed') return setStage({ kind: 'closed', message: answer.message });
      if (answer.status === 'waiting') return setStage({ kind: 'waiting', ticket: answer.ticket, position: answer.position });
      if (answer.status === 'invited') return void join(answer.ticket, answer);
      setStage({ kind: 'done', message: 'Your place in the queue has lapsed. You can ask again.' });
    } catch (error) {
      if (error instanceof HelplineError && error.status === 403)
        return setStage({ kind: 'blocked', message: 'You cannot start a chat here.' });
      setStage({ kind: 'start' });
      setProblem(`Could not ask for a chat: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  const leaveWaiting = async (ticket: string) => {
    setStage({ kind: 'done', message: 'You left the queue.' });
    await leaveQueue(api, ticket).catch(() => undefined);
  };

  const leaveChat = async (room: string) => {
    const chat = connection.current;
    connection.current = undefined;
    setStage({ kind: 'done', message: 'You left the chat. Thank you for talking with us.' });
    // A connection already gone has nothing to leave; the room saw it go.
    await chat?.leave(room).catch(() => undefined);
    await chat?.close();
  };

  if (apiProblem) {
    return (
      <section className="page helpline">
        <h1>Helpline</h1>
        <p className="problem" role="alert">
          {apiProblem}
        </p>
      </section>
    );
  }

  return (
    <section className="page helpline">
      <h1>Helpline</h1>
      <p className="quiet">Talk in private with one of our staff. You stay anonymous: we do not ask for your name.</p>
      <div role="status" aria-live="polite" className="hl-status">
        {stage.kind === 'start' && notice && <p>{notice}</p>}
        {stage.kind === 'asking' && <p>Asking for a chat…</p>}
        {stage.kind === 'closed' && <p className="hl-closed">{stage.message}</p>}
        {stage.kind === 'blocked' && <p className="problem">{stage.message}</p>}
        {stage.kind === 'waiting' && <p className="hl-position">You are number {stage.position} in the queue.</p>}
        {stage.kind === 'joining' && <p>A staff member is ready for you. Opening the chat…</p>}
        {stage.kind === 'chatting' && <p>{stage.ended ? 'The chat has ended.' : 'You are chatting with a staff member.'}</p>}
        {stage.kind === 'done' && <p>{stage.message}</p>}
      </div>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      {(stage.kind === 'start' || stage.kind === 'closed' || stage.kind === 'done') && (
        <button type="button" className="hl-primary" onClick={() => void ask()}>
          {stage.kind === 'start' ? 'Ask for a chat' : 'Ask for a chat again'}
        </button>
      )}
      {stage.kind === 'waiting' && (
        <button type="button" onClick={() => void leaveWaiting(stage.ticket)}>
          Leave the queue
        </button>
      )}
      {(stage.kind === 'chatting' || (stage.kind === 'done' && entries.length > 0)) && (
        <section className="hl-room" aria-label="Chat">
          <ChatLog
            entries={entries}
            closed={stage.kind !== 'chatting' || stage.ended}
            me="You"
            onSend={(text) =>
              stage.kind === 'chatting' && connection.current
                ? connection.current.say(stage.room, text)
                : Promise.reject(new Error('not in the chat'))
            }
          />
          {stage.kind === 'chatting' && (
            <button type="button" onClick={() => void leaveChat(stage.room)}>
              Leave the chat
            </button>
          )}
        </section>
      )}
    </section>
  );
}
