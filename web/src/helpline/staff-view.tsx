// The helpline's staff console: a staff member logs in (API token and chat account), goes
// available in as many rooms as the helpline allows, chats with the clients porter sends them,
// ends or blocks a chat, and reads the queue, the transcripts and the statistics.
import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import type { PageProps } from '../page.js';
import {
  apiFrom,
  blockRoom,
  type Conversation,
  endRoom,
  fetchConversations,
  fetchInfo,
  fetchStaffView,
  fetchStats,
  fetchTranscript,
  goAvailable,
  HelplineError,
  type StaffView as StaffAnswer,
  type StaffAuth,
  type Stats,
  type Transcript,
} from './api.js';
import { ChatLog, type Entry, lineEntry, noteEntry } from './chat-log.js';
import { connect } from './connect.js';
import { formatSeconds, formatShare } from './format.js';
import type { ChatConnection, ChatEvents, ChatReach } from './transport.js';

/** How often the queue and the held rooms are read again. */
const QUEUE_REFRESH_MS = 2000;
/** How often the transcripts list and the statistics are read again. */
const REPORTS_REFRESH_MS = 5000;

/** What a login needs; kept in sessionStorage (this tab only) so a reload does not log out. */
interface Credentials {
  readonly id: string;
  readonly token: string;
  /** Web chat: the staff user name of the plug; XMPP: the bare JID. */
  readonly account: string;
  readonly password: string;
}

interface Panel {
  readonly room: string;
  /** Shown as "Chat N": the order the rooms were taken in on this page. */
  readonly number: number;
  readonly stage: 'joining' | 'waiting' | 'chatting' | 'ended';
  readonly client?: string;
  /** Still in the room: a Close must leave it. */
  readonly inRoom: boolean;
  readonly entries: readonly Entry[];
}

/** The start of every client's nick in a helpline room (src/hooks/helpline/README.md, *Who is who*). */
const CLIENT_NICK_PREFIX = 'client-';

const storageKey = (api: string) => `porter.helpline.staff:${api}`;

function storedCredentials(api: string): Credentials | undefined {
  try {
    const value: unknown = JSON.parse(sessionStorage.getItem(storageKey(api)) ?? 'null');
    if (typeof value !== 'object' || value === null) return undefined;
    const { id, token, account, password } = value as Record<string, unknown>;
    if ([id, token, account, password].every((v) => typeof v === 'string')) return { id, token, account, password } as Credentials;
  } catch {
    // A damaged entry is the same as none.
  }
  return undefined;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function StaffView({ search }: PageProps) {
  let api: string;
  let apiProblem: string | undefined;
  try {
    api = apiFrom(search);
  } catch (error) {
    api = '';
    apiProblem = message(error);
  }
  const [session, setSession] = useState<{ auth: StaffAuth; connection: ChatConnection; chat: ChatReach }>();
  const [panels, setPanels] = useState<readonly Panel[]>([]);
  const [lost, setLost] = useState<string>();
  const counter = useRef(0);

  const update = useCallback((room: string, change: (panel: Panel) => Panel) => {
    setPanels((list) => list.map((p) => (p.room === room ? change(p) : p)));
  }, []);
  const note = useCallback(
    (room: string, text: string) => update(room, (p) => ({ ...p, entries: [...p.entries, noteEntry(text)] })),
    [update],
  );

  const events = useCallback(
    (me: string): ChatEvents => ({
      line: (line) => update(line.room, (p) => ({ ...p, entries: [...p.entries, lineEntry(line)] })),
      presence: (p) => {
        // Clients have the nick of their invitation, `client-…`; anyone else here is porter itself
        // (an occupant on XMPP), which the chat is not about.
        if (p.nick === me || !p.nick.startsWith(CLIENT_NICK_PREFIX)) return;
        if (p.event === 'joined') {
          update(p.room, (panel) => (panel.client === undefined ? { ...panel, stage: 'chatting', client: p.nick } : panel));
          note(p.room, `${p.nick} joined the chat.`);
          return;
        }
        // Someone porter removed (not this room's client) does not end the chat.
        update(p.room, (panel) => (panel.client === p.nick ? { ...panel, stage: 'ended' } : panel));
        note(p.room, p.clean ? `${p.nick} left the chat.` : p.kicked ? `${p.nick} was removed.` : `${p.nick} lost their connection.`);
      },
      removed: (room, why, reason) => {
        update(room, (panel) => ({ ...panel, stage: 'ended', inRoom: false }));
        note(room, why === 'destroyed' ? 'The room was closed.' : `You were removed from the room${reason ? `: ${reason}` : '.'}`);
      },
      disconnected: (reason) => {
        setLost(`The chat connection was lost (${reason}). Log out and in again to take new chats.`);
        setPanels((list) => list.map((p) => ({ ...p, stage: 'ended', inRoom: false })));
      },
    }),
    [update, note],
  );

  const logIn = useCallback(
    async (credentials: Credentials): Promise<void> => {
      const auth: StaffAuth = { api, id: credentials.id, token: credentials.token };
      let view: StaffAnswer;
      try {
        view = await fetchStaffView(auth);
      } catch (error) {
        if (error instanceof HelplineError && (error.status === 401 || error.status === 403))
          throw new Error('The staff id or the API token is wrong.');
        throw error;
      }
      let connection: ChatConnection;
      try {
        connection = await connect(
          view.chat,
          { kind: 'staff', username: credentials.account, password: credentials.password },
          events(credentials.id),
        );
      } catch (error) {
        throw new Error(`The chat account did not log in: ${message(error)}`);
      }
      sessionStorage.setItem(storageKey(api), JSON.stringify(credentials));
      setLost(undefined);
      setPanels([]);
      setSession({ auth, connection, chat: view.chat });
    },
    [api, events],
  );

  const logOut = async () => {
    sessionStorage.removeItem(storageKey(api));
    const current = session;
    setSession(undefined);
    setPanels([]);
    await current?.connection.close();
  };

  // The connection closes with the page.
  const connectionRef = useRef<ChatConnection | undefined>(undefined);
  connectionRef.current = session?.connection;
  useEffect(() => {
    const bye = () => void connectionRef.current?.close();
    window.addEventListener('pagehide', bye);
    return () => {
      window.removeEventListener('pagehide', bye);
      bye();
    };
  }, []);

  if (apiProblem) {
    return (
      <section className="page helpline">
        <h1>Helpline staff</h1>
        <p className="problem" role="alert">
          {apiProblem}
        </p>
      </section>
    );
  }

  if (!session) return <LoginForm api={api} onLogIn={logIn} />;

  const { auth, connection } = session;

  const available = async (): Promise<void> => {
    const given = await goAvailable(auth);
    const number = ++counter.current;
    setPanels((list) => [...list, { room: given.room, number, stage: 'joining', inRoom: false, entries: [] }]);
    try {
      await connection.join(given.room, given.password, auth.id);
      update(given.room, (p) => ({ ...p, stage: p.stage === 'joining' ? 'waiting' : p.stage, inRoom: true }));
    } catch (error) {
      update(given.room, (p) => ({ ...p, stage: 'ended' }));
      note(given.room, `Could not join the room: ${message(error)}`);
    }
  };

  const end = async (panel: Panel, block: boolean): Promise<void> => {
    if (block) await blockRoom(auth, panel.room);
    else await endRoom(auth, panel.room);
    await connection.leave(panel.room).catch(() => undefined);
    update(panel.room, (p) => ({ ...p, stage: 'ended', inRoom: false }));
    note(panel.room, block ? 'You blocked this client and ended the chat.' : 'You ended the chat.');
  };

  const close = async (panel: Panel): Promise<void> => {
    if (panel.inRoom) {
      // The client left: the room is closed on porter's side too, then left cleanly.
      await endRoom(auth, panel.room).catch(() => undefined);
      await connection.leave(panel.room).catch(() => undefined);
    }
    setPanels((list) => list.filter((p) => p.room !== panel.room));
  };

  return (
    <section className="page page-wide helpline">
      <div className="hl-bar">
        <h1>Helpline staff</h1>
        <p>
          Logged in as <strong>{auth.id}</strong>.{' '}
          <button type="button" onClick={() => void logOut()}>
            Log out
          </button>
        </p>
      </div>
      {lost && (
        <p className="problem" role="alert">
          {lost}
        </p>
      )}
      <Available onAvailable={available} disabled={lost !== undefined} />
      <section aria-labelledby="hl-chats" className="hl-chats-section">
        <h2 id="hl-chats">Chats</h2>
        {panels.length === 0 && <p className="quiet">No chats. Go available to take the next client.</p>}
        <div className="hl-panels">
          {panels.map((panel) => (
            <ChatPanel
              key={panel.room}
              panel={panel}
              me={auth.id}
              onSend={(text) => connection.say(panel.room, text)}
              onEnd={(block) => end(panel, block)}
              onClose={() => close(panel)}
            />
          ))}
        </div>
      </section>
      <Reports auth={auth} panels={panels} />
    </section>
  );
}

function LoginForm({ api, onLogIn }: { api: string; onLogIn: (credentials: Credentials) => Promise<void> }) {
  const stored = storedCredentials(api);
  const [chat, setChat] = useState<ChatReach>();
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [fields, setFields] = useState<Credentials>(stored ?? { id: '', token: '', account: '', password: '' });
  const tried = useRef(false);

  const submit = useCallback(
    async (credentials: Credentials) => {
      setBusy(true);
      setProblem(undefined);
      try {
        await onLogIn({ ...credentials, account: credentials.account || credentials.id });
      } catch (error) {
        setProblem(message(error));
        setBusy(false);
      }
    },
    [onLogIn],
  );

  useEffect(() => {
    const controller = new AbortController();
    fetchInfo(api, controller.signal).then(
      (info) => setChat(info.chat),
      () => undefined,
    );
    return () => controller.abort();
  }, [api]);

  // A reload in the same tab logs in again with what this tab kept.
  useEffect(() => {
    if (stored && !tried.current) {
      tried.current = true;
      void submit(stored);
    }
  }, [stored, submit]);

  const set = (key: keyof Credentials) => (event: { target: { value: string } }) => setFields((f) => ({ ...f, [key]: event.target.value }));
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    void submit(fields);
  };
  const xmpp = chat?.kind === 'xmpp';

  return (
    <section className="page helpline">
      <h1>Helpline staff</h1>
      <p>
        Log in twice in one go: to the helpline with your staff id and API token (the helpline&rsquo;s <code>staff.ID.token</code>), and to
        the chat with your chat account, where you meet clients.{' '}
        {xmpp
          ? 'This helpline is on XMPP: your chat account is your XMPP address (such as ada@example.org) and its password.'
          : chat?.kind === 'webchat'
            ? 'This helpline is on porter’s web chat: your chat account is your staff user name there and its password.'
            : 'On porter’s web chat, your chat account is your staff user name there; on XMPP, your XMPP address.'}{' '}
        What you enter stays in this browser tab only.
      </p>
      <form className="hl-login" onSubmit={onSubmit} aria-label="Log in">
        <label>
          Staff id
          <input value={fields.id} onChange={set('id')} required autoComplete="username" />
        </label>
        <label>
          API token
          <input type="password" value={fields.token} onChange={set('token')} required autoComplete="off" />
        </label>
        <label>
          Chat account
          <input
            value={fields.account}
            onChange={set('account')}
            placeholder={xmpp ? 'ada@example.org' : 'the staff id when empty'}
            autoComplete="off"
          />
        </label>
        <label>
          Chat password
          <input type="password" value={fields.password} onChange={set('password')} required autoComplete="current-password" />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
    </section>
  );
}

function Available({ onAvailable, disabled }: { onAvailable: () => Promise<void>; disabled: boolean }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const click = () => {
    setBusy(true);
    setProblem(undefined);
    onAvailable().then(
      () => setBusy(false),
      (error: unknown) => {
        setBusy(false);
        if (error instanceof HelplineError && error.status === 409) setProblem('You hold as many chats as you may. End one first.');
        else if (error instanceof HelplineError && error.status === 503) setProblem('No room is ready yet. Try again in a moment.');
        else setProblem(`Could not go available: ${message(error)}`);
      },
    );
  };
  return (
    <div className="hl-available">
      <button type="button" className="hl-primary" onClick={click} disabled={busy || disabled}>
        Go available
      </button>
      <span className="quiet"> Each click opens one more room; porter sends the next waiting client into it.</span>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}

interface ChatPanelProps {
  readonly panel: Panel;
  readonly me: string;
  readonly onSend: (text: string) => Promise<void>;
  readonly onEnd: (block: boolean) => Promise<void>;
  readonly onClose: () => Promise<void>;
}

function ChatPanel({ panel, me, onSend, onEnd, onClose }: ChatPanelProps) {
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const run = (action: () => Promise<void>) => {
    setBusy(true);
    setProblem(undefined);
    action().then(
      () => setBusy(false),
      (error: unknown) => {
        setBusy(false);
        setProblem(message(error));
      },
    );
  };
  const status =
    panel.stage === 'joining'
      ? 'Joining the room…'
      : panel.stage === 'waiting'
        ? 'Waiting for a client'
        : panel.stage === 'chatting'
          ? `Chatting with ${panel.client ?? 'a client'}`
          : 'Ended';
  return (
    <section className="hl-panel" aria-label={`Chat ${panel.number}`} data-room={panel.room} data-stage={panel.stage}>
      <h3>
        Chat {panel.number} <span className="hl-stage">{status}</span>
      </h3>
      <ChatLog entries={panel.entries} closed={panel.stage !== 'chatting'} me={me} onSend={onSend} />
      <div className="hl-actions">
        {panel.stage !== 'ended' ? (
          <>
            <button type="button" disabled={busy} onClick={() => run(() => onEnd(false))}>
              End
            </button>
            {panel.stage === 'chatting' && (
              <button type="button" className="hl-danger" disabled={busy} onClick={() => run(() => onEnd(true))}>
                Block
              </button>
            )}
          </>
        ) : (
          <button type="button" disabled={busy} onClick={() => run(onClose)}>
            Close
          </button>
        )}
      </div>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
    </section>
  );
}

/** The queue, the rooms held on porter's side, the transcripts and the statistics, read again every few seconds. */
function Reports({ auth, panels }: { auth: StaffAuth; panels: readonly Panel[] }) {
  const [view, setView] = useState<StaffAnswer>();
  const [conversations, setConversations] = useState<readonly Conversation[]>([]);
  const [stats, setStats] = useState<Stats>();
  const [problem, setProblem] = useState<string>();
  const [reading, setReading] = useState<string>();
  const [round, setRound] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        setView(await fetchStaffView(auth, controller.signal));
        setProblem(undefined);
      } catch (error) {
        if (!controller.signal.aborted) setProblem(`The queue could not be read: ${message(error)}`);
      }
      if (!controller.signal.aborted) timer = setTimeout(tick, QUEUE_REFRESH_MS);
    };
    void tick();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [auth]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `round` asks for a read now (after a chat ends).
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const [list, numbers] = await Promise.all([fetchConversations(auth, controller.signal), fetchStats(auth, controller.signal)]);
        setConversations(list);
        setStats(numbers);
      } catch (error) {
        if (!controller.signal.aborted) setProblem(`The reports could not be read: ${message(error)}`);
      }
      if (!controller.signal.aborted) timer = setTimeout(tick, REPORTS_REFRESH_MS);
    };
    void tick();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [auth, round]);

  // A chat that ends shows in the transcripts and statistics at once.
  const endedCount = panels.filter((p) => p.stage === 'ended').length;
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-read when the number of ended chats changes.
  useEffect(() => setRound((n) => n + 1), [endedCount]);

  const open = new Set(panels.map((p) => p.room));
  const held = (view?.rooms ?? []).filter((r) => !open.has(r.room));

  return (
    <>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      <div className="hl-reports">
        <section aria-labelledby="hl-queue">
          <h2 id="hl-queue">Queue</h2>
          {view && view.queue.length === 0 && <p className="quiet">No one is waiting.</p>}
          {view && view.queue.length > 0 && (
            <table className="hl-table" aria-labelledby="hl-queue">
              <thead>
                <tr>
                  <th scope="col">Position</th>
                  <th scope="col">Waiting</th>
                </tr>
              </thead>
              <tbody>
                {view.queue.map((q) => (
                  <tr key={q.position}>
                    <td>{q.position}</td>
                    <td>{formatSeconds(q.waitingSeconds)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {held.length > 0 && (
            <>
              <h3>Your other rooms</h3>
              <p className="quiet">Rooms porter still holds for you that this page is not in (from before a reload).</p>
              <ul className="hl-held">
                {held.map((r) => (
                  <li key={r.room}>
                    <code>{r.room}</code> {r.state}{' '}
                    <button type="button" onClick={() => void endRoom(auth, r.room).catch((e: unknown) => setProblem(message(e)))}>
                      End
                    </button>
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
        <StatsView stats={stats} />
      </div>
      <section aria-labelledby="hl-transcripts">
        <h2 id="hl-transcripts">Transcripts</h2>
        {conversations.length === 0 ? (
          <p className="quiet">No conversations yet.</p>
        ) : (
          <table className="hl-table" aria-labelledby="hl-transcripts">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Staff</th>
                <th scope="col">Length</th>
                <th scope="col">Room</th>
              </tr>
            </thead>
            <tbody>
              {conversations.map((c) => (
                <tr key={c.room} data-room={c.room}>
                  <td>{new Date(c.started).toLocaleString()}</td>
                  <td>{c.staff}</td>
                  <td>{c.ended === undefined ? 'going on' : formatSeconds((c.ended - c.started) / 1000)}</td>
                  <td>
                    <button type="button" onClick={() => setReading(c.room)} aria-pressed={reading === c.room}>
                      Read {c.room}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {reading && <TranscriptView auth={auth} room={reading} round={round} />}
      </section>
    </>
  );
}

function StatsView({ stats }: { stats: Stats | undefined }) {
  return (
    <section aria-labelledby="hl-stats">
      <h2 id="hl-stats">Statistics</h2>
      {!stats ? (
        <p className="quiet">Loading…</p>
      ) : (
        <>
          <dl className="hl-stats">
            <dt>Clients served</dt>
            <dd data-stat="clients">{stats.clients}</dd>
            <dt>Wait (mean · median · longest)</dt>
            <dd data-stat="wait">
              {formatSeconds(stats.waitSeconds.mean)} · {formatSeconds(stats.waitSeconds.p50)} · {formatSeconds(stats.waitSeconds.max)}
            </dd>
            <dt>Waited 15 s or more</dt>
            <dd data-stat="waited15s">{formatShare(stats.waited15sShare)}</dd>
            <dt>Chats ended</dt>
            <dd data-stat="chats">{stats.chats}</dd>
            <dt>Chat length (mean · median · longest)</dt>
            <dd data-stat="chat-length">
              {formatSeconds(stats.chatSeconds.mean)} · {formatSeconds(stats.chatSeconds.p50)} · {formatSeconds(stats.chatSeconds.max)}
            </dd>
          </dl>
          {stats.waits.length > 0 && (
            <details>
              <summary>Each client’s wait</summary>
              <ol className="hl-waits" aria-label="Waits">
                {stats.waits.slice(0, 50).map((w) => (
                  <li key={`${w.paired}-${w.seconds}`}>
                    {new Date(w.paired).toLocaleString()}: {formatSeconds(w.seconds)}
                  </li>
                ))}
              </ol>
            </details>
          )}
        </>
      )}
    </section>
  );
}

function TranscriptView({ auth, room, round }: { auth: StaffAuth; room: string; round: number }) {
  const [transcript, setTranscript] = useState<Transcript>();
  const [problem, setProblem] = useState<string>();
  // biome-ignore lint/correctness/useExhaustiveDependencies: `round` re-reads after a chat ends.
  useEffect(() => {
    const controller = new AbortController();
    fetchTranscript(auth, room, controller.signal).then(
      (t) => {
        setTranscript(t);
        setProblem(undefined);
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setProblem(message(error));
      },
    );
    return () => controller.abort();
  }, [auth, room, round]);
  return (
    <section className="hl-transcript" aria-label="Transcript" data-room={room}>
      <h3>
        Transcript of <code>{room}</code>
      </h3>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      {transcript && transcript.room === room && (
        <div className="hl-transcript-body">
          <ol className="hl-lines" aria-label="Messages">
            {transcript.messages.length === 0 && <li className="quiet">No messages.</li>}
            {transcript.messages.map((m, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the transcript is read whole and never reordered.
              <li key={i} className={m.author === 'staff' ? 'hl-line hl-mine' : 'hl-line'}>
                <time dateTime={new Date(m.at).toISOString()}>{new Date(m.at).toLocaleTimeString()}</time>{' '}
                <strong>{m.author === 'staff' ? transcript.staff : 'client'}</strong>
                <span className="hl-hidden">:</span> <span className="hl-text">{m.body ?? <em>erased</em>}</span>
              </li>
            ))}
          </ol>
          <ol className="hl-states" aria-label="Room states">
            {transcript.states.map((s, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: as above.
              <li key={i}>
                <time dateTime={new Date(s.at).toISOString()}>{new Date(s.at).toLocaleTimeString()}</time> {s.from} → {s.to}
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}
